import { useState } from 'react';
import { PRESETS, resolveRange, toLocalInput, type RangeSpec } from '../model/time-range';

/** Relative presets or an absolute from/to (local time); keyboard-usable native controls. */
export function TimeRangePicker({
  value,
  onChange,
  label = 'Time range',
  idPrefix = 'range',
}: {
  value: RangeSpec;
  onChange: (r: RangeSpec) => void;
  label?: string;
  idPrefix?: string;
}) {
  const preset = PRESETS.find((p) => p.from === value.from && value.to === 'now');
  const [custom, setCustom] = useState(!preset);
  const resolved = resolveRange(value, Date.now());
  const [from, setFrom] = useState(() => ('error' in resolved ? '' : toLocalInput(resolved.startMs)));
  const [to, setTo] = useState(() => ('error' in resolved ? '' : toLocalInput(resolved.endMs)));
  const [error, setError] = useState<string>();

  const apply = (): void => {
    const f = Date.parse(from);
    const t = Date.parse(to);
    if (Number.isNaN(f) || Number.isNaN(t)) return setError('Enter both times.');
    if (t <= f) return setError('The end must be after the start.');
    setError(undefined);
    onChange({ from: String(f), to: String(t) });
  };

  return (
    <div className="range-picker" role="group" aria-label={label}>
      <select
        id={`${idPrefix}-preset`}
        aria-label={label}
        value={custom ? 'custom' : (preset?.from ?? 'custom')}
        onChange={(e) => {
          if (e.target.value === 'custom') {
            const r = resolveRange(value, Date.now());
            if (!('error' in r)) {
              setFrom(toLocalInput(r.startMs));
              setTo(toLocalInput(r.endMs));
            }
            setCustom(true);
          } else {
            setCustom(false);
            onChange({ from: e.target.value, to: 'now' });
          }
        }}
      >
        {PRESETS.map((p) => (
          <option key={p.from} value={p.from}>
            {p.label}
          </option>
        ))}
        <option value="custom">Absolute range…</option>
      </select>
      {custom && (
        <>
          <input type="datetime-local" step={1} aria-label="From" value={from} onChange={(e) => setFrom(e.target.value)} />
          <span aria-hidden="true">→</span>
          <input type="datetime-local" step={1} aria-label="To" value={to} onChange={(e) => setTo(e.target.value)} />
          <button type="button" onClick={apply}>
            Apply
          </button>
          {error && (
            <span className="error" role="alert">
              {error}
            </span>
          )}
        </>
      )}
    </div>
  );
}

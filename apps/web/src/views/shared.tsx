import { useCallback, useState } from 'react';
import type { Range } from '../api/client';
import { useApp, useAsync } from '../hooks';
import type { Flame } from '../model/flame';
import { describeProfileType, normalizeSelector, preferredProfileType } from '../model/selector';
import { freeze, resolveRange, type RangeSpec } from '../model/time-range';
import { formatState, type ViewState } from '../model/url-state';

export type Resolved = Range | { error: string };

/** Resolves a range against "now" (re-read on refresh, so relative ranges move forward). */
export function useResolved(r: RangeSpec, now: number): Resolved {
  return resolveRange(r, now);
}

export const rangeKey = (r: Resolved): string => ('error' in r ? 'bad' : `${r.startMs}-${r.endMs}`);

/** Profile types seen in the range; the chosen one, or the agent's CPU type by default. */
export function useProfileTypes(
  range: Resolved,
  wanted: string,
): { types: string[]; type: string; loading: boolean; error?: ReturnType<typeof useAsync>['error'] } {
  const { api } = useApp();
  const week = 'error' in range ? undefined : { startMs: Math.min(range.startMs, Date.now() - 7 * 86_400_000), endMs: Math.max(range.endMs, Date.now()) };
  const res = useAsync(week ? `types:${Math.floor(week.startMs / 60_000)}` : undefined, (s) => api.profileTypes(week as Range, s));
  const types = res.data ?? [];
  return { types, type: wanted || preferredProfileType(types) || '', loading: res.loading, error: res.error };
}

export async function loadFlame(fetchReport: () => Promise<import('../api/client').FlameReport>, diff: boolean): Promise<Flame> {
  const [report, mod] = await Promise.all([fetchReport(), import('../api/flame-arrow')]);
  const f = mod.decodeFlame(report, diff);
  performance.mark('firn:flame-decoded', { detail: { nodes: f.n } });
  return f;
}

export function ProfileTypePicker({ types, value, onChange }: { types: string[]; value: string; onChange: (t: string) => void }) {
  const all = value && !types.includes(value) ? [value, ...types] : types;
  return (
    <select className="type-picker" aria-label="Profile type" value={value} onChange={(e) => onChange(e.target.value)} disabled={all.length === 0}>
      {all.length === 0 && <option value="">No profile types yet</option>}
      {all.map((t) => (
        <option key={t} value={t} title={t}>
          {describeProfileType(t)}
        </option>
      ))}
    </select>
  );
}

/** "Copy link": the state with the range frozen to absolute times, so the link shows the same data later. */
export function ShareButton({ state }: { state: ViewState }) {
  const [link, setLink] = useState<string>();
  const [copied, setCopied] = useState(false);
  const make = useCallback(async () => {
    const now = Date.now();
    const frozen: ViewState =
      state.view === 'explore'
        ? { ...state, range: freeze(state.range, now) }
        : { ...state, a: { ...state.a, range: freeze(state.a.range, now) }, b: { ...state.b, range: freeze(state.b.range, now) } };
    const url = window.location.origin + formatState(frozen);
    setLink(url);
    try {
      await navigator.clipboard.writeText(url);
      setCopied(true);
    } catch {
      setCopied(false); // not a secure context: the link is shown to copy by hand
    }
  }, [state]);
  return (
    <span className="share">
      <button type="button" onClick={() => void make()}>
        Copy link
      </button>
      {link && (
        <input
          className="mono share-link"
          data-testid="share-link"
          aria-label="Link to this view"
          readOnly
          value={link}
          onFocus={(e) => e.currentTarget.select()}
        />
      )}
      {link && (
        <span className="muted" role="status">
          {copied ? 'copied' : 'copy it from the box'}
        </span>
      )}
    </span>
  );
}

export { normalizeSelector };

import { useCallback, useEffect, useState } from 'react';
import type { Range } from '../api/client';
import { ErrorBox, Empty, Loading } from '../components/messages';
import { ProfilePanel } from '../components/profile-panel';
import { SelectorInput } from '../components/selector-input';
import { TimeRangePicker } from '../components/time-range-picker';
import { useApp, useAsync } from '../hooks';
import { formatValue } from '../model/format';
import type { CompareState, ViewState } from '../model/url-state';
import { ProfileTypePicker, ShareButton, loadFlame, normalizeSelector, rangeKey, useProfileTypes, useResolved } from './shared';

interface Props {
  state: CompareState;
  setState: (s: ViewState, push?: boolean) => void;
}

type Side = 'a' | 'b';

/** Compare: two selections (ranges and/or labels) as one diff-coloured graph or side by side. */
export default function CompareView({ state, setState }: Props) {
  const { api } = useApp();
  const [now, setNow] = useState(Date.now);
  const [runs, setRuns] = useState(0);
  const ra = useResolved(state.a.range, now);
  const rb = useResolved(state.b.range, now);
  const types = useProfileTypes(ra, state.type);
  const type = types.type;
  const qa = `${type}${normalizeSelector(state.a.query)}`;
  const qb = `${type}${normalizeSelector(state.b.query)}`;
  const ok = type && !('error' in ra) && !('error' in rb);
  const A = ra as Range;
  const B = rb as Range;
  const base = ok ? `${qa}@${rangeKey(ra)}|${qb}@${rangeKey(rb)}#${runs}` : undefined;

  const diff = useAsync(ok && state.mode === 'diff' ? `${base}|abs=${state.absolute}` : undefined, (s) =>
    loadFlame(() => api.diff({ query: qa, range: A }, { query: qb, range: B }, state.absolute, s), true),
  );
  const left = useAsync(ok && state.mode === 'side' ? `${qa}@${rangeKey(ra)}#${runs}` : undefined, (s) => loadFlame(() => api.flamegraph(qa, A, s), false));
  const right = useAsync(ok && state.mode === 'side' ? `${qb}@${rangeKey(rb)}#${runs}` : undefined, (s) => loadFlame(() => api.flamegraph(qb, B, s), false));

  const update = useCallback((patch: Partial<CompareState>, push = false) => setState({ ...state, ...patch }, push), [state, setState]);
  const onSearch = useCallback((s: string) => update({ search: s }), [update]);
  const onFocusPath = useCallback((p: string[]) => update({ focus: p }, true), [update]);

  const [drafts, setDrafts] = useState({ a: state.a.query, b: state.b.query });
  useEffect(() => setDrafts({ a: state.a.query, b: state.b.query }), [state.a.query, state.b.query]);
  const run = (): void => {
    update({ a: { ...state.a, query: normalizeSelector(drafts.a) }, b: { ...state.b, query: normalizeSelector(drafts.b) }, focus: [] }, true);
    setNow(Date.now());
    setRuns((n) => n + 1);
  };
  const selectionRow = (side: Side) => {
    const rng = side === 'a' ? ra : rb;
    const r = 'error' in rng ? undefined : rng;
    return (
      <div className="side-row" key={side}>
        <span className={`side-tag ${side}`}>{side === 'a' ? 'A · baseline' : 'B · comparison'}</span>
        <SelectorInput
          label={side === 'a' ? 'Baseline label selector' : 'Comparison label selector'}
          value={drafts[side]}
          onChange={(v) => setDrafts((d) => ({ ...d, [side]: v }))}
          onSubmit={run}
          labelNames={(s) => (r ? api.labelNames(type, '{}', r, s) : Promise.resolve([]))}
          labelValues={(n, sel, s) => (r ? api.labelValues(type, n, sel, r, s) : Promise.resolve([]))}
        />
        <TimeRangePicker
          idPrefix={`range-${side}`}
          label={side === 'a' ? 'Baseline time range' : 'Comparison time range'}
          value={state[side].range}
          onChange={(rg) => {
            update({ [side]: { ...state[side], range: rg }, focus: [] } as Partial<CompareState>, true);
            setNow(Date.now());
          }}
        />
        {'error' in rng && <span className="error">{rng.error}</span>}
      </div>
    );
  };

  const panel = (res: typeof diff, title: string, testId: string) =>
    res.error ? (
      <ErrorBox error={res.error} retry={res.reload} />
    ) : !res.data ? (
      <Loading what={title} />
    ) : res.data.n <= 1 ? (
      <Empty>No samples for {title} in its range.</Empty>
    ) : (
      <div data-testid={testId} aria-busy={res.loading}>
        <ProfilePanel
          flame={res.data}
          title={title}
          focusPath={state.focus}
          onFocusPath={onFocusPath}
          searchText={state.search}
          onSearch={onSearch}
          tab={state.mode === 'diff' ? 'both' : 'graph'}
        />
      </div>
    );

  return (
    <div className="view">
      <form
        className="querybar compare"
        onSubmit={(e) => {
          e.preventDefault();
          run();
        }}
      >
        <div className="side-rows">
          <div className="side-row">
            <span className="side-tag">Profile</span>
            <ProfileTypePicker types={types.types} value={type} onChange={(t) => update({ type: t, focus: [] }, true)} />
            <div className="seg" role="group" aria-label="Comparison mode">
              <button
                type="button"
                aria-pressed={state.mode === 'diff'}
                className={state.mode === 'diff' ? 'on' : undefined}
                onClick={() => update({ mode: 'diff' }, true)}
              >
                Diff graph
              </button>
              <button
                type="button"
                aria-pressed={state.mode === 'side'}
                className={state.mode === 'side' ? 'on' : undefined}
                onClick={() => update({ mode: 'side' }, true)}
              >
                Side by side
              </button>
            </div>
            {state.mode === 'diff' && (
              <label className="check" title="Off: the smaller side is scaled to the other's total first, so the colours show relative shifts. On: raw values.">
                <input type="checkbox" checked={state.absolute} onChange={(e) => update({ absolute: e.target.checked }, true)} /> Absolute values
              </label>
            )}
            <span className="spacer" />
            <ShareButton state={state} />
            <button type="submit" className="primary">
              Compare
            </button>
          </div>
          {selectionRow('a')}
          {selectionRow('b')}
        </div>
      </form>
      {types.error && <ErrorBox error={types.error} />}
      {state.mode === 'diff' ? (
        <>
          <p className="legend">
            <span className="swatch worse" /> more in B <span className="swatch better" /> less in B <span className="swatch same" /> unchanged.{' '}
            {state.absolute ? 'Raw values.' : 'A is scaled to B’s total first, so colours show shares that moved.'}
            {diff.data && <span className="muted"> B total {formatValue(diff.data.profileTotal, diff.data.unit)}.</span>}
          </p>
          {panel(diff, `Diff of ${qb} against ${qa}`, 'diff')}
        </>
      ) : (
        <div className="side-by-side">
          {panel(left, `A: ${qa}`, 'side-a')}
          {panel(right, `B: ${qb}`, 'side-b')}
        </div>
      )}
    </div>
  );
}

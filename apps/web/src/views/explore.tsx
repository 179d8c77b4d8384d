import { useCallback, useEffect, useState } from 'react';
import { ErrorBox, Empty, Loading } from '../components/messages';
import { ProfilePanel } from '../components/profile-panel';
import { SelectorInput } from '../components/selector-input';
import { SeriesChart } from '../components/series-chart';
import { TimeRangePicker } from '../components/time-range-picker';
import { useApp, useAsync } from '../hooks';
import { shapeSeries } from '../model/series';
import { isRelative } from '../model/time-range';
import type { ExploreState, ExploreTab, ViewState } from '../model/url-state';
import { ProfileTypePicker, ShareButton, loadFlame, normalizeSelector, rangeKey, useProfileTypes, useResolved } from './shared';

interface Props {
  state: ExploreState;
  setState: (s: ViewState, push?: boolean) => void;
}

/** Explore: pick a profile type, labels and a range; see CPU over time, the flame graph and the top functions. */
export default function ExploreView({ state, setState }: Props) {
  const { api, dark } = useApp();
  const [now, setNow] = useState(Date.now);
  // Run/Refresh always queries again, also for an unchanged absolute range.
  const [run, setRun] = useState(0);
  const again = (): void => {
    setNow(Date.now());
    setRun((n) => n + 1);
  };
  const [draft, setDraft] = useState(state.query);
  useEffect(() => setDraft(state.query), [state.query]);
  const range = useResolved(state.range, now);
  const types = useProfileTypes(range, state.type);
  const type = types.type;
  const query = `${type}${normalizeSelector(state.query)}`;
  const key = type && !('error' in range) ? `${query}@${rangeKey(range)}#${run}` : undefined;
  const r = 'error' in range ? undefined : range;

  const flame = useAsync(key, (s) => loadFlame(() => api.flamegraph(query, r as NonNullable<typeof r>, s), false));
  const series = useAsync(key && `${key}/${state.groupBy}`, async (s) =>
    shapeSeries(await api.series(query, r as NonNullable<typeof r>, state.groupBy ? [state.groupBy] : [], 240, s), state.groupBy),
  );
  const groupNames = useAsync(type && r ? `names:${type}:${rangeKey(range)}` : undefined, (s) => api.labelNames(type, '{}', r as NonNullable<typeof r>, s));

  const empty = flame.data !== undefined && (flame.data.n <= 1 || flame.data.total[0] <= 0);
  const noTypes = !types.loading && !types.error && types.types.length === 0;
  // Nothing yet (e.g. the local agent's first flush is seconds away): look again every 5 s.
  useEffect(() => {
    if (!(empty || noTypes) || !isRelative(state.range)) return;
    const t = setTimeout(() => setNow(Date.now()), 5000);
    return () => clearTimeout(t);
  }, [empty, noTypes, state.range, now]);

  const update = useCallback((patch: Partial<ExploreState>, push = false) => setState({ ...state, ...patch }, push), [state, setState]);
  const submit = (text: string): void => {
    update({ query: normalizeSelector(text), focus: [] }, true);
    again();
  };
  const onSearch = useCallback((s: string) => update({ search: s }), [update]);
  const onFocusPath = useCallback((p: string[]) => update({ focus: p }, true), [update]);
  const onTab = useCallback((t: ExploreTab) => update({ tab: t }, true), [update]);
  const onSandwich = useCallback((name: string) => update({ tab: 'sandwich', sandwich: name }, true), [update]);

  const [downloading, setDownloading] = useState<string>();
  const download = async (): Promise<void> => {
    if (!r) return;
    setDownloading('Preparing pprof…');
    try {
      const bytes = await api.pprof(query, r);
      const url = URL.createObjectURL(new Blob([bytes as Uint8Array<ArrayBuffer>], { type: 'application/octet-stream' }));
      const a = document.createElement('a');
      a.href = url;
      a.download = `firn-${type.split(':')[0]}-${r.startMs}-${r.endMs}.pb.gz`;
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
      setDownloading(undefined);
    } catch (err) {
      setDownloading(`Download failed: ${err instanceof Error ? err.message : String(err)}`);
    }
  };

  const labelNames = useCallback((s: AbortSignal) => (r ? api.labelNames(type, '{}', r, s) : Promise.resolve([])), [api, type, r?.startMs, r?.endMs]);
  const labelValues = useCallback(
    (name: string, sel: string, s: AbortSignal) => (r ? api.labelValues(type, name, sel, r, s) : Promise.resolve([])),
    [api, type, r?.startMs, r?.endMs],
  );

  return (
    <div className="view">
      <form
        className="querybar"
        onSubmit={(e) => {
          e.preventDefault();
          submit(draft);
        }}
      >
        <ProfileTypePicker types={types.types} value={type} onChange={(t) => update({ type: t, focus: [] }, true)} />
        <SelectorInput value={draft} onChange={setDraft} onSubmit={submit} labelNames={labelNames} labelValues={labelValues} />
        <TimeRangePicker
          value={state.range}
          onChange={(rg) => {
            update({ range: rg, focus: [] }, true);
            again();
          }}
        />
        <button type="submit" className="primary">
          {isRelative(state.range) ? 'Refresh' : 'Run'}
        </button>
      </form>
      {'error' in range && <ErrorBox error={{ kind: 'input', message: range.error }} />}
      {types.error && <ErrorBox error={types.error} />}
      <section className="card series-card" aria-label="CPU over time">
        <div className="series-head">
          <h2>{type ? `${type.split(':')[0]} over time` : 'Over time'}</h2>
          <label>
            Group by{' '}
            <select aria-label="Group by label" value={state.groupBy} onChange={(e) => update({ groupBy: e.target.value })}>
              <option value="">(sum)</option>
              {(groupNames.data ?? []).map((n) => (
                <option key={n} value={n}>
                  {n}
                </option>
              ))}
            </select>
          </label>
          <span className="muted">Drag across the chart to choose the range of the flame graph.</span>
        </div>
        {series.error ? (
          <ErrorBox error={series.error} retry={series.reload} />
        ) : series.data && r ? (
          <SeriesChart
            series={series.data}
            range={r}
            dark={dark}
            sampleUnit={type.split(':')[2] ?? ''}
            onSelect={(a, b) => update({ range: { from: String(a), to: String(b) }, focus: [] }, true)}
          />
        ) : (
          <Loading what="the series" />
        )}
      </section>
      {noTypes ? (
        <Empty>
          No profiles yet in this tenant. The local agent sends every 10 s (<code>npm start</code> runs one); this page looks again every 5 seconds.
        </Empty>
      ) : flame.error ? (
        <ErrorBox error={flame.error} retry={flame.reload} />
      ) : !flame.data ? (
        <Loading what="the flame graph" />
      ) : empty ? (
        <Empty>
          No samples match <code className="mono">{query}</code> in this range. Widen the time range or remove a label matcher
          {isRelative(state.range) ? '; this page looks again every 5 seconds' : ''}.
        </Empty>
      ) : (
        <div aria-busy={flame.loading}>
          <ProfilePanel
            flame={flame.data}
            title={`Flame graph of ${query}`}
            focusPath={state.focus}
            onFocusPath={onFocusPath}
            searchText={state.search}
            onSearch={onSearch}
            tab={state.tab}
            onTab={onTab}
            sandwichName={state.sandwich}
            onSandwich={onSandwich}
            actions={
              <>
                <button type="button" onClick={() => void download()}>
                  Download pprof
                </button>
                {downloading && (
                  <span className="muted" role="status">
                    {downloading}
                  </span>
                )}
                <ShareButton state={state} />
              </>
            }
          />
        </div>
      )}
    </div>
  );
}

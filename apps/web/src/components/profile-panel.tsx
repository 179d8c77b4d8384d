import { useCallback, useEffect, useMemo, useState } from 'react';
import { useApp, useDebounced } from '../hooks';
import { nodeByPath, pathOf, search, type Flame } from '../model/flame';
import { formatValue, percent } from '../model/format';
import { sandwich } from '../model/sandwich';
import { topTable, type TopRow } from '../model/table';
import type { ExploreTab } from '../model/url-state';
import { FlameGraph, NodeDetails } from './flame-graph';
import { TopTable } from './top-table';

interface Props {
  flame: Flame;
  focusPath: string[];
  onFocusPath: (p: string[]) => void;
  searchText: string;
  onSearch: (s: string) => void;
  tab: ExploreTab;
  onTab?: (t: ExploreTab) => void;
  sandwichName?: string;
  onSandwich?: (name: string) => void;
  /** Buttons for the toolbar (share link, download). */
  actions?: React.ReactNode;
  title: string;
}

/** Flame graph + top table + sandwich of one profile, with search and zoom; used by both views. */
export function ProfilePanel({ flame, focusPath, onFocusPath, searchText, onSearch, tab, onTab, sandwichName, onSandwich, actions, title }: Props) {
  const { dark } = useApp();
  const [draft, setDraft] = useState(searchText);
  useEffect(() => setDraft(searchText), [searchText]);
  const debounced = useDebounced(draft, 250);
  useEffect(() => {
    if (debounced !== searchText) onSearch(debounced);
  }, [debounced, searchText, onSearch]);

  const focus = useMemo(() => Math.max(0, nodeByPath(flame, focusPath)), [flame, focusPath]);
  const lostFocus = focusPath.length > 0 && nodeByPath(flame, focusPath) < 0;
  const [selected, setSelected] = useState(focus);
  // New data: select the zoomed frame (frame indexes of the old data mean nothing now).
  useEffect(() => setSelected(Math.max(0, nodeByPath(flame, focusPath))), [flame]);
  const focusNode = useCallback(
    (n: number): void => {
      setSelected(n); // in the same render as the zoom, so the next key press sees both
      onFocusPath(pathOf(flame, n));
    },
    [flame, onFocusPath],
  );
  const matches = useMemo(() => search(flame, searchText), [flame, searchText]);
  const rows = useMemo(() => topTable(flame), [flame]);
  const root = flame.total[0];
  const diff = flame.diff !== undefined;

  const pick = useCallback((r: TopRow): void => focusNode(r.biggest), [focusNode]);
  const sandwichOf = useMemo(() => (onSandwich ? (r: TopRow) => onSandwich(r.label) : undefined), [onSandwich]);
  const sw = useMemo(() => {
    if (tab !== 'sandwich' || !sandwichName) return undefined;
    const idx = flame.names.indexOf(sandwichName);
    return idx >= 0 ? sandwich(flame, idx) : undefined;
  }, [flame, tab, sandwichName]);

  const graph = (
    <FlameGraph
      flame={flame}
      focus={focus}
      onFocus={focusNode}
      selected={selected}
      onSelect={setSelected}
      highlight={matches?.matched}
      title={title}
      dark={dark}
      testId="flamegraph"
    />
  );
  const table = (
    <TopTable
      rows={rows}
      unit={flame.unit}
      total={root}
      diff={diff}
      selectedName={selected > 0 ? flame.name[selected] : undefined}
      onPick={pick}
      onSandwich={sandwichOf}
    />
  );

  return (
    <section className="panel" aria-label={title}>
      <div className="toolbar">
        <input
          type="search"
          className="search mono"
          aria-label="Search functions (regular expression)"
          placeholder="Search functions (regex)…"
          value={draft}
          onChange={(e) => setDraft(e.target.value)}
        />
        {matches && (
          <span className="match" role="status" data-testid="search-summary">
            {matches.count} frames match · {percent(matches.matchedTotal, root)} of total
          </span>
        )}
        <button type="button" onClick={() => focusNode(0)} disabled={focus === 0}>
          Reset zoom
        </button>
        {onTab && (
          <div className="seg" role="group" aria-label="Show">
            {(['both', 'graph', 'table', 'sandwich'] as const).map((t) => (
              <button key={t} type="button" aria-pressed={tab === t} className={tab === t ? 'on' : undefined} onClick={() => onTab(t)}>
                {t === 'both' ? 'Table + graph' : t === 'graph' ? 'Graph' : t === 'table' ? 'Table' : 'Sandwich'}
              </button>
            ))}
          </div>
        )}
        <span className="spacer" />
        {actions}
      </div>
      <div className="summary">
        <span>
          Total <strong data-testid="total">{formatValue(flame.profileTotal, flame.unit)}</strong>
        </span>
        {flame.trimmed > 0 && <span className="muted">· {percent(flame.trimmed, flame.profileTotal)} in frames too small to show (node limit)</span>}
        {lostFocus && <span className="notice">The zoomed frame ({focusPath.join(' › ')}) is not in this data; showing everything.</span>}
      </div>
      <div className="details" aria-live="polite" data-testid="details">
        {selected > 0 ? (
          <NodeDetails f={flame} node={selected} focus={focus} />
        ) : (
          <span className="muted">Hover a frame for details; click to zoom. Keyboard: focus the graph, arrows select, Enter zooms, Esc resets.</span>
        )}
      </div>
      {tab === 'sandwich' ? (
        sw ? (
          <div className="sandwich">
            <h3>
              Callers of <span className="mono">{sandwichName}</span>
            </h3>
            <FlameGraph
              flame={sw.callers}
              focus={0}
              onFocus={() => undefined}
              selected={-1}
              onSelect={() => undefined}
              inverted
              title={`Callers of ${sandwichName}`}
              dark={dark}
              testId="sandwich-callers"
            />
            <h3>
              Callees of <span className="mono">{sandwichName}</span>
            </h3>
            <FlameGraph
              flame={sw.callees}
              focus={0}
              onFocus={() => undefined}
              selected={-1}
              onSelect={() => undefined}
              title={`Callees of ${sandwichName}`}
              dark={dark}
              testId="sandwich-callees"
            />
          </div>
        ) : (
          <div className="split">
            <div className="state-msg empty">Pick a function in the table (its “sandwich” button, or the s key) to see its callers and callees.</div>
            {table}
          </div>
        )
      ) : tab === 'graph' ? (
        graph
      ) : tab === 'table' ? (
        table
      ) : (
        <div className="split">
          {table}
          {graph}
        </div>
      )}
    </section>
  );
}

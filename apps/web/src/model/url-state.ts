import type { RangeSpec } from './time-range';

export type ExploreTab = 'both' | 'graph' | 'table' | 'sandwich';

/** Everything a view shows, kept in the URL so a copied link reopens the same view. */
export interface ExploreState {
  view: 'explore';
  type: string;
  query: string;
  range: RangeSpec;
  groupBy: string;
  search: string;
  /** Names from the root's child down to the focused node. */
  focus: string[];
  tab: ExploreTab;
  /** Function shown in the sandwich tab. */
  sandwich: string;
}

export type CompareMode = 'diff' | 'side';

export interface CompareState {
  view: 'compare';
  type: string;
  a: { query: string; range: RangeSpec };
  b: { query: string; range: RangeSpec };
  mode: CompareMode;
  absolute: boolean;
  search: string;
  focus: string[];
}

export type ViewState = ExploreState | CompareState;

export const DEFAULT_RANGE: RangeSpec = { from: 'now-15m', to: 'now' };

const TABS: readonly ExploreTab[] = ['both', 'graph', 'table', 'sandwich'];

function focusOf(s: string | null): string[] {
  if (!s) return [];
  try {
    const v: unknown = JSON.parse(s);
    return Array.isArray(v) && v.every((x) => typeof x === 'string') ? v : [];
  } catch {
    return [];
  }
}

function range(p: URLSearchParams, prefix: string, fallback: RangeSpec): RangeSpec {
  return { from: p.get(`${prefix}from`) || fallback.from, to: p.get(`${prefix}to`) || fallback.to };
}

/** Reads the state from a location (path = view, query = the rest); unknown values fall back to defaults. */
export function parseState(pathname: string, search: string): ViewState {
  const p = new URLSearchParams(search);
  if (pathname.replace(/\/+$/, '') === '/compare') {
    const a = { query: p.get('aq') ?? '{}', range: range(p, 'a', { from: 'now-1h', to: 'now-30m' }) };
    return {
      view: 'compare',
      type: p.get('type') ?? '',
      a,
      b: { query: p.get('bq') ?? a.query, range: range(p, 'b', { from: 'now-30m', to: 'now' }) },
      mode: p.get('mode') === 'side' ? 'side' : 'diff',
      absolute: p.get('abs') === '1',
      search: p.get('search') ?? '',
      focus: focusOf(p.get('focus')),
    };
  }
  const tab = p.get('tab') as ExploreTab | null;
  return {
    view: 'explore',
    type: p.get('type') ?? '',
    query: p.get('q') ?? '{}',
    range: range(p, '', DEFAULT_RANGE),
    groupBy: p.get('groupBy') ?? '',
    search: p.get('search') ?? '',
    focus: focusOf(p.get('focus')),
    tab: tab && TABS.includes(tab) ? tab : 'both',
    sandwich: p.get('sandwich') ?? '',
  };
}

/** The path and query string for a state; empty and default values are left out. */
export function formatState(s: ViewState): string {
  const p = new URLSearchParams();
  const set = (k: string, v: string, dflt = ''): void => {
    if (v !== dflt) p.set(k, v);
  };
  set('type', s.type);
  if (s.view === 'compare') {
    set('aq', s.a.query, '{}');
    set('afrom', s.a.range.from);
    set('ato', s.a.range.to);
    set('bq', s.b.query, s.a.query);
    set('bfrom', s.b.range.from);
    set('bto', s.b.range.to);
    set('mode', s.mode, 'diff');
    set('abs', s.absolute ? '1' : '');
  } else {
    set('q', s.query, '{}');
    set('from', s.range.from, DEFAULT_RANGE.from);
    set('to', s.range.to, DEFAULT_RANGE.to);
    set('groupBy', s.groupBy);
    set('tab', s.tab, 'both');
    set('sandwich', s.sandwich);
  }
  set('search', s.search);
  if (s.focus.length) p.set('focus', JSON.stringify(s.focus));
  const qs = p.toString();
  return `/${s.view}${qs ? `?${qs}` : ''}`;
}

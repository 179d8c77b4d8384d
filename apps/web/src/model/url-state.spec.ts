import { describe, expect, it } from 'vitest';
import { freeze, resolveRange, resolveTime } from './time-range';
import { formatState, parseState, type CompareState, type ExploreState } from './url-state';

describe(parseState.name, () => {
  it('does round-trip an explore state through the URL', () => {
    const s: ExploreState = {
      view: 'explore',
      type: 'x:cpu:nanoseconds:cpu:nanoseconds',
      query: '{a="1,2"}',
      range: { from: '1700000000000', to: '1700000600000' },
      groupBy: 'pod',
      search: 'hot_.*',
      focus: ['main', 'work'],
      tab: 'table',
      sandwich: 'work',
    };
    const url = new URL(formatState(s), 'http://x');
    expect(parseState(url.pathname, url.search)).toEqual(s);
  });

  it('does round-trip a compare state', () => {
    const s: CompareState = {
      view: 'compare',
      type: 't',
      a: { query: '{v="1.2"}', range: { from: 'now-1h', to: 'now' } },
      b: { query: '{v="1.3"}', range: { from: 'now-1h', to: 'now' } },
      mode: 'side',
      absolute: true,
      search: '',
      focus: [],
    };
    const url = new URL(formatState(s), 'http://x');
    expect(parseState(url.pathname, url.search)).toEqual(s);
  });

  it('does fall back to defaults for junk', () => {
    const s = parseState('/whatever', '?tab=nope&focus=%7B');
    expect(s).toMatchObject({ view: 'explore', tab: 'both', focus: [], range: { from: 'now-15m', to: 'now' } });
  });
});

describe(resolveRange.name, () => {
  it('does read relative and absolute times', () => {
    expect(resolveTime('now-15m', 1_000_000_000)).toBe(1_000_000_000 - 900_000);
    expect(resolveRange({ from: 'now', to: 'now-1h' }, 5e9)).toEqual({ error: 'the end of the range must be after its start' });
    expect(resolveRange({ from: 'yesterday', to: 'now' }, 5e9)).toEqual({ error: 'cannot read the start time "yesterday"' });
    expect(freeze({ from: 'now-1h', to: 'now' }, 7_200_000)).toEqual({ from: '3600000', to: '7200000' });
  });
});

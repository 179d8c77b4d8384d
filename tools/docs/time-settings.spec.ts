import { describe, expect, it } from 'vitest';
import { loadConfig, type Setting } from '@firn/config';
import { querierConfig, querierOptionsFrom } from '@firn/querier';
import { symbolizerConfig, symbolizerOptionsFrom } from '@firn/symbolizer';
import { APP_CONFIGS } from './config-docs';

/** Every setting of every app, by env name (the all-in-one repeats the components' settings). */
const settings = new Map<string, Setting<unknown>>();
for (const def of Object.values(APP_CONFIGS)) for (const s of Object.values(def.settings)) settings.set(s.env, s);

/** What a bare number meant in each documented time setting, by the unit its name says. */
const BARE_UNIT: Array<[RegExp, number]> = [
  [/_MS$/, 1],
  [/_SECONDS$/, 1000],
  [/_HOURS$/, 3_600_000],
];

describe('time settings', () => {
  const named = [...settings.values()].filter((s) => BARE_UNIT.some(([re]) => re.test(s.env)));

  it('finds the documented time settings of every unit', () => {
    expect(named.length).toBeGreaterThan(15);
    for (const [re] of BARE_UNIT) expect(named.some((s) => re.test(s.env)), String(re)).toBe(true);
  });

  it.each(named.map((s) => [s.env, s] as const))('%s goes through the one duration type: a bare number keeps its documented unit, a duration string works too', (env, s) => {
    const unit = BARE_UNIT.find(([re]) => re.test(env))?.[1] ?? 1;
    expect(s.schema.parse('2'.repeat(unit === 1 ? 4 : 1)), 'bare number').toBe(unit === 1 ? 2222 : 2 * unit);
    expect(s.schema.parse('3s'), 'duration string').toBe(3000);
    expect(s.schema.safeParse('soon').success, 'garbage').toBe(false);
  });

  it('hands the components the values their documented names meant', () => {
    expect(querierOptionsFrom(loadConfig(querierConfig, { env: { FIRN_MAX_QUERY_RANGE_HOURS: '24', FIRN_QUERY_TIMEOUT_MS: '1500' } }))).toMatchObject({ maxRangeMs: 86_400_000, queryTimeoutMs: 1500 });
    expect(querierOptionsFrom(loadConfig(querierConfig, { env: { FIRN_MAX_QUERY_RANGE_HOURS: '7d', FIRN_QUERY_TIMEOUT_MS: '2m' } }))).toMatchObject({ maxRangeMs: 7 * 86_400_000, queryTimeoutMs: 120_000 });
    expect(symbolizerOptionsFrom(loadConfig(symbolizerConfig, { env: { FIRN_SYMBOL_TTL_SECONDS: '3600', FIRN_SYMBOL_NEGATIVE_TTL_SECONDS: '5m' } }))).toMatchObject({ symbolTtlSeconds: 3600, negativeTtlSeconds: 300 });
  });
});

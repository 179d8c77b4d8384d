import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CPU, mixedRows, QueryFixture, T0, type Row } from './testing/query-fixture';
import { readSeriesTable, SeriesTableCache, seriesFromTable } from './series-table';
import type { SeriesQuery } from './series-scan';

describe(SeriesTableCache.name, () => {
  let fx: QueryFixture;
  const q: SeriesQuery = { profileType: CPU, matchers: [], startMs: T0, endMs: T0 + 60_000, stepMs: 5_000, sumBy: ['pod'] };

  beforeAll(async () => {
    fx = await QueryFixture.create();
    const rows = mixedRows(3);
    const part = (from: number, to: number): Row[] => rows.filter((r) => r.ts >= T0 + from && r.ts < T0 + to);
    for (let k = 0; k < 3; k++) await fx.addSegment(part(k * 20_000, (k + 1) * 20_000));
  });

  afterAll(async () => {
    await fx?.cleanup();
  });

  it('keeps what fits of a query larger than the cache instead of evicting its own tables, and frees idle ones', async () => {
    const sizes = await Promise.all(fx.metas.map(async (m) => (await readSeriesTable(fx.store, m, ['pod'])).bytes));
    let clock = 0;
    const cache = new SeriesTableCache(sizes[0] + sizes[1] + Math.floor(sizes[2] / 2), 1_000, () => clock);
    const pass = async () => Promise.all(fx.metas.map((m) => cache.table(fx.store, m, q)));

    const first = await pass();
    // The third was read for this query (all three started at once) but is not kept.
    expect(first.every((t) => t !== undefined)).toBe(true);
    expect(cache.size).toBe(2);
    // A refresh within the protection window hits the two, and the third is still not kept.
    clock += 500;
    const again = await pass();
    expect(again[0]).toBe(first[0]);
    expect(again[1]).toBe(first[1]);
    expect(again[2]).not.toBe(first[2]);
    expect(cache.hits).toBe(2);
    expect(cache.size).toBe(2);
    // Once the first table has been idle long enough, the third may take its place.
    clock += 1_000;
    const third = await cache.table(fx.store, fx.metas[2], q);
    expect(third).toBeDefined();
    expect(cache.size).toBe(2);
    expect(cache.bytes).toBeLessThanOrEqual(cache.maxBytes);
    expect(await cache.table(fx.store, fx.metas[2], q)).toBe(third);
  });

  it('answers from a table what the rows hold', async () => {
    const tables = await Promise.all(fx.metas.map((m) => readSeriesTable(fx.store, m, 'all')));
    let total = 0;
    for (const t of tables) for (const pts of seriesFromTable(t, { ...q, sumBy: [] }).values()) for (const p of pts.values()) total += p.value;
    const want = fx.rows.filter((r) => r.pt === CPU).reduce((s, r) => s + r.value, 0);
    expect(total).toBe(want);
  });
});

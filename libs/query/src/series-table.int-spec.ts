import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CPU, mixedRows, QueryFixture, T0, type Row } from './testing/query-fixture';
import { readSeriesTable, SeriesTableCache, seriesFromTable, type SeriesTable } from './series-table';
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
    // Any two tables fit, all three do not.
    const total = sizes.reduce((x, y) => x + y, 0);
    let clock = 0;
    const cache = new SeriesTableCache(total - 1, 1_000, () => clock);
    // One segment after another, as a query larger than the cache reads them: a plain LRU would
    // evict the first table to keep the third, and every later pass would miss all three.
    const pass = async () => {
      const out: (SeriesTable | undefined)[] = [];
      for (const m of fx.metas) out.push(await cache.table(fx.store, m, q));
      return out;
    };

    const first = await pass();
    expect(first[0]).toBeDefined();
    expect(first[1]).toBeDefined();
    expect(cache.size).toBe(2);
    // A refresh within the protection window hits the two kept; the third is still not kept
    // (read for the query and dropped, or not read at all when its estimate cannot fit).
    clock += 500;
    const again = await pass();
    expect(again[0]).toBe(first[0]);
    expect(again[1]).toBe(first[1]);
    expect(cache.hits).toBe(2);
    expect(cache.size).toBe(2);
    // Once the kept tables have been idle long enough, the third may take a place.
    clock += 1_000;
    const third = await cache.table(fx.store, fx.metas[2], q);
    expect(third).toBeDefined();
    expect(cache.size).toBe(2);
    expect(cache.bytes).toBeLessThanOrEqual(cache.maxBytes);
    expect(await cache.table(fx.store, fx.metas[2], q)).toBe(third);
  });

  it('preloads only what fits beside what it holds, and gives preloaded tables up first', async () => {
    const sizes = await Promise.all(fx.metas.map(async (m) => (await readSeriesTable(fx.store, m, [])).bytes));
    let clock = 10_000;
    // Room for two tables (estimates aside), with a query's table held and protected.
    const cache = new SeriesTableCache(sizes[0] + Math.max(sizes[1], sizes[2]) + 1, 1_000, () => clock);
    const used = await cache.table(fx.store, fx.metas[0], q);
    expect(used).toBeDefined();
    expect(await cache.preload(fx.store, fx.metas[0])).toBe('cached');
    expect(await cache.preload(fx.store, fx.metas[1])).toBe('read');
    // A third would need the query's table evicted: preloading never does that.
    expect(await cache.preload(fx.store, fx.metas[2])).toBe('full');
    expect(cache.size).toBe(2);
    expect(cache.misses).toBe(1);
    // A query's table takes the preloaded one's place at once (no query has used it), while the
    // protected one stays.
    const third = await cache.table(fx.store, fx.metas[2], q);
    expect(third).toBeDefined();
    expect(cache.size).toBe(2);
    expect(await cache.table(fx.store, fx.metas[0], q)).toBe(used);
    expect(await cache.table(fx.store, fx.metas[2], q)).toBe(third);
    // A preloaded table that a query then uses is a hit, and gets the labels the query needs.
    clock += 5_000;
    const fresh = new SeriesTableCache(1 << 30, 1_000, () => clock);
    expect(await fresh.preload(fx.store, fx.metas[1])).toBe('read');
    const t = await fresh.table(fx.store, fx.metas[1], q);
    expect(fresh.hits).toBe(1);
    expect(fresh.misses).toBe(0);
    const direct = seriesFromTable(await readSeriesTable(fx.store, fx.metas[1], ['pod']), q);
    expect(seriesFromTable(t!, q)).toEqual(direct);
  });

  it('adds stack sums up from kept stack rows without a read, equal to those summed from the rows', async () => {
    const byStack = await QueryFixture.create();
    try {
      await byStack.addSegment(mixedRows(4), { rowOrder: 'stack', stackOrder: 'frames', rowGroupRows: 32 });
      const every: SeriesQuery = { ...q, sumBy: [] };
      for (const [f, m] of [...fx.metas.map((m) => [fx, m] as const), [byStack, byStack.metas[0]] as const]) {
        const read = new SeriesTableCache(1 << 26);
        const fromRows = new SeriesTableCache(1 << 26);
        const want = await read.stackSums(f.store, m, every, { build: 'always' });
        expect((await fromRows.stackRows(f.store, m, every, { build: 'always' }))?.rows.first).toBeDefined();
        f.store.reset();
        const got = await fromRows.stackSums(f.store, m, every, { build: 'always' });
        expect(f.store.bytesRead).toBe(0);
        expect(want?.sums.byType.size).toBe(2);
        expect(got?.sums).toEqual(want?.sums);
        expect(fromRows.peek(m)?.stackSums).toBe(got?.sums);
      }
    } finally {
      await byStack.cleanup();
    }
  });

  it('builds stack sums or rows for label-filtered queries the second time a segment is asked for', async () => {
    const cache = new SeriesTableCache(1 << 26);
    const m = fx.metas[0];
    const pods: SeriesQuery = { ...q, matchers: [{ name: 'pod', op: '=', value: 'pod-a' }], sumBy: [] };
    for (const field of ['stackSums', 'stackRows'] as const) {
      const ask = () =>
        field === 'stackSums' ? cache.stackSums(fx.store, m, pods, { build: 'again' }) : cache.stackRows(fx.store, m, pods, { build: 'again' });
      expect(await ask()).toBeUndefined();
      expect(cache.peek(m)?.[field]).toBeUndefined();
      expect(await ask()).toBeDefined();
      expect(cache.peek(m)?.[field]).toBeDefined();
    }
  });

  it('answers from a table what the rows hold', async () => {
    const tables = await Promise.all(fx.metas.map((m) => readSeriesTable(fx.store, m, 'all')));
    let total = 0;
    for (const t of tables) for (const pts of seriesFromTable(t, { ...q, sumBy: [] }).values()) for (const p of pts.values()) total += p.value;
    const want = fx.rows.filter((r) => r.pt === CPU).reduce((s, r) => s + r.value, 0);
    expect(total).toBe(want);
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isFirnError, type FirnError } from '@firn/errors';
import { parseMatchers, type Label, type LabelMatcher } from '@firn/profiles';
import type { StackProfile } from '@firn/reports';
import { seriesKeyOf } from '@firn/segments';
import type { ObjectStore } from '@firn/storage';
import { tenantFromTrustedSource } from '@firn/tenancy';
import { ManifestState } from '@firn/manifest';
import { merge } from './merge-stacks';
import { decodePartial, encodePartial } from './partial-codec';
import { sortedLabelSet } from './labels';
import { QueryEngine } from './query-engine';
import { mergeSeries, seriesFromColumns, seriesToColumns } from './series-scan';
import { PERIOD_GROUP } from './segment-scan';
import { segmentObjects } from './segment-objects';
import { CountingStore, CPU, frame, framesKey, MEM, mixedRows, QueryFixture, T0, type Row } from './testing/query-fixture';

function totalsOf(p: StackProfile): Map<string, number> {
  const m = new Map<string, number>();
  p.stacks.forEach((s, i) => m.set(framesKey(s), (m.get(framesKey(s)) ?? 0) + p.values[i]));
  return m;
}

function sum(m: Map<string, number>): number {
  let t = 0;
  for (const v of m.values()) t += v;
  return t;
}

async function firnError(p: Promise<unknown> | (() => unknown)): Promise<FirnError> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (err) {
    if (isFirnError(err)) return err;
    throw err;
  }
  throw new Error('expected a FirnError');
}

const matchersOf = (s: string): LabelMatcher[] => (s === '' ? [] : parseMatchers(s));
const SPAN_A = '00000000000000aa';
const SPANS_T0 = T0 + 3600_000;

describe(QueryEngine.name, () => {
  let fx: QueryFixture;
  let engine: QueryEngine;
  const END = T0 + 60_000;

  beforeAll(async () => {
    fx = await QueryFixture.create();
    const rows = mixedRows(1);
    const part = (from: number, to: number): Row[] => rows.filter((r) => r.ts >= T0 + from && r.ts < T0 + to);
    await fx.addSegment(part(0, 20_000));
    // Small row groups: exercises the two-phase read and per-row-group stack reads. Written as
    // before series rollups and stacks v2 existed: series queries build its table from rows, and
    // its stacks carry their frames in full (queries mix it with v2 segments).
    await fx.addSegment(part(20_000, 40_000), { rowGroupRows: 16, rollup: false, stacksLayout: 'v1' });
    // One value per summary: truncated summaries force label scans.
    await fx.addSegment(part(40_000, 60_000), { maxLabelValuesInSummary: 1 });
    // Span profiles, an hour after END so the other tests never see them (the worker test reads them).
    await fx.addSegment(
      mixedRows(9, { startMs: SPANS_T0 }).flatMap((r) => [
        { ...r, span: SPAN_A },
        { ...r, value: 2 * r.value },
      ]),
      { rowGroupRows: 16 },
    );
    engine = new QueryEngine({ store: fx.store, view: fx.view, concurrency: 2 });
  });

  afterAll(async () => {
    await fx?.cleanup();
  });

  describe('mergeStacks', () => {
    const selectors = [
      '',
      '{pod="pod-a"}',
      '{pod!="pod-a"}',
      '{pod=~"pod-(a|c)"}',
      '{pod!~"pod-[ab]"}',
      '{namespace=""}',
      '{namespace!=""}',
      '{zone=~".+"}',
      '{zone="z1", namespace="prod"}',
      '{missing="x"}',
      '{missing!="x"}',
      '{missing=~"x|"}',
    ];
    const ranges: Array<[number, number]> = [
      [T0, END],
      [T0 + 20_000, T0 + 40_000],
      [T0 + 5_500, T0 + 41_000],
      [T0 + 7_000, T0 + 7_001],
      [T0 + 7_000, T0 + 7_000],
    ];

    it.each(selectors)('sums every matching row per stack for %s', async (sel) => {
      for (const pt of [CPU, MEM]) {
        for (const [start, end] of ranges) {
          const want = fx.expectedTotals(pt, matchersOf(sel), start, end);
          const got = await engine.mergeStacks(fx.tenant, `${pt}${sel}`, start, end);
          expect(got.profileType).toBe(pt);
          expect(totalsOf(got), `${pt}${sel} [${start - T0}, ${end - T0})`).toEqual(want);
          expect(got.total).toBe(sum(want));
          expect(got.stacks.length).toBe(want.size);
        }
      }
    });

    it('answers a repeated query covering whole segments from their stack sums, reading nothing', async () => {
      // No footer cache: it keeps whole objects this small, and every row scan would read nothing.
      const e = new QueryEngine({ store: fx.store, view: fx.view, concurrency: 2, footerCacheBytes: 0 });
      const rows = new QueryEngine({ store: fx.store, view: fx.view, concurrency: 2, footerCacheBytes: 0, seriesCacheBytes: 0 });
      // Only a query over every series builds them; label-filtered ones then use them too.
      for (const sel of ['', '{pod!="pod-b"}', '{zone=~".+"}']) {
        const want = fx.expectedTotals(CPU, matchersOf(sel), T0, END);
        expect(totalsOf(await e.mergeStacks(fx.tenant, `${CPU}${sel}`, T0, END))).toEqual(want);
        fx.store.reset();
        expect(totalsOf(await e.mergeStacks(fx.tenant, `${CPU}${sel}`, T0, END))).toEqual(want);
        expect(fx.store.bytesRead, sel).toBe(0);
        expect(totalsOf(await rows.mergeStacks(fx.tenant, `${CPU}${sel}`, T0, END))).toEqual(want);
        fx.store.reset();
        expect(totalsOf(await rows.mergeStacks(fx.tenant, `${CPU}${sel}`, T0, END))).toEqual(want);
        expect(fx.store.bytesRead, sel).toBeGreaterThan(0);
      }
      // Alone, label-filtered queries read their rows the first two times (the second builds the
      // sums, reading every row), then nothing; any selector asking counts. (A matcher naming a
      // label for the first time reads its column into a table built from rows.)
      const filtered = new QueryEngine({ store: fx.store, view: fx.view, concurrency: 2, footerCacheBytes: 0 });
      for (const [run, sel] of ['{pod="pod-a"}', '{pod="pod-b"}', '{pod="pod-a"}', '{pod!~"pod-[ab]"}'].entries()) {
        fx.store.reset();
        expect(totalsOf(await filtered.mergeStacks(fx.tenant, `${CPU}${sel}`, T0, END)), sel).toEqual(fx.expectedTotals(CPU, matchersOf(sel), T0, END));
        if (run < 2) expect(fx.store.bytesRead, sel).toBeGreaterThan(0);
        else expect(fx.store.bytesRead, sel).toBe(0);
      }
      // A range that cuts a segment scans its rows.
      const wide = fx.metas.find((m) => m.maxTimeUnixNano - m.minTimeUnixNano >= 2_000_000n);
      expect(wide).toBeDefined();
      const [from, to] = [Number(wide!.minTimeUnixNano / 1_000_000n) + 1, Number(wide!.maxTimeUnixNano / 1_000_000n)];
      fx.store.reset();
      expect(totalsOf(await e.mergeStacks(fx.tenant, CPU, from, to))).toEqual(fx.expectedTotals(CPU, [], from, to));
      expect(fx.store.bytesRead).toBeGreaterThan(0);
      expect(e.seriesCacheStats()?.segments).toBeGreaterThan(0);
    });

    it('tells which segments a merge over a range would answer from stack sums it already holds', async () => {
      const e = new QueryEngine({ store: fx.store, view: fx.view, concurrency: 2 });
      const none = new QueryEngine({ store: fx.store, view: fx.view, concurrency: 2, seriesCacheBytes: 0 });
      const covered = fx.metas.filter((m) => Number(m.minTimeUnixNano / 1_000_000n) >= T0 && Number(m.maxTimeUnixNano / 1_000_000n) < END);
      expect(covered.length).toBeGreaterThan(1);
      const held = (q: QueryEngine, from = T0, to = END, spanIds?: string[]) => covered.filter((m) => q.holdsStackSums(m, from, to, spanIds));
      expect(held(e)).toEqual([]);
      // A label-filtered query builds none the first time; one over every series builds them for what it covers.
      await e.mergeStacks(fx.tenant, `${CPU}{pod="pod-a"}`, T0, END);
      expect(held(e)).toEqual([]);
      await e.mergeStacks(fx.tenant, CPU, T0, END);
      await none.mergeStacks(fx.tenant, CPU, T0, END);
      expect(held(e)).toEqual(covered);
      expect(held(none)).toEqual([]);
      // Not for span profiles, nor for a range that cuts the segment (its rows are scanned then).
      expect(held(e, T0, END, [SPAN_A])).toEqual([]);
      const wide = covered.find((m) => m.maxTimeUnixNano - m.minTimeUnixNano >= 2_000_000n)!;
      expect(e.holdsStackSums(wide, Number(wide.minTimeUnixNano / 1_000_000n) + 1, END)).toBe(false);
      expect(e.holdsStackSums(wide, Number(wide.minTimeUnixNano / 1_000_000n), END)).toBe(true);
    });

    it('answers a repeated query whose range cuts segments from their stack rows, reading nothing', async () => {
      const e = new QueryEngine({ store: fx.store, view: fx.view, concurrency: 2, footerCacheBytes: 0 });
      const cut: Array<[number, number]> = [
        [T0 + 5_500, T0 + 41_000],
        [T0 + 1_000, T0 + 59_000],
        [T0 + 7_000, T0 + 7_001],
        [T0 + 19_999, T0 + 40_001],
        [T0 + 12_345, T0 + 12_345],
      ];
      const first = fx.metas[0];
      const [from, to] = [T0 + 5_500, T0 + 41_000];
      expect(e.holdsStackSums(first, from, to)).toBe(false);
      // As for stack sums, a query over every series builds them at once (reading every cut
      // segment's rows once), a label-filtered one the second time a segment is asked for.
      await e.mergeStacks(fx.tenant, `${CPU}{pod="pod-a"}`, from, to);
      expect(e.holdsStackSums(first, from, to)).toBe(false);
      expect(totalsOf(await e.mergeStacks(fx.tenant, CPU, from, to))).toEqual(fx.expectedTotals(CPU, [], from, to));
      expect(e.holdsStackSums(first, from, to)).toBe(true);
      const again = new QueryEngine({ store: fx.store, view: fx.view, concurrency: 2, footerCacheBytes: 0 });
      for (const run of [0, 1, 2]) {
        await again.mergeStacks(fx.tenant, `${MEM}{zone=~".+"}`, from, to);
        expect(again.holdsStackSums(first, from, to), `run ${run}`).toBe(run > 0);
      }
      expect(e.holdsStackSums(first, from, to, [SPAN_A])).toBe(false);
      // The first and last segments are cut and the middle one covered: each is answered from what its table holds.
      await e.mergeStacks(fx.tenant, CPU, T0 + 1_000, T0 + 59_000);
      for (const sel of ['', '{pod!="pod-b"}', '{zone=~".+"}', '{missing="x"}']) {
        // A table built from rows reads a label column when a matcher first names it.
        await e.mergeStacks(fx.tenant, `${CPU}${sel}`, T0 + 1_000, T0 + 59_000);
        for (const pt of [CPU, MEM]) {
          for (const [start, end] of cut) {
            fx.store.reset();
            const got = await e.mergeStacks(fx.tenant, `${pt}${sel}`, start, end);
            expect(totalsOf(got), `${pt}${sel} [${start - T0}, ${end - T0})`).toEqual(fx.expectedTotals(pt, matchersOf(sel), start, end));
            expect(fx.store.bytesRead, `${pt}${sel} [${start - T0}, ${end - T0})`).toBe(0);
          }
        }
      }
      // A grouped query still reads rows (span profiles: holdsStackSums above says false for them).
      fx.store.reset();
      await e.mergeStacks(fx.tenant, CPU, from, to, { groupBy: ['pod'] });
      expect(fx.store.bytesRead).toBeGreaterThan(0);
    });

    it('keeps stack rows of any value exactly (16-bit, 32-bit and larger values)', async () => {
      const big = await QueryFixture.create();
      try {
        const rows = mixedRows(7);
        await big.addSegment(rows.filter((r) => r.ts < T0 + 20_000).map((r) => ({ ...r, value: r.value * 70_000 })));
        await big.addSegment(rows.filter((r) => r.ts >= T0 + 20_000 && r.ts < T0 + 40_000).map((r) => ({ ...r, value: r.value + 2 ** 33 })));
        await big.addSegment(rows.filter((r) => r.ts >= T0 + 40_000));
        const e = new QueryEngine({ store: big.store, view: big.view, concurrency: 1, footerCacheBytes: 0 });
        for (const [from, to] of [
          [T0 + 1_000, T0 + 59_000],
          [T0 + 10_500, T0 + 30_500],
        ]) {
          for (let run = 0; run < 2; run++) {
            big.store.reset();
            expect(totalsOf(await e.mergeStacks(big.tenant, CPU, from, to))).toEqual(big.expectedTotals(CPU, [], from, to));
            if (run === 1) expect(big.store.bytesRead).toBe(0);
          }
        }
      } finally {
        await big.cleanup();
      }
    });

    it('scans the rows of a segment whose series rollup disagrees with them, every time', async () => {
      const bad = await QueryFixture.create();
      try {
        const rows = mixedRows(5, { stacks: 1 });
        const a = await bad.addSegment(rows.filter((r) => r.ts < T0 + 30_000));
        const b = await bad.addSegment(rows.filter((r) => r.ts >= T0 + 30_000));
        // Segment a's rollup replaced by b's: its points are not where a's rows are.
        await bad.store.put(segmentObjects(a).series, await bad.store.get(segmentObjects(b).series));
        const e = new QueryEngine({ store: bad.store, view: bad.view, concurrency: 1, footerCacheBytes: 0 });
        const [from, to] = [T0 + 1_000, T0 + 29_000];
        for (let run = 0; run < 2; run++) {
          bad.store.reset();
          expect(totalsOf(await e.mergeStacks(bad.tenant, CPU, from, to))).toEqual(bad.expectedTotals(CPU, [], from, to));
          expect(bad.store.bytesRead).toBeGreaterThan(0);
        }
        expect(e.holdsStackSums(a, from, to)).toBe(false);
        // Segment b's own rows match its rollup, one row per point: kept.
        const [bFrom, bTo] = [T0 + 31_000, T0 + 59_000];
        expect(totalsOf(await e.mergeStacks(bad.tenant, CPU, bFrom, bTo))).toEqual(bad.expectedTotals(CPU, [], bFrom, bTo));
        expect(e.holdsStackSums(b, bFrom, bTo)).toBe(true);
        bad.store.reset();
        expect(totalsOf(await e.mergeStacks(bad.tenant, CPU, bFrom + 500, bTo))).toEqual(bad.expectedTotals(CPU, [], bFrom + 500, bTo));
        expect(bad.store.bytesRead).toBe(0);
      } finally {
        await bad.cleanup();
      }
    });

    it('includes rows at the start and excludes rows at the end of the range', async () => {
      const at = (ts: number): number => sum(fx.expectedTotals(CPU, [], ts, ts + 1));
      expect(at(T0 + 20_000)).toBeGreaterThan(0);
      expect((await engine.mergeStacks(fx.tenant, CPU, T0 + 20_000, T0 + 20_001)).total).toBe(at(T0 + 20_000));
      expect((await engine.mergeStacks(fx.tenant, CPU, T0 + 19_001, T0 + 20_000)).total).toBe(0);
    });

    it('returns an empty profile for a profile type nobody stored', async () => {
      const p = await engine.mergeStacks(fx.tenant, 'nope:samples:count:cpu:nanoseconds', T0, END);
      expect(p).toMatchObject({ profileType: 'nope:samples:count:cpu:nanoseconds', stacks: [], total: 0 });
      expect(engine.segmentsFor(fx.tenant, 'nope:samples:count:cpu:nanoseconds', T0, END).segments).toEqual([]);
    });

    it('sees nothing of another tenant', async () => {
      const p = await engine.mergeStacks(tenantFromTrustedSource('t2'), CPU, T0, END);
      expect(p.total).toBe(0);
    });

    it('sums per group with groupBy', async () => {
      const p = await engine.partial(fx.tenant, `${CPU}{pod=~"pod-[abc]"}`, T0, END, { groupBy: ['namespace'] });
      expect(p.groupBy).toEqual(['namespace']);
      for (const ns of ['', 'dev', 'prod']) {
        const gi = p.groups.findIndex((g) => g[0] === ns);
        const got = new Map<string, number>();
        for (let i = 0; i < p.values.length; i++) if (p.cellGroup[i] === gi) got.set(framesKey(p.stacks[p.cellStack[i]].frames), p.values[i]);
        expect(got).toEqual(fx.expectedTotals(CPU, matchersOf(`{pod=~"pod-[abc]", namespace="${ns}"}`), T0, END));
      }
    });

    it('groups by sampling period with PERIOD_GROUP, also within one series', async () => {
      const pfx = await QueryFixture.create(tenantFromTrustedSource('t-period'));
      try {
        const labels: Array<[string, string]> = [['namespace', 'shop']];
        const s1 = [frame('hot'), frame('main', 0)];
        await pfx.addSegment([
          { pt: CPU, labels, stack: s1, value: 7, ts: T0, durationNs: 0, periodNs: 52_631_579 },
          { pt: CPU, labels, stack: s1, value: 3, ts: T0 + 1, durationNs: 0, periodNs: 10_101_010 },
          { pt: CPU, labels: [['namespace', 'db']], stack: s1, value: 5, ts: T0 + 2, durationNs: 0, periodNs: 52_631_579 },
        ]);
        const e = new QueryEngine({ store: pfx.store, view: pfx.view });
        const p = await e.partial(pfx.tenant, CPU, T0, T0 + 10, { groupBy: ['namespace', PERIOD_GROUP] });
        const cells = p.groups.map((g, gi) => [g.join('/'), p.values.filter((_, i) => p.cellGroup[i] === gi).reduce((a, b) => a + b, 0)]);
        expect(cells).toEqual([
          ['db/52631579', 5],
          ['shop/10101010', 3],
          ['shop/52631579', 7],
        ]);
      } finally {
        await pfx.cleanup();
      }
    });

    it('merges partials of a split plan into the same profile (fan-out)', async () => {
      const sel = `${CPU}{pod!="pod-b"}`;
      const plan = engine.segmentsFor(fx.tenant, sel, T0 + 3_000, END);
      expect(plan.segments.map((s) => s.id)).toEqual(['segment0000', 'segment0001', 'segment0002']);
      const left = await engine.partial(fx.tenant, sel, T0 + 3_000, END, { segments: plan.segments.slice(0, 1) });
      const right = await engine.partial(fx.tenant, sel, T0 + 3_000, END, { segments: plan.segments.slice(1) });
      const merged = merge(decodePartial(encodePartial(right)), decodePartial(encodePartial(left)));
      expect(merged).toEqual(await engine.partial(fx.tenant, sel, T0 + 3_000, END));
      expect(sum(totalsOf(await engine.mergeStacks(fx.tenant, sel, T0 + 3_000, END)))).toBe(merged.values.reduce((a, b) => a + b, 0));
    });

    it('diffs two selections: base from the first, values from the second', async () => {
      const a = { selector: `${CPU}{pod="pod-a"}`, startMs: T0, endMs: T0 + 30_000 };
      const b = { selector: `${CPU}{pod="pod-b"}`, startMs: T0 + 30_000, endMs: END };
      const d = await engine.diff(fx.tenant, a, b);
      const wantA = fx.expectedTotals(CPU, matchersOf('{pod="pod-a"}'), a.startMs, a.endMs);
      const wantB = fx.expectedTotals(CPU, matchersOf('{pod="pod-b"}'), b.startMs, b.endMs);
      d.stacks.forEach((s, i) => {
        expect(d.values[i]).toBe(wantB.get(framesKey(s)) ?? 0);
        expect(d.base?.[i]).toBe(wantA.get(framesKey(s)) ?? 0);
      });
      expect(d.stacks.length).toBe(new Set([...wantA.keys(), ...wantB.keys()]).size);
      expect(d.total).toBe(sum(wantB));
    });
  });

  describe('series', () => {
    function expectedSeries(sumBy: string[] | undefined, matchers: LabelMatcher[], start: number, end: number, step: number) {
      const out = new Map<string, Map<number, { value: number; count: number; durationNs: number }>>();
      const profiles = new Set<string>();
      for (const r of fx.rows) {
        if (r.pt !== CPU || r.ts < start || r.ts >= end) continue;
        if (!matchesAll(matchers, r.labels)) continue;
        const labels = sumBy ? r.labels.filter(([n]) => sumBy.includes(n)) : r.labels;
        const key = seriesKeyOf(labels);
        const bucket = start + Math.floor((r.ts - start) / step) * step;
        let points = out.get(key);
        if (!points) out.set(key, (points = new Map()));
        const p = points.get(bucket) ?? { value: 0, count: 0, durationNs: 0 };
        p.value += r.value;
        p.count++;
        const profile = `${JSON.stringify(r.labels)}|${r.ts}`;
        if (!profiles.has(profile)) {
          profiles.add(profile);
          p.durationNs += r.durationNs;
        }
        points.set(bucket, p);
      }
      return out;
    }

    it.each([[['pod']], [[]], [undefined], [['namespace', 'zone']], [['zone', 'namespace', 'zone']]])(
      'sums rows per step bucket with sum_by %j',
      async (sumBy) => {
        const start = T0 + 1_500;
        const step = 7_000;
        const matchers = matchersOf('{pod!="pod-d"}');
        const got = await engine.series(fx.tenant, `${CPU}{pod!="pod-d"}`, start, END, step, sumBy);
        expect(got).toEqual(expectedSeries(sumBy, matchers, start, END, step));
        if (sumBy?.length === 0) expect([...got.keys()]).toEqual(['[]']);
      },
    );

    it.each(['', '{pod="pod-a"}', '{pod=~"pod-(a|c)"}', '{namespace=""}', '{zone=~".+"}', '{nope="x"}'])(
      'answers %s the same from cached series tables (warm: no object read) as from the rows',
      async (sel) => {
        // The default engine answers from per-segment series tables; a budget of 0 scans rows.
        const cached = new QueryEngine({ store: fx.store, view: fx.view, concurrency: 2 });
        const rows = new QueryEngine({ store: fx.store, view: fx.view, concurrency: 2, seriesCacheBytes: 0 });
        const matchers = matchersOf(sel);
        for (const [start, end, step, sumBy] of [
          [T0, END, 5_000, undefined],
          [T0 + 2_345, T0 + 41_000, 3_000, ['pod']],
          [T0 + 19_999, T0 + 20_001, 1, []],
        ] as const) {
          const want = expectedSeries(sumBy ? [...sumBy] : undefined, matchers, start, end, step);
          expect(await rows.series(fx.tenant, `${CPU}${sel}`, start, end, step, sumBy)).toEqual(want);
          expect(await cached.series(fx.tenant, `${CPU}${sel}`, start, end, step, sumBy)).toEqual(want);
        }
        fx.store.reset();
        expect(await cached.series(fx.tenant, `${CPU}${sel}`, T0, END, 5_000, ['pod'])).toEqual(expectedSeries(['pod'], matchers, T0, END, 5_000));
        expect(fx.store.bytesRead).toBe(0);
        expect(rows.seriesCacheStats()).toBeUndefined();
      },
    );

    it('reads label columns into cached series tables only when a query first needs them', async () => {
      const engine2 = new QueryEngine({ store: fx.store, view: fx.view, concurrency: 2 });
      const ask = (sel: string, sumBy: string[] | undefined) => engine2.series(fx.tenant, `${CPU}${sel}`, T0, END, 5_000, sumBy);
      const want = (sel: string, sumBy: string[] | undefined) => expectedSeries(sumBy, matchersOf(sel), T0, END, 5_000);
      fx.store.reset();
      expect(await ask('', ['pod'])).toEqual(want('', ['pod']));
      const first = fx.store.bytesRead;
      // A new name (a matcher's): only its label column is read.
      fx.store.reset();
      expect(await ask('{zone=~".+"}', ['pod'])).toEqual(want('{zone=~".+"}', ['pod']));
      expect(fx.store.bytesRead).toBeGreaterThan(0);
      expect(fx.store.bytesRead).toBeLessThan(first);
      // Two queries filling the same new name at once add each label once.
      const [a, b] = await Promise.all([ask('', ['namespace']), ask('', ['namespace'])]);
      expect(a).toEqual(want('', ['namespace']));
      expect(b).toEqual(a);
      expect(await ask('', undefined)).toEqual(want('', undefined));
      expect(await ask('{pod="pod-a"}', ['zone', 'pod'])).toEqual(want('{pod="pod-a"}', ['zone', 'pod']));
      fx.store.reset();
      expect(await ask('{namespace!=""}', [])).toEqual(want('{namespace!=""}', []));
      expect(fx.store.bytesRead).toBe(0);
      // Tables from rollups come with every label: only the segment without one read columns.
      expect(engine2.seriesCacheStats()).toMatchObject({ fromRollup: 2, fromRows: 1, rollupErrors: 0 });
    });

    it("reads a segment's series rollup instead of its rows, and falls back to rows when the rollup is unreadable", async () => {
      const fresh = new QueryEngine({ store: fx.store, view: fx.view, concurrency: 1 });
      fx.store.reset();
      const want = expectedSeries(['pod'], [], T0, T0 + 20_000, 5_000);
      expect(await fresh.series(fx.tenant, CPU, T0, T0 + 20_000, 5_000, ['pod'])).toEqual(want);
      const read = [...fx.store.bytesByKey.keys()];
      expect(read).toEqual([`${fx.metas[0].objectKey}series.arrow.gz`]);
      expect(fresh.seriesCacheStats()).toMatchObject({ fromRollup: 1, fromRows: 0 });

      const bad = await QueryFixture.create();
      try {
        const meta = await bad.addSegment(mixedRows(2));
        await bad.store.put(`${meta.objectKey}series.arrow.gz`, Buffer.from('not arrow'));
        const e = new QueryEngine({ store: bad.store, view: bad.view, concurrency: 1 });
        const got = await e.series(bad.tenant, CPU, T0, END, 5_000, ['pod']);
        const totals = (m: typeof got) => [...m.values()].reduce((t, pts) => t + [...pts.values()].reduce((a, p) => a + p.value, 0), 0);
        expect(totals(got)).toBe(bad.rows.filter((r) => r.pt === CPU && r.ts < END).reduce((t, r) => t + r.value, 0));
        expect(got).toEqual(await new QueryEngine({ store: bad.store, view: bad.view, seriesCacheBytes: 0 }).series(bad.tenant, CPU, T0, END, 5_000, ['pod']));
        expect(e.seriesCacheStats()).toMatchObject({ fromRollup: 0, fromRows: 1, rollupErrors: 1 });
      } finally {
        await bad.cleanup();
      }
    });

    it("preloads the series tables of each tenant's most recent data, so a fresh engine's first series query reads nothing", async () => {
      // The newest segment holds the span profiles, an hour after the others.
      const idle = new QueryEngine({ store: fx.store, view: fx.view, concurrency: 2 });
      expect(await idle.preloadSeriesTables(0, 3_600_000)).toEqual({ tenants: 0, tables: 0, stackSums: 0, failed: 0, complete: true });
      expect(await idle.preloadSeriesTables(8, 0)).toEqual({ tenants: 0, tables: 0, stackSums: 0, failed: 0, complete: true });
      const lastMinute = new QueryEngine({ store: fx.store, view: fx.view, concurrency: 2 });
      expect(await lastMinute.preloadSeriesTables(8, 60_000)).toEqual({ tenants: 1, tables: 1, stackSums: 1, failed: 0, complete: true });

      // The warm-up queries: the newest segment whole, over every series and with a matcher on a
      // label of its (preloaded) series table; without a cached table, only the first.
      const newest = fx.metas.reduce((a, m) => (m.maxTimeUnixNano > a.maxTimeUnixNano ? m : a));
      const range = { startMs: Number(newest.minTimeUnixNano / 1_000_000n), endMs: Number(newest.maxTimeUnixNano / 1_000_000n) + 1 };
      const probe = lastMinute.warmUpQueries();
      expect(probe).toMatchObject({ tenant: fx.tenant, ...range });
      expect(probe?.selectors).toHaveLength(2);
      expect(probe?.selectors[0]).toBe(MEM);
      const filtered = probe?.selectors[1] ?? '';
      expect(filtered.slice(0, MEM.length)).toBe(MEM);
      expect(filtered.slice(MEM.length)).toMatch(/^\{(pod|namespace|zone)="[^"]+"\}$/);
      // A real subset of the segment's series: fewer samples than all of them, but some.
      const all = await lastMinute.mergeStacks(fx.tenant, MEM, range.startMs, range.endMs);
      const some = await lastMinute.mergeStacks(fx.tenant, filtered, range.startMs, range.endMs);
      expect(some.total).toBeGreaterThan(0);
      expect(some.total).toBeLessThan(all.total);
      // And the segment's later half: a range cutting it, answered from its stack rows, which
      // the first such merge reads and keeps, so the next one reads no sample row.
      const cut = { startMs: Math.floor((range.startMs + range.endMs) / 2), endMs: range.endMs };
      expect(cut.startMs).toBeGreaterThan(range.startMs);
      expect(probe?.cut).toEqual(cut);
      const bytesBefore = lastMinute.seriesCacheStats()?.bytes ?? 0;
      const half = await lastMinute.mergeStacks(fx.tenant, MEM, cut.startMs, cut.endMs);
      expect(totalsOf(half)).toEqual(fx.expectedTotals(MEM, [], cut.startMs, cut.endMs));
      expect(half.total).toBeGreaterThan(0);
      expect(half.total).toBeLessThan(all.total);
      expect(lastMinute.seriesCacheStats()?.bytes).toBeGreaterThan(bytesBefore);
      fx.store.reset();
      expect(totalsOf(await lastMinute.mergeStacks(fx.tenant, MEM, cut.startMs, cut.endMs))).toEqual(totalsOf(half));
      expect(fx.store.bytesByKey.has(segmentObjects(newest).samples)).toBe(false);
      expect(new QueryEngine({ store: fx.store, view: fx.view, concurrency: 1 }).warmUpQueries()).toEqual({
        tenant: fx.tenant,
        ...range,
        selectors: [MEM],
        cut,
      });
      expect(new QueryEngine({ store: fx.store, view: new ManifestState(), concurrency: 1 }).warmUpQueries()).toBeUndefined();

      const e = new QueryEngine({ store: fx.store, view: fx.view, concurrency: 2 });
      fx.store.reset();
      expect(await e.preloadSeriesTables(8, SPANS_T0 - T0 + 60_000)).toEqual({ tenants: 1, tables: 4, stackSums: 4, failed: 0, complete: true });
      expect(e.seriesCacheStats()).toMatchObject({ segments: 4, hits: 0, misses: 0, fromRollup: 3, fromRows: 1 });
      const preloadedBytes = e.seriesCacheStats()?.bytes ?? 0;
      fx.store.reset();
      expect(await e.series(fx.tenant, CPU, T0, END, 5_000, [])).toEqual(expectedSeries([], [], T0, END, 5_000));
      expect(fx.store.bytesRead).toBe(0);
      // Labels a rollup brought are there; the segment without one reads the column asked for.
      expect(await e.series(fx.tenant, CPU, T0, END, 5_000, ['pod'])).toEqual(expectedSeries(['pod'], [], T0, END, 5_000));
      expect([...fx.store.bytesByKey.keys()].every((k) => k.startsWith(fx.metas[1].objectKey))).toBe(true);
      expect(e.seriesCacheStats()).toMatchObject({ hits: 6, misses: 0 });
      // And a flame graph over whole segments decodes no sample row (only stacks, for the catalog).
      const samples = new Set(fx.metas.map((m) => segmentObjects(m).samples));
      fx.store.reset();
      expect(totalsOf(await e.mergeStacks(fx.tenant, `${CPU}{pod!="pod-b"}`, T0, END))).toEqual(fx.expectedTotals(CPU, matchersOf('{pod!="pod-b"}'), T0, END));
      expect([...fx.store.bytesByKey.keys()].filter((k) => samples.has(k))).toEqual([]);

      // A cache with room for all but part of it: preloading stops there and says so.
      const budget = preloadedBytes - 1;
      const small = new QueryEngine({ store: fx.store, view: fx.view, concurrency: 1, seriesCacheBytes: budget });
      const partial = await small.preloadSeriesTables(8, SPANS_T0 - T0 + 60_000);
      expect(partial.complete).toBe(false);
      expect(partial.tables).toBeGreaterThan(0);
      expect(partial.tables + partial.stackSums).toBeLessThan(8);
      expect(small.seriesCacheStats()?.bytes).toBeLessThanOrEqual(budget);
      expect(await small.series(fx.tenant, CPU, T0, END, 5_000, ['pod'])).toEqual(expectedSeries(['pod'], [], T0, END, 5_000));
    });

    it('shares one series-table read between queries that miss at once, also when the reader is cancelled', async () => {
      const want = expectedSeries(['pod'], [], T0, END, 5_000);
      const together = new QueryEngine({ store: fx.store, view: fx.view, concurrency: 3 });
      const answers = await Promise.all([0, 1, 2].map(() => together.series(fx.tenant, CPU, T0, END, 5_000, ['pod'])));
      for (const a of answers) expect(a).toEqual(want);
      expect(together.seriesCacheStats()).toMatchObject({ misses: 3, segments: 3 });

      const cancelled = new QueryEngine({ store: fx.store, view: fx.view, concurrency: 3 });
      const ac = new AbortController();
      const first = cancelled.series(fx.tenant, CPU, T0, END, 5_000, ['pod'], { signal: ac.signal });
      const second = cancelled.series(fx.tenant, CPU, T0, END, 5_000, ['pod']);
      ac.abort();
      await expect(first).rejects.toThrow();
      expect(await second).toEqual(want);
    });

    it('keeps series tables within its byte budget and still answers right when nothing fits', async () => {
      const tiny = new QueryEngine({ store: fx.store, view: fx.view, concurrency: 1, seriesCacheBytes: 1 });
      const want = expectedSeries(undefined, [], T0, END, 5_000);
      expect(await tiny.series(fx.tenant, CPU, T0, END, 5_000)).toEqual(want);
      fx.store.reset();
      expect(await tiny.series(fx.tenant, CPU, T0, END, 5_000)).toEqual(want);
      expect(fx.store.bytesRead).toBeGreaterThan(0);
      expect(tiny.seriesCacheStats()).toMatchObject({ bytes: 0, segments: 0, hits: 0 });
      expect(() => new QueryEngine({ store: fx.store, view: fx.view, seriesCacheBytes: -1 })).toThrow(/seriesCacheBytes must be a non-negative integer/);

      // Room for one segment's table: the least recently used goes, the budget holds.
      const probe = new QueryEngine({ store: fx.store, view: fx.view, concurrency: 1 });
      await probe.series(fx.tenant, CPU, T0, END, 5_000);
      const all = probe.seriesCacheStats();
      expect(all?.segments).toBe(3);
      const one = new QueryEngine({ store: fx.store, view: fx.view, concurrency: 1, seriesCacheBytes: Math.ceil(((all?.bytes ?? 0) * 2) / 5) });
      expect(await one.series(fx.tenant, CPU, T0, END, 5_000)).toEqual(want);
      const held = one.seriesCacheStats();
      expect(held?.segments).toBeGreaterThanOrEqual(1);
      expect(held?.segments).toBeLessThan(3);
      expect(held?.bytes).toBeLessThanOrEqual(Math.ceil(((all?.bytes ?? 0) * 2) / 5));
    });

    it('merges series of a split plan, through the wire columns, into the whole answer (fan-out)', async () => {
      const sel = `${CPU}{pod!="pod-d"}`;
      const plan = engine.segmentsFor(fx.tenant, sel, T0, END);
      expect(plan.segments.length).toBe(3);
      for (const sumBy of [undefined, [], ['pod']]) {
        const whole = await engine.series(fx.tenant, sel, T0, END, 5_000, sumBy);
        const left = await engine.series(fx.tenant, sel, T0, END, 5_000, sumBy, { segments: plan.segments.slice(0, 2) });
        const right = await engine.series(fx.tenant, sel, T0, END, 5_000, sumBy, { segments: plan.segments.slice(2) });
        const merged = mergeSeries(seriesFromColumns(seriesToColumns(right)), seriesFromColumns(seriesToColumns(left)));
        expect(merged).toEqual(whole);
        expect(whole.size).toBeGreaterThan(0);
      }
      expect(() => seriesFromColumns([{ labels: [], bucketMs: [1, 2], values: [1], counts: [1, 1], durationNs: [0, 0] }])).toThrow(/differ in length/);
    });

    it('answers the same from blocks sorted by stack (compactor layout) as from time-sorted segments', async () => {
      // Compacted blocks sort rows by (series, stack, time): one profile's rows are not adjacent,
      // so durations must still be counted once per (series, timestamp).
      const blocks = await QueryFixture.create();
      try {
        const rows = mixedRows(1);
        await blocks.addSegment(rows, { rowOrder: 'stack', stackOrder: 'frames', rowGroupRows: 32 });
        const byStack = new QueryEngine({ store: blocks.store, view: blocks.view, concurrency: 2 });
        for (const sumBy of [undefined, ['pod']]) {
          const want = await engine.series(fx.tenant, CPU, T0, END, 5_000, sumBy);
          expect(await byStack.series(blocks.tenant, CPU, T0, END, 5_000, sumBy)).toEqual(want);
        }
        const want = await engine.mergeStacks(fx.tenant, CPU, T0, END);
        const got = await byStack.mergeStacks(blocks.tenant, CPU, T0, END);
        const totals = (p: typeof want) => new Map(p.stacks.map((st, i) => [framesKey(st), p.values[i]]));
        expect(totals(got)).toEqual(totals(want));
        // A range cutting the block: its rows (by stack) are kept in time order per series.
        const kept = new QueryEngine({ store: blocks.store, view: blocks.view, concurrency: 2, footerCacheBytes: 0 });
        for (const [from, to] of [
          [T0 + 5_500, T0 + 41_000],
          [T0 + 30_000, END],
        ]) {
          for (let run = 0; run < 2; run++) {
            blocks.store.reset();
            expect(totalsOf(await kept.mergeStacks(blocks.tenant, CPU, from, to))).toEqual(blocks.expectedTotals(CPU, [], from, to));
            expect(blocks.store.bytesRead === 0, `run ${run}`).toBe(run > 0 || from !== T0 + 5_500);
          }
        }
      } finally {
        await blocks.cleanup();
      }
    });

    it('rejects a bad step and too many points', async () => {
      expect((await firnError(engine.series(fx.tenant, CPU, T0, END, 0))).message).toMatch(/step must be a positive integer/);
      const e = await firnError(engine.series(fx.tenant, CPU, T0, END, 1));
      expect(e.code).toBe('invalid_argument');
      expect(e.message).toMatch(/60000 points per series, more than the maximum of 11000/);
    });
  });

  describe('labels', () => {
    const distinct = (f: (r: Row) => Iterable<string>, rows: Row[]): string[] => [...new Set(rows.flatMap((r) => [...f(r)]))].filter((v) => v !== '').sort();

    it('lists label names and values from the summaries alone when they are complete', async () => {
      fx.store.reset();
      const inFirst = fx.rows.filter((r) => r.ts < T0 + 20_000);
      expect(await engine.labelNames(fx.tenant, { startMs: T0, endMs: T0 + 20_000 })).toEqual(distinct((r) => r.labels.map(([n]) => n), inFirst));
      expect(await engine.labelValues(fx.tenant, 'pod', { startMs: T0, endMs: T0 + 20_000 })).toEqual(
        distinct((r) => r.labels.filter(([n]) => n === 'pod').map(([, v]) => v), inFirst),
      );
      expect(fx.store.requests).toBe(0);
    });

    it('scans segments whose summaries are truncated', async () => {
      // Without the footer cache, which would answer these small objects from memory.
      const uncached = new QueryEngine({ store: fx.store, view: fx.view, footerCacheBytes: 0 });
      fx.store.reset();
      const inLast = fx.rows.filter((r) => r.ts >= T0 + 40_000);
      const values = await uncached.labelValues(fx.tenant, 'pod', { startMs: T0 + 40_000, endMs: END });
      expect(values.length).toBeGreaterThan(1);
      expect(values).toEqual(distinct((r) => r.labels.filter(([n]) => n === 'pod').map(([, v]) => v), inLast));
      expect(fx.store.requests).toBeGreaterThan(0);
    });

    it('scans rows for matchers and profile types that share a segment', async () => {
      const cases: Array<[string | undefined, string]> = [
        [undefined, '{zone="z1"}'],
        [MEM, ''],
        [MEM, '{namespace="dev"}'],
        [CPU, '{pod=~"pod-[cd]"}'],
      ];
      for (const [pt, sel] of cases) {
        const start = T0 + 10_000;
        const rows = fx.rows.filter((r) => r.ts >= start && r.ts < END && (pt === undefined || r.pt === pt) && matchesAll(matchersOf(sel), r.labels));
        const q = { startMs: start, endMs: END, profileType: pt, matchers: matchersOf(sel) };
        expect(await engine.labelNames(fx.tenant, q)).toEqual(distinct((r) => r.labels.map(([n]) => n), rows));
        for (const name of ['pod', 'namespace', 'zone', 'missing']) {
          expect(await engine.labelValues(fx.tenant, name, q), `${pt}${sel} ${name}`).toEqual(
            distinct((r) => r.labels.filter(([n]) => n === name).map(([, v]) => v), rows),
          );
        }
      }
    });

    it('answers from summaries plus scans of any split of the segments left to read (fan-out)', async () => {
      const q = { startMs: T0 + 10_000, endMs: END, profileType: CPU, matchers: matchersOf('{pod=~"pod-[abc]"}') };
      const names = engine.labelNamesPlan(fx.tenant, q);
      const values = engine.labelValuesPlan(fx.tenant, 'pod', q);
      expect(names.toScan.length).toBeGreaterThan(1);
      const shares = [names.toScan.slice(0, 1), names.toScan.slice(1)];
      const splitNames = sortedLabelSet(names.known, ...(await Promise.all(shares.map((seg) => engine.scanLabelNames(seg, q)))));
      expect(splitNames).toEqual(await engine.labelNames(fx.tenant, q));
      const vShares = [values.toScan.slice(0, 1), values.toScan.slice(1)];
      const splitValues = sortedLabelSet(values.known, ...(await Promise.all(vShares.map((seg) => engine.scanLabelValues(seg, 'pod', q)))));
      expect(splitValues).toEqual(await engine.labelValues(fx.tenant, 'pod', q));
      expect(splitValues).toEqual(
        ['pod-a', 'pod-b', 'pod-c'].filter((v) => fx.rows.some((r) => r.pt === CPU && r.ts >= q.startMs && r.labels.some(([n, x]) => n === 'pod' && x === v))),
      );
    });

    it('lists profile types from the manifest', () => {
      expect(engine.profileTypes(fx.tenant, { startMs: T0, endMs: END })).toEqual([MEM, CPU].sort());
      expect(engine.profileTypes(fx.tenant, { startMs: END, endMs: END + 1000 })).toEqual([]);
    });
  });

  describe('scan workers', () => {
    let pooled: QueryEngine;
    beforeAll(() => {
      pooled = new QueryEngine({ store: fx.store, view: fx.view, concurrency: 3, scanWorkers: 2 });
    });
    afterAll(async () => {
      await pooled?.close();
    });

    it('sums in worker threads to the same profiles as the calling thread, grouped or not', async () => {
      for (const sel of [CPU, `${CPU}{pod=~"pod-(a|c)"}`, `${MEM}{namespace="dev"}`]) {
        const want = await engine.mergeStacks(fx.tenant, sel, T0 + 1_000, END);
        expect(await pooled.mergeStacks(fx.tenant, sel, T0 + 1_000, END), sel).toEqual(want);
        expect(totalsOf(want)).toEqual(
          fx.expectedTotals(sel.startsWith(CPU) ? CPU : MEM, matchersOf(sel.slice(sel.indexOf('{') >= 0 ? sel.indexOf('{') : sel.length)), T0 + 1_000, END),
        );
      }
      const grouped = await pooled.partial(fx.tenant, CPU, T0, END, { groupBy: ['pod'] });
      expect(grouped).toEqual(await engine.partial(fx.tenant, CPU, T0, END, { groupBy: ['pod'] }));
      expect(grouped.groups.length).toBeGreaterThan(1);
      const d = { selector: `${CPU}{pod="pod-a"}`, startMs: T0, endMs: END };
      expect(await pooled.diff(fx.tenant, d, { ...d, selector: `${CPU}{pod="pod-b"}` })).toEqual(
        await engine.diff(fx.tenant, d, { ...d, selector: `${CPU}{pod="pod-b"}` }),
      );
    });

    it('filters span profiles in worker threads as in the calling thread', async () => {
      const want = await engine.mergeStacks(fx.tenant, CPU, SPANS_T0, SPANS_T0 + 60_000, { spanIds: [SPAN_A] });
      expect(want.total).toBeGreaterThan(0);
      expect(totalsOf(want)).toEqual(fx.expectedTotals(CPU, [], SPANS_T0, SPANS_T0 + 60_000, fx.rows, [SPAN_A]));
      expect(await pooled.mergeStacks(fx.tenant, CPU, SPANS_T0, SPANS_T0 + 60_000, { spanIds: [SPAN_A] })).toEqual(want);
    });

    it('reports a worker-side failure with its code, and cancellation as canceled', async () => {
      const missing = {
        ...fx.view.segmentsOverlapping(fx.tenant, { startMs: T0, endMs: END })[0].meta,
        id: 'gone',
        objectKey: `tenants/${fx.tenant}/segments/gone`,
      };
      const e = await firnError(pooled.mergeStacks(fx.tenant, CPU, T0, END, { segments: [missing] }));
      const inThread = await firnError(engine.mergeStacks(fx.tenant, CPU, T0, END, { segments: [missing] }));
      expect([e.code, e.message]).toEqual([inThread.code, inThread.message]);
      expect(e.message).toMatch(/gone/);
      const ac = new AbortController();
      const run = pooled.mergeStacks(fx.tenant, CPU, T0, END, { signal: ac.signal });
      ac.abort(new Error('client went away'));
      const c = await firnError(run);
      expect(c.code).toBe('canceled');
      // The pool still serves queries afterwards.
      expect((await pooled.mergeStacks(fx.tenant, CPU, T0, END)).total).toBe(sum(fx.expectedTotals(CPU, [], T0, END)));
    });
  });

  describe('limits and errors', () => {
    it('refuses a query over more segments than maxSegments', async () => {
      const limited = new QueryEngine({ store: fx.store, view: fx.view, maxSegments: 2 });
      const e = await firnError(limited.mergeStacks(fx.tenant, CPU, T0, END));
      expect(e.code).toBe('resource_exhausted');
      expect(e.message).toMatch(/needs 3 segments, more than the limit of 2 \(max_segments\)/);
      expect(e.details).toMatchObject({ limit: 'max_segments', max: 2, segments: 3 });
      expect((await limited.mergeStacks(fx.tenant, CPU, T0, T0 + 40_000)).total).toBeGreaterThan(0);
      expect((await firnError(engine.mergeStacks(fx.tenant, CPU, T0, END, { maxSegments: 1 }))).code).toBe('resource_exhausted');
    });

    it('rejects bad selectors and ranges with invalid_argument', async () => {
      const cases: Array<[string, number, number, RegExp]> = [
        ['', T0, END, /missing profile type/],
        ['cpu{pod="a"}', T0, END, /invalid profile type "cpu"/],
        [`${CPU}{pod=}`, T0, END, /expected a quoted label value/],
        [`${CPU}{pod=~"("}`, T0, END, /invalid regex for label "pod"/],
        [CPU, END, T0, /time range is reversed/],
        [CPU, T0 + 0.5, END, /must be integer milliseconds/],
      ];
      for (const [sel, start, end, msg] of cases) {
        const e = await firnError(engine.mergeStacks(fx.tenant, sel, start, end));
        expect(e.code, sel).toBe('invalid_argument');
        expect(e.message).toMatch(msg);
      }
    });

    it('reads no stacks object again for segments an earlier query mapped', async () => {
      const counting = new CountingStore(fx.store);
      const fresh = new QueryEngine({ store: counting, view: fx.view, maxSegments: 10 });
      const stackBytes = (): number => [...counting.bytesByKey].filter(([k]) => k.endsWith('stacks.parquet')).reduce((s, [, b]) => s + b, 0);
      const first = await fresh.mergeStacks(fx.tenant, `${CPU}{pod="pod-a"}`, T0, END);
      expect(stackBytes()).toBeGreaterThan(0);
      counting.reset();
      // Same stacks (a subset): served from the catalog. Wider: only what is new is read.
      const again = await fresh.mergeStacks(fx.tenant, `${CPU}{pod="pod-a"}`, T0, END);
      expect(stackBytes()).toBe(0);
      expect(totalsOf(again)).toEqual(totalsOf(first));
      const all = await fresh.mergeStacks(fx.tenant, CPU, T0, END);
      expect(totalsOf(all)).toEqual(fx.expectedTotals(CPU, [], T0, END));
      counting.reset();
      await fresh.mergeStacks(fx.tenant, CPU, T0, END);
      expect(stackBytes()).toBe(0);
    });

    it('stops scanning when the signal fires', async () => {
      const ac = new AbortController();
      ac.abort(new Error('client went away'));
      const e = await firnError(engine.mergeStacks(fx.tenant, CPU, T0, END, { signal: ac.signal }));
      expect(e.code).toBe('canceled');
      expect(e.message).toMatch(/client went away/);

      // Abort once the first segment starts reading: later segments are never opened.
      const opened = new Set<string>();
      const late = new AbortController();
      const store = new CountingStore(fx.store);
      const spying: ObjectStore = Object.assign(Object.create(store) as CountingStore, {
        head: async (key: string) => {
          opened.add(key.split('/').slice(-2, -1)[0]);
          late.abort();
          return store.head(key);
        },
      });
      const serial = new QueryEngine({ store: spying, view: fx.view, concurrency: 1 });
      expect((await firnError(serial.mergeStacks(fx.tenant, CPU, T0, END, { signal: late.signal }))).code).toBe('canceled');
      expect([...opened]).toEqual(['segment0000']);
    });
  });
});

describe('span profiles', () => {
  const A = '00000000000000aa';
  const B = 'b0b0b0b0b0b0b0b0';
  const END = T0 + 60_000;
  let fx: QueryFixture;
  let engine: QueryEngine;

  /** mixedRows with every row split three ways: span A, span B and no span. */
  function spanRows(seed: number): Row[] {
    return mixedRows(seed).flatMap((r) => [
      { ...r, value: r.value * 3, span: A },
      { ...r, value: r.value, span: B },
      { ...r, value: r.value * 2 },
    ]);
  }

  beforeAll(async () => {
    fx = await QueryFixture.create();
    const rows = spanRows(3);
    await fx.addSegment(
      rows.filter((r) => r.ts < T0 + 30_000),
      { rowGroupRows: 16 },
    );
    // The compactor's layout: rows by (series, stack, time), stack ids by frames.
    await fx.addSegment(
      rows.filter((r) => r.ts >= T0 + 30_000),
      { rowOrder: 'stack', stackOrder: 'frames', rowGroupRows: 64 },
    );
    // A segment without span profiles at all (no span_id column).
    await fx.addSegment(mixedRows(4).map((r) => ({ ...r, ts: r.ts + 1 })));
    engine = new QueryEngine({ store: fx.store, view: fx.view, concurrency: 2 });
  });

  afterAll(async () => {
    await fx?.cleanup();
  });

  it('merges exactly the rows of the selected spans; without a selection, every row', async () => {
    for (const spans of [[A], [B], [A, B]]) {
      for (const sel of ['', '{pod="pod-a"}']) {
        const want = fx.expectedTotals(CPU, matchersOf(sel), T0, END, fx.rows, spans);
        expect(sum(want)).toBeGreaterThan(0);
        const got = await engine.mergeStacks(fx.tenant, `${CPU}${sel}`, T0, END, { spanIds: spans });
        expect(totalsOf(got), `${spans.join(',')} ${sel}`).toEqual(want);
      }
    }
    expect(totalsOf(await engine.mergeStacks(fx.tenant, CPU, T0, END))).toEqual(fx.expectedTotals(CPU, [], T0, END));
    expect((await engine.mergeStacks(fx.tenant, CPU, T0, END, { spanIds: ['0123456789abcdef'] })).total).toBe(0);
  });

  it('splits across queriers to the same span profile (fan-out); worker threads: see scan workers', async () => {
    const plan = engine.segmentsFor(fx.tenant, CPU, T0, END);
    const parts = await Promise.all(plan.segments.map((seg) => engine.partial(fx.tenant, CPU, T0, END, { segments: [seg], spanIds: [A] })));
    const merged = parts.map((p) => decodePartial(encodePartial(p))).reduce((a, b) => merge(a, b));
    expect(merged).toEqual(await engine.partial(fx.tenant, CPU, T0, END, { spanIds: [A] }));
  });

  it('diffs span profiles: each side only the rows of its own spans, over its share of segments when given one', async () => {
    const a = { selector: CPU, startMs: T0, endMs: END, spanIds: [A] };
    const b = { selector: `${CPU}{pod="pod-a"}`, startMs: T0, endMs: END, spanIds: [B] };
    const wantA = fx.expectedTotals(CPU, [], T0, END, fx.rows, [A]);
    const wantB = fx.expectedTotals(CPU, matchersOf('{pod="pod-a"}'), T0, END, fx.rows, [B]);
    const [whole, shared] = [
      await engine.diff(fx.tenant, a, b),
      await engine.diff(
        fx.tenant,
        { ...a, segments: engine.segmentsFor(fx.tenant, a.selector, T0, END).segments },
        { ...b, segments: engine.segmentsFor(fx.tenant, b.selector, T0, END).segments },
      ),
    ];
    for (const d of [whole, shared]) {
      expect(d.stacks.length).toBe(new Set([...wantA.keys(), ...wantB.keys()]).size);
      d.stacks.forEach((st, i) => {
        expect(d.values[i]).toBe(wantB.get(framesKey(st)) ?? 0);
        expect(d.base?.[i]).toBe(wantA.get(framesKey(st)) ?? 0);
      });
    }
    // A share of one segment: only its rows.
    for (const seg of engine.segmentsFor(fx.tenant, CPU, T0, END).segments) {
      const alone = (await engine.mergeStacks(fx.tenant, CPU, T0, END, { segments: [seg], spanIds: [A] })).total;
      const one = await engine.diff(fx.tenant, { ...a, segments: [seg] }, { ...b, segments: [] });
      expect(one.total).toBe(0);
      expect(one.base ? one.base.reduce((x, y) => x + y, 0) : 0).toBe(alone);
    }
    expect(sum(wantA)).toBeGreaterThan(0);
    expect(sum(wantB)).toBeGreaterThan(0);
  });

  it('refuses a span id that is not 16 lowercase hex digits', async () => {
    expect((await firnError(engine.mergeStacks(fx.tenant, CPU, T0, END, { spanIds: ['not-a-span'] }))).message).toMatch(/not 16 lowercase hex digits/);
  });
});

function matchesAll(matchers: LabelMatcher[], labels: Label[]): boolean {
  return matchers.every((m) => {
    const v = labels.find(([n]) => n === m.name)?.[1] ?? '';
    switch (m.op) {
      case '=':
        return v === m.value;
      case '!=':
        return v !== m.value;
      case '=~':
        return new RegExp(`^(?:${m.value})$`).test(v);
      case '!~':
        return !new RegExp(`^(?:${m.value})$`).test(v);
    }
  });
}

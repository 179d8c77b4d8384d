import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  bytesSource,
  keysOfDir,
  ParquetReader,
  readSegment,
  readSegmentSamples,
  SAMPLES_SORT,
  SCHEMA_METADATA_KEY,
  segmentDir,
  segmentKeys,
  SORT_METADATA_KEY,
  STACKS_SCHEMA_ID,
} from '@firn/segments';
import { LocalDirStore } from '@firn/storage';
import { tenantFromTrustedSource } from '@firn/tenancy';
import { mergeSegments } from './merge';
import { ALLOC, CPU, frame, rowsFor, sorted, totalsOf, writeL0, type FixtureRow } from './testing/segment-fixture';

const t1 = tenantFromTrustedSource('t1');
const T0 = Date.UTC(2026, 0, 1, 10, 0, 0);

describe(mergeSegments.name, () => {
  let dir: string;
  let store: LocalDirStore;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'firn-merge-'));
    store = new LocalDirStore({ dir });
  });

  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('keeps every total, one stack table, sorted rows, and fewer rows than the inputs (stacks v1 inputs too)', async () => {
    const inputs = [];
    for (let i = 0; i < 5; i++) {
      // Segments written before stacks v2 (frames in full) merge with v2 ones into a v2 block.
      const stacksLayout = i % 2 === 1 ? 'v1' : 'v2';
      inputs.push(await writeL0(store, t1, rowsFor(i + 1, T0 + i * 10_000, 10, { stacks: 8 }), { stacksLayout }));
    }
    const { built, inputRows } = await mergeSegments(store, inputs);
    const stacksReader = await ParquetReader.open(bytesSource(built.stacks));
    expect(stacksReader.layout().keyValueMetadata[SCHEMA_METADATA_KEY]).toBe(STACKS_SCHEMA_ID);
    stacksReader.close();
    const keys = segmentKeys(t1, 1, 'merged00000001', '2026-01-01');
    await store.put(keys.samples, built.samples);
    await store.put(keys.stacks, built.stacks);
    const out = await totalsOf(store, [{ objectKey: segmentDir(keys) }]);
    expect(sorted(out)).toEqual(sorted(await totalsOf(store, inputs)));
    expect(built.meta.rows).toBeLessThanOrEqual(inputRows);
    expect(built.meta.samples).toBe(inputs.reduce((n, s) => n + Number(s.samples), 0));
    const table = await readSegmentSamples((await readSegment(store, keys)).samples);
    const ts = table.getChild('timestamp')!.toArray() as BigInt64Array;
    const sid = table.getChild('series_id')!.toArray() as Uint32Array;
    const stk = table.getChild('stack_id')!.toArray() as Uint32Array;
    expect(table.schema.metadata.get(SORT_METADATA_KEY)).toBe(SAMPLES_SORT.stack);
    let runs = 0;
    for (let i = 1; i < table.numRows; i++) {
      // Sorted by (profile type, series, stack, timestamp): within a series stack ids never go
      // back, and within a (series, stack) run time never goes back.
      if (sid[i] !== sid[i - 1]) continue;
      expect(stk[i]).toBeGreaterThanOrEqual(stk[i - 1]);
      if (stk[i] === stk[i - 1]) {
        runs++;
        expect(ts[i] > ts[i - 1]).toBe(true);
      }
    }
    expect(runs).toBeGreaterThan(0);
  });

  it("keeps every row's span id: blocks hold span profiles like the segments they merge", async () => {
    const A = '00000000000000aa';
    const B = 'b0b0b0b0b0b0b0b0';
    const spanTotals = async (objectKeys: string[]): Promise<Record<string, number>> => {
      const out: Record<string, number> = {};
      for (const k of objectKeys) {
        const table = await readSegmentSamples((await readSegment(store, keysOfDir(k))).samples);
        const span = table.getChild('span_id');
        const value = table.getChild('value')!.toArray() as BigInt64Array;
        for (let i = 0; i < table.numRows; i++) {
          const id = (span?.get(i) as string | null | undefined) ?? '';
          out[id] = (out[id] ?? 0) + Number(value[i]);
        }
      }
      return out;
    };
    const base = rowsFor(7, T0, 10, { stacks: 4 });
    const withSpans = base.flatMap((r) => [
      { ...r, span: A },
      { ...r, value: r.value * 2, span: B },
      { ...r, value: r.value * 5 },
    ]);
    const inputs = [
      await writeL0(store, t1, withSpans.slice(0, 40)),
      await writeL0(store, t1, withSpans.slice(40)),
      await writeL0(store, t1, rowsFor(8, T0, 10)),
    ];
    const want = await spanTotals(inputs.map((m) => m.objectKey));
    expect(Object.keys(want).sort()).toEqual(['', A, B]);
    for (const bucketMs of [0, 5_000]) {
      const { built } = await mergeSegments(store, inputs, { bucketMs });
      const keys = segmentKeys(t1, 1, `spans0000000${bucketMs}`, '2026-01-01');
      await store.put(keys.samples, built.samples);
      await store.put(keys.stacks, built.stacks);
      expect(await spanTotals([segmentDir(keys)]), `bucket ${bucketMs}`).toEqual(want);
      expect(sorted(await totalsOf(store, [{ objectKey: segmentDir(keys) }]))).toEqual(sorted(await totalsOf(store, inputs)));
    }
  });

  it('sums rows sharing a time bucket and keeps the totals exact', async () => {
    const rows: FixtureRow[] = [];
    for (let s = 0; s < 20; s++) rows.push({ pt: CPU, labels: [['pod', 'a']], stack: [frame('f'), frame('main')], value: 2, ts: T0 + s * 1000 });
    const a = await writeL0(store, t1, rows.slice(0, 10));
    const b = await writeL0(store, t1, rows.slice(10));
    const { built } = await mergeSegments(store, [a, b], { bucketMs: 10_000 });
    expect(built.meta.rows).toBe(2);
    expect(built.meta.samples).toBe(40);
    expect(built.meta.minTimeMs).toBe(T0);
    expect(built.meta.maxTimeMs).toBe(T0 + 10_000);
  });

  it('preserves totals for any split of any rows, with and without buckets (property)', async () => {
    const stacks = [[frame('a')], [frame('b'), frame('a')], [frame('c'), frame('b'), frame('a')], [frame('a', 2)]];
    const row = fc.record({
      pt: fc.constantFrom(CPU, ALLOC),
      pod: fc.constantFrom('p1', 'p2', 'p3'),
      zone: fc.option(fc.constantFrom('z1', 'z2'), { nil: undefined }),
      stack: fc.nat({ max: stacks.length - 1 }),
      value: fc.integer({ min: 1, max: 1000 }),
      sec: fc.nat({ max: 120 }),
    });
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.array(row, { minLength: 1, maxLength: 30 }), { minLength: 1, maxLength: 4 }),
        fc.constantFrom(0, 1000, 10_000, 60_000),
        async (segments, bucketMs) => {
          const metas = [];
          for (const rs of segments) {
            metas.push(
              await writeL0(
                store,
                t1,
                rs.map((r) => ({
                  pt: r.pt,
                  labels: r.zone
                    ? ([
                        ['pod', r.pod],
                        ['zone', r.zone],
                      ] as Array<[string, string]>)
                    : [['pod', r.pod]],
                  stack: stacks[r.stack],
                  value: r.value,
                  ts: T0 + r.sec * 1000,
                })),
              ),
            );
          }
          const { built } = await mergeSegments(store, metas, { bucketMs });
          const keys = segmentKeys(t1, 1, `prop${Date.now().toString(16)}${Math.floor(Math.random() * 1e9)}`, '2026-01-01');
          await store.put(keys.samples, built.samples);
          await store.put(keys.stacks, built.stacks);
          const merged = await totalsOf(store, [{ objectKey: segmentDir(keys) }]);
          expect(sorted(merged)).toEqual(sorted(await totalsOf(store, metas)));
        },
      ),
      { numRuns: 25 },
    );
  });
});

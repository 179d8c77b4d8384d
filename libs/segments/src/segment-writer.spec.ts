import type { Table } from 'apache-arrow';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isFirnError } from '@firn/errors';
import { compareLabelSets, compareStrings } from './label-order';
import type { Frame, SampleBatch } from '@firn/profiles';
import { readSegmentSamples, readSegmentStacks, totalsBySeriesAndStack } from './segment-reader';
import { readParquetTable, writeParquetTable } from './parquet';
import { labelNameOfColumn, SAMPLES_SORT, SCHEMA_METADATA_KEY, SORT_METADATA_KEY, StackColumn, STACKS_SCHEMA_ID, STACKS_V1_SCHEMA_ID } from './segment-schema';
import { buildSegment } from './segment-writer';
import { mergeBatches } from './merge-batches';
import { samplesFromArrow, samplesToArrow, stackKey } from '@firn/profiles';
import { ALLOC, CPU, EMPTY_STACK, expectedTotals, GO_CPU, INLINED, mixedBatches, NATIVE, NOT_INLINED, spanBatch } from './testing/mixed-batches';
import { batchOf, fleetBatches } from './testing/synthetic-batches';

interface Row {
  pt: string;
  labels: Array<[string, string]>;
  seriesId: number;
  stackId: number;
  value: bigint;
  ts: bigint;
  duration: bigint;
  period: bigint;
}

function schemaOf(parquet: Uint8Array): string | undefined {
  return readParquetTable(parquet).schema.metadata.get(SCHEMA_METADATA_KEY);
}

function rowsOf(table: Table): Row[] {
  const labelCols = table.schema.fields.map((f) => f.name).filter((n) => labelNameOfColumn(n) !== undefined);
  const rows: Row[] = [];
  for (let i = 0; i < table.numRows; i++) {
    const labels: Array<[string, string]> = [];
    for (const c of labelCols) {
      const v = table.getChild(c)?.get(i) as string | null;
      if (v !== null) labels.push([labelNameOfColumn(c) ?? '', v]);
    }
    rows.push({
      pt: table.getChild('profile_type')?.get(i) as string,
      labels,
      seriesId: table.getChild('series_id')?.get(i) as number,
      stackId: table.getChild('stack_id')?.get(i) as number,
      value: table.getChild('value')?.get(i) as bigint,
      ts: table.getChild('timestamp')?.get(i) as bigint,
      duration: table.getChild('duration')?.get(i) as bigint,
      period: table.getChild('period')?.get(i) as bigint,
    });
  }
  return rows;
}

function isFirnInvalid(fn: () => unknown, message: RegExp): void {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(isFirnError(caught, 'invalid_argument'), String(caught)).toBe(true);
  expect((caught as Error).message).toMatch(message);
}

describe(buildSegment.name, () => {
  it('preserves totals per (profile type, series, stack) through write and read', async () => {
    const batches = mixedBatches();
    const built = buildSegment(batches);
    const totals = await totalsBySeriesAndStack(built.samples, built.stacks);
    expect(Object.fromEntries(totals)).toEqual(Object.fromEntries(expectedTotals(batches)));
  });

  it('writes every column with the documented Arrow type and nullability', async () => {
    const table = await readSegmentSamples(buildSegment(mixedBatches()).samples);
    const types = Object.fromEntries(table.schema.fields.map((f) => [f.name, `${f.type}${f.nullable ? '?' : ''}`]));
    expect(types).toEqual({
      profile_type: 'Dictionary<Int32, Utf8>',
      'labels.namespace': 'Dictionary<Int32, Utf8>?',
      'labels.pod': 'Dictionary<Int32, Utf8>?',
      'labels.region': 'Dictionary<Int32, Utf8>?',
      series_id: 'Uint32',
      stack_id: 'Uint32',
      value: 'Int64',
      timestamp: 'Int64',
      duration: 'Int64',
      period: 'Int64',
    });
    expect(table.schema.metadata.get('firn.schema')).toBe('segment.samples.v1');
  });

  it('stores span profiles in a nullable span_id column, never summing rows of different spans', async () => {
    const withSpans = spanBatch();
    const table = await readSegmentSamples(buildSegment([withSpans, ...mixedBatches()], { rowGroupRows: 3 }).samples);
    const field = table.schema.fields.find((f) => f.name === 'span_id');
    expect(`${field?.type}${field?.nullable ? '?' : ''}`).toBe('Dictionary<Int32, Utf8>?');
    const span = table.getChild('span_id');
    const value = table.getChild('value')!.toArray() as BigInt64Array;
    const bySpan: Record<string, number> = {};
    for (let i = 0; i < table.numRows; i++) {
      const id = (span?.get(i) as string | null) ?? '';
      bySpan[id] = (bySpan[id] ?? 0) + Number(value[i]);
    }
    const mixedTotal = mixedBatches().reduce((t, b) => t + b.value.reduce((x, y) => x + y, 0), 0);
    expect(bySpan).toEqual({ '00000000000000aa': 3 + 4, b0b0b0b0b0b0b0b0: 2, '': 1 + mixedTotal });
  });

  it('round-trips frames exactly: huge and zero addresses, inline flags, unicode, empty stacks', async () => {
    const built = buildSegment(mixedBatches(), { rowGroupRows: 1 });
    const stacks = await readSegmentStacks(built.stacks);
    const byKey = new Map([...stacks.values()].map((s) => [s.key, s.frames]));
    for (const frames of [NATIVE, INLINED, NOT_INLINED, EMPTY_STACK]) {
      expect(byKey.get(stackKey(frames))).toEqual(frames);
    }
    expect(stackKey(INLINED)).not.toBe(stackKey(NOT_INLINED));
    expect(byKey.size).toBe(4);
  });

  it('writes each distinct frame once (the v2 frame table) and reads stacks that share them, as v1 segments still read', async () => {
    // Equal frames as distinct objects (as a compaction's inputs hold them) are one table entry.
    const copies = mixedBatches().map((b) => ({ ...b, stacks: b.stacks.map((st) => st.map((f) => ({ ...f }))) }));
    const built = buildSegment(copies, { rowGroupRows: 2 });
    const v1 = buildSegment(mixedBatches(), { rowGroupRows: 2, stacksLayout: 'v1' });
    expect(schemaOf(built.stacks)).toBe(STACKS_SCHEMA_ID);
    expect(schemaOf(v1.stacks)).toBe(STACKS_V1_SCHEMA_ID);
    const table = readParquetTable(built.stacks);
    const frameTable = table.getChild(StackColumn.frameTable);
    expect(frameTable?.nullCount).toBe(table.numRows - 1);
    const distinct = new Set(copies.flatMap((b) => b.stacks.flat().map((f) => JSON.stringify({ ...f, address: String(f.address) }))));
    expect(frameTable?.get(0)?.length).toBe(distinct.size);
    expect(table.getChild(StackColumn.frames)).toBeNull();

    const stacks = await readSegmentStacks(built.stacks);
    expect([...stacks.entries()]).toEqual([...(await readSegmentStacks(v1.stacks)).entries()]);
    expect(await totalsBySeriesAndStack(built.samples, built.stacks)).toEqual(await totalsBySeriesAndStack(v1.samples, v1.stacks));
    // INLINED and NOT_INLINED differ only in the inline flag of their inlined frames: those are
    // two table entries, while frames equal in every stored field are one object.
    const byKey = new Map([...stacks.values()].map((st) => [st.key, st.frames]));
    const inl = byKey.get(stackKey(INLINED)) ?? [];
    const notInl = byKey.get(stackKey(NOT_INLINED)) ?? [];
    inl.forEach((f, i) => expect(f === notInl[i]).toBe(!f.inlined));
    const objects = new Set([...stacks.values()].flatMap((st) => st.frames));
    expect(objects.size).toBe(distinct.size);
  });

  it('writes the same segment from batches the Arrow decoder interned as from plain copies, also mixed in either order', async () => {
    const decoded = [...mixedBatches(), spanBatch()].map((b) => samplesFromArrow(samplesToArrow(b), { maxRows: 1e5, maxStackDepth: 1e3, maxBytes: 1 << 24 }));
    // A copy keeps every field but not what the decoder attached: its stacks take the map path.
    const plain = decoded.map((b): SampleBatch => ({ ...b }));
    expect(mergeBatches(decoded).stacks.every((st) => st.frameIds !== undefined)).toBe(true);
    expect(mergeBatches(plain).stacks.some((st) => st.frameIds !== undefined)).toBe(false);
    // Content, not bytes: parquet-wasm writes key-value metadata in no fixed order.
    const same = async (a: ReturnType<typeof buildSegment>, b: ReturnType<typeof buildSegment>): Promise<void> => {
      expect(rowsOf(readParquetTable(a.samples))).toEqual(rowsOf(readParquetTable(b.samples)));
      expect([...(await readSegmentStacks(a.stacks)).entries()]).toEqual([...(await readSegmentStacks(b.stacks)).entries()]);
      const frameTableSize = (built: ReturnType<typeof buildSegment>) => readParquetTable(built.stacks).getChild(StackColumn.frameTable)?.get(0)?.length;
      expect(frameTableSize(a)).toBe(frameTableSize(b));
    };
    await same(buildSegment(decoded), buildSegment(plain));
    // Every stack twice, once each way: equal stacks must still be one stack id.
    const twice = buildSegment([...plain, ...plain]);
    await same(buildSegment([...decoded, ...plain]), twice);
    await same(buildSegment([...plain, ...decoded]), twice);
    await same(buildSegment([...decoded, ...decoded]), twice);
    for (const stackOrder of ['frames', 'key'] as const) {
      const opts = { stackOrder, rowOrder: 'stack' } as const;
      await same(buildSegment([...decoded, ...plain], opts), buildSegment([...plain, ...plain], opts));
    }
  });

  it('keeps frames apart that differ in any one stored field (the frame table compares every field)', async () => {
    const base: Frame = { buildId: 'b1', mappingFile: '/bin/app', address: 0x1000n, functionName: 'f', fileName: 'f.c', line: 10, inlined: false };
    const variants: Frame[] = [
      base,
      { ...base, buildId: 'b2' },
      { ...base, mappingFile: '/bin/other' },
      { ...base, address: 0x1000n + (1n << 32n) }, // same low word
      { ...base, address: 2n ** 64n - 1n },
      { ...base, functionName: 'g' },
      { ...base, fileName: 'g.c' },
      { ...base, line: 10 + 2 ** 32 }, // same low 32 bits of the line
      { ...base, inlined: true },
    ];
    // Each variant leads its own stack, under the same (shared) root; copies of each come again in a second stack.
    const root: Frame = { ...base, functionName: 'main', line: 1 };
    const rows = variants.flatMap((v, i) => [
      { pt: CPU, labels: [['pod', 'a']] as Array<[string, string]>, stack: [v, root], value: i + 1, ts: 1_000 },
      { pt: CPU, labels: [['pod', 'a']] as Array<[string, string]>, stack: [{ ...v }, { ...root }, { ...v }], value: 1, ts: 2_000 },
    ]);
    const built = buildSegment([batchOf(rows)]);
    expect(readParquetTable(built.stacks).getChild(StackColumn.frameTable)?.get(0)?.length).toBe(variants.length + 1);
    const byKey = new Map([...(await readSegmentStacks(built.stacks)).values()].map((st) => [st.key, st.frames]));
    for (const v of variants) {
      expect(byKey.get(stackKey([v, root]))).toEqual([v, root]);
      expect(byKey.get(stackKey([v, root, v]))).toEqual([v, root, v]);
    }
  });

  it('refuses a v2 stacks object whose frame ids point past its frame table', async () => {
    const built = buildSegment(mixedBatches());
    const table = readParquetTable(built.stacks);
    const ids = table.getChild(StackColumn.frameIds)?.data[0].children[0].values as Uint32Array;
    ids[0] = 1_000_000;
    const bad = writeParquetTable(table, { rowGroupRows: 1024, metadata: { [SCHEMA_METADATA_KEY]: STACKS_SCHEMA_ID } });
    await expect(readSegmentStacks(bad)).rejects.toSatisfy((e) => isFirnError(e) && /frame id 1000000 is past the frame table/.test((e as Error).message));
  });

  it('sorts rows by (profile type, labels, timestamp, stack id) and assigns dense ids in that order', async () => {
    const built = buildSegment(mixedBatches());
    const rows = rowsOf(await readSegmentSamples(built.samples));
    const stacks = await readSegmentStacks(built.stacks);
    for (let i = 1; i < rows.length; i++) {
      const a = rows[i - 1];
      const b = rows[i];
      const c = compareStrings(a.pt, b.pt) || compareLabelSets(a.labels, b.labels) || Number(a.ts - b.ts) || a.stackId - b.stackId;
      expect(c, `rows ${i - 1} and ${i}`).toBeLessThan(0);
    }
    // series ids: dense and in label order; one id per label set.
    const seriesIds = new Map<number, string>();
    for (const r of rows) {
      const prev = seriesIds.get(r.seriesId);
      expect(prev === undefined || prev === JSON.stringify(r.labels)).toBe(true);
      seriesIds.set(r.seriesId, JSON.stringify(r.labels));
    }
    const ids = [...seriesIds.keys()].sort((x, y) => x - y);
    expect(ids).toEqual(ids.map((_, i) => i));
    for (let i = 1; i < ids.length; i++) {
      expect(compareLabelSets(JSON.parse(seriesIds.get(i - 1) ?? ''), JSON.parse(seriesIds.get(i) ?? ''))).toBeLessThan(0);
    }
    // stack ids: dense, every one used, ordered by stack key.
    expect([...stacks.keys()].sort((x, y) => x - y)).toEqual([0, 1, 2, 3]);
    expect(new Set(rows.map((r) => r.stackId)).size).toBe(stacks.size);
    const keys = [0, 1, 2, 3].map((id) => stacks.get(id)?.key ?? '');
    expect(keys).toEqual([...keys].sort());
  });

  it('sorts by (profile type, labels, stack id, timestamp) with ids in frame order when asked, same rows and totals', async () => {
    const batches = fleetBatches({ seed: 3, agents: 2, podsPerAgent: 4, distinctStacks: 200, samplesPerPodWindow: 40, windows: 4, startMs: 1_700_000_000_000 });
    const byTime = buildSegment(batches, { rowGroupRows: 64 });
    const byStack = buildSegment(batches, { rowGroupRows: 64, rowOrder: 'stack', stackOrder: 'frames' });
    const totals = Object.fromEntries(await totalsBySeriesAndStack(byStack.samples, byStack.stacks));
    expect(totals).toEqual(Object.fromEntries(await totalsBySeriesAndStack(byTime.samples, byTime.stacks)));
    expect(totals).toEqual(Object.fromEntries(expectedTotals(batches)));
    expect({ ...byStack.meta, bytes: 0 }).toEqual({ ...byTime.meta, bytes: 0 });

    const table = await readSegmentSamples(byStack.samples);
    expect(table.schema.metadata.get(SORT_METADATA_KEY)).toBe(SAMPLES_SORT.stack);
    expect((await readSegmentSamples(byTime.samples)).schema.metadata.get(SORT_METADATA_KEY)).toBe(SAMPLES_SORT.time);
    const rows = rowsOf(table);
    for (let i = 1; i < rows.length; i++) {
      const [a, b] = [rows[i - 1], rows[i]];
      if (a.pt !== b.pt || a.seriesId !== b.seriesId) continue;
      expect(b.stackId).toBeGreaterThanOrEqual(a.stackId);
      if (b.stackId === a.stackId) expect(b.ts > a.ts).toBe(true);
    }
    // Stack ids follow the frames root first, so call paths sharing a root are neighbours.
    const stacks = await readSegmentStacks(byStack.stacks);
    const roots = [...stacks.keys()].sort((x, y) => x - y).map((id) => stacks.get(id)?.frames.at(-1));
    for (let i = 1; i < roots.length; i++) {
      const [a, b] = [roots[i - 1], roots[i]];
      if (!a || !b) continue;
      const cmp = compareStrings(a.buildId, b.buildId);
      expect(cmp < 0 || (cmp === 0 && a.address <= b.address), `root of stack ${i} sorts before stack ${i - 1}'s`).toBe(true);
    }
    // Projected reads by row group (the querier's path) decode the delta-packed stack_id.
    const projected = await readSegmentSamples(byStack.samples, { columns: ['stack_id'], rowGroups: [1] });
    expect(Array.from(projected.getChild('stack_id')?.toArray() as Uint32Array)).toEqual(rows.slice(64, 128).map((r) => r.stackId));
  });

  it('sums equal rows across and within batches, keeps max duration/period, drops zeros', async () => {
    const built = buildSegment(mixedBatches());
    const rows = rowsOf(await readSegmentSamples(built.samples));
    const nativePodA = rows.filter((r) => r.pt === CPU && r.labels.some(([, v]) => v === 'api-7f9c') && r.value === 10n);
    expect(nativePodA).toHaveLength(1); // 5 + 4 (batch 1) + 1 (batch 2)
    expect(rows.some((r) => r.value === 0n)).toBe(false);
    expect(rows).toHaveLength(10);
    const alloc = rows.find((r) => r.pt === ALLOC);
    expect(alloc).toMatchObject({ labels: [], value: 2n ** 40n, duration: 0n, period: 524288n });
    const go = rows.filter((r) => r.pt === GO_CPU).map((r) => [r.ts, r.value, r.period]);
    expect(go).toEqual([
      [1_700_000_000_005n, 10_000_000n, 10_000_000n],
      [1_700_000_000_006n, 20_000_000n, 52_631_578n],
    ]);
  });

  it('reports segment statistics for the manifest', () => {
    const built = buildSegment(mixedBatches());
    expect(built.meta).toEqual({
      minTimeMs: 1_700_000_000_000 - 5,
      maxTimeMs: 1_700_000_000_040,
      profileTypes: [ALLOC, CPU, GO_CPU],
      labels: [
        { name: 'namespace', values: ['prod', 'staging'], truncated: false },
        { name: 'pod', values: ['api-7f9c', 'wörker-😀'], truncated: false },
        { name: 'region', values: ['eu-west-1'], truncated: false },
      ],
      rows: 10,
      // count unit: 10 + 3 + 2 + 7 + 1 + 1 + 1 = 25; the alloc (bytes) row and two nanosecond rows count 1 each.
      samples: 28,
      bytes: built.samples.byteLength + built.stacks.byteLength + built.series.byteLength,
    });
  });

  it('caps the label summary and marks it truncated', () => {
    const rows = Array.from({ length: 10 }, (_, i) => ({ pt: CPU, labels: [['pod', `p${i}`]] as Array<[string, string]>, stack: NATIVE, value: 1, ts: i }));
    const meta = buildSegment([batchOf(rows)], { maxLabelValuesInSummary: 3 }).meta;
    expect(meta.labels).toEqual([{ name: 'pod', values: ['p0', 'p1', 'p2'], truncated: true }]);
    const exact = buildSegment([batchOf(rows)], { maxLabelValuesInSummary: 10 }).meta;
    expect(exact.labels[0]).toMatchObject({ truncated: false });
    expect(exact.labels[0].values).toHaveLength(10);
  });

  it('splits rows into row groups of the configured size', async () => {
    const rows = Array.from({ length: 25 }, (_, i) => ({ pt: CPU, labels: [] as Array<[string, string]>, stack: NATIVE, value: 1, ts: i }));
    const built = buildSegment([batchOf(rows)], { rowGroupRows: 10 });
    const rg2 = await readSegmentSamples(built.samples, { rowGroups: [2] });
    expect(rg2.numRows).toBe(5);
    expect(rowsOf(rg2).map((r) => r.ts)).toEqual([20n, 21n, 22n, 23n, 24n]);
  });

  it('rejects empty input with a clear error', () => {
    isFirnInvalid(() => buildSegment([]), /at least one SampleBatch/);
    isFirnInvalid(() => buildSegment([batchOf([])]), /without rows/);
    isFirnInvalid(() => buildSegment([batchOf([{ pt: CPU, labels: [], stack: NATIVE, value: 0, ts: 1 }])]), /all values are 0/);
  });

  it('rejects malformed batches, naming the problem', () => {
    const good = () => batchOf([{ pt: CPU, labels: [['pod', 'a']], stack: NATIVE, value: 1, ts: 1 }]);
    const mutate = (f: (b: SampleBatch) => void): SampleBatch[] => {
      const b = good();
      f(b);
      return [b];
    };
    isFirnInvalid(() => buildSegment(mutate((b) => (b.stack = new Uint32Array([7])))), /stack 7 is out of range/);
    isFirnInvalid(() => buildSegment(mutate((b) => (b.value = new Float64Array(2)))), /value has 2 entries/);
    isFirnInvalid(() => buildSegment(mutate((b) => (b.value[0] = 1.5))), /value must be an integer/);
    isFirnInvalid(() => buildSegment(mutate((b) => (b.timestampMs[0] = NaN))), /timestampMs must be an integer/);
    isFirnInvalid(
      () =>
        buildSegment(
          mutate(
            (b) =>
              (b.series[0] = [
                ['pod', 'a'],
                ['app', 'b'],
              ]),
          ),
        ),
      /sorted by name/,
    );
    isFirnInvalid(() => buildSegment(mutate((b) => (b.series[0] = [['bad-name', 'a']]))), /invalid label name/);
    isFirnInvalid(() => buildSegment(mutate((b) => (b.stacks[0] = [{ ...NATIVE[0], address: -1n }]))), /uint64/);
    isFirnInvalid(() => buildSegment([good()], { rowGroupRows: 0 }), /rowGroupRows/);
  });

  it('preserves totals for random batches (property)', async () => {
    const frameArb: fc.Arbitrary<Frame> = fc.record({
      buildId: fc.constantFrom('', 'aa', 'bb'),
      mappingFile: fc.constantFrom('', '/bin/x'),
      address: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
      functionName: fc.string({ maxLength: 4 }),
      fileName: fc.constantFrom('', 'f.go'),
      line: fc.integer({ min: 0, max: 5 }),
      inlined: fc.boolean(),
    });
    const stacksArb = fc.array(fc.array(frameArb, { maxLength: 3 }), { minLength: 1, maxLength: 4 });
    const labelsArb = fc
      .dictionary(fc.constantFrom('a', 'b', 'c', 'pod'), fc.constantFrom('x', 'y', 'ü', ''), { maxKeys: 3 })
      .map((d) => Object.entries(d).sort(([x], [y]) => compareStrings(x, y)) as Array<[string, string]>);
    const batchArb = fc
      .record({
        stacks: stacksArb,
        series: fc.array(labelsArb, { minLength: 1, maxLength: 3 }),
        rows: fc.array(
          fc.record({
            pt: fc.constantFrom(CPU, GO_CPU),
            series: fc.nat(),
            stack: fc.nat(),
            value: fc.integer({ min: -3, max: 5 }),
            ts: fc.integer({ min: 0, max: 3 }),
          }),
          { minLength: 1, maxLength: 30 },
        ),
      })
      .map(({ stacks, series, rows }) =>
        batchOf(rows.map((r) => ({ pt: r.pt, labels: series[r.series % series.length], stack: stacks[r.stack % stacks.length], value: r.value, ts: r.ts }))),
      );
    await fc.assert(
      fc.asyncProperty(fc.array(batchArb, { minLength: 1, maxLength: 3 }), fc.integer({ min: 1, max: 8 }), async (batches, rowGroupRows) => {
        const expected = expectedTotals(batches);
        let built;
        try {
          built = buildSegment(batches, { rowGroupRows });
        } catch (err) {
          // Only legitimate failure: every row summed to zero.
          expect(isFirnError(err, 'invalid_argument')).toBe(true);
          return;
        }
        const got = await totalsBySeriesAndStack(built.samples, built.stacks);
        // Frames decode to exactly the content their key was computed from (across row groups too).
        for (const { key, frames } of (await readSegmentStacks(built.stacks)).values()) expect(stackKey(frames)).toBe(key);
        // Totals per (type, series, stack) may include per-timestamp rows that cancel; compare non-zero sums.
        for (const [k, v] of got) if (v === 0) got.delete(k);
        expect(Object.fromEntries(got)).toEqual(Object.fromEntries(expected));
      }),
      { numRuns: 60 },
    );
  });
});

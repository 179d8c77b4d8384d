import { FirnError } from '@firn/errors';
import {
  Bool,
  Dictionary,
  Field,
  Float64,
  Int16,
  Int32,
  Int64,
  List,
  Struct,
  Table,
  Uint32,
  Uint64,
  Utf8,
  type DataType,
  tableFromIPC,
  tableToIPC,
  vectorFromArray,
  type Vector,
} from 'apache-arrow';
import fc from 'fast-check';
import { createRequire } from 'node:module';
import { expectInvalid } from './expect-invalid';
import { describe, expect, it } from 'vitest';
import { checkSamplesArrow, samplesFromArrow, samplesToArrow, type ArrowCheckedSamples, type ArrowLimits } from './arrow-samples';
import { SampleBatchBuilder, builderFramesOf, type Frame, type SampleBatch } from './sample-batch';
import { stackKey } from './stack-key';
import { rowsArb } from './test-arbitraries';

const LIMITS = { maxRows: 1_000_000, maxStackDepth: 1000, maxBytes: 64 << 20 };
const CPU = 'parca_agent:samples:count:cpu:nanoseconds:delta';

const frame = (fn: string, inlined = false, address = 0x1234n): Frame => ({
  buildId: 'b1d',
  mappingFile: '/usr/bin/app',
  address,
  functionName: fn,
  fileName: 'app.c',
  line: 42,
  inlined,
});

function sampleBatch(): SampleBatch {
  const b = new SampleBatchBuilder();
  b.add(
    CPU,
    [
      ['node', 'n1'],
      ['thread_name', 'worker'],
    ],
    [frame('leaf', true), frame('mid'), frame('main', false, 0xffff_ffff_ffff_ffffn)],
    7,
    1_700_000_000_000,
    10e9,
    52_631_578,
  );
  b.add(CPU, [['node', 'n1']], [frame('leaf', true), frame('mid')], 3, 1_700_000_000_000, 10e9, 52_631_578);
  b.add(CPU, [['node', 'n2']], [], 1, 1_700_000_001_000, 0, 0);
  b.add('memory:inuse_space:bytes:space:bytes', [['node', 'n1']], [frame('mid')], 2 ** 40, 1_700_000_000_000, 0, 0);
  return b.build();
}

/** Order-independent view of a batch: one string per row. */
function canonical(b: SampleBatch): string[] {
  const rows: string[] = [];
  for (let i = 0; i < b.length; i++) {
    rows.push(
      JSON.stringify([
        b.profileTypes[b.profileType[i]],
        b.series[b.seriesIdx[i]],
        stackKey(b.stacks[b.stack[i]]),
        b.value[i],
        b.timestampMs[i],
        b.durationNs[i],
        b.periodNs[i],
      ]),
    );
  }
  return rows.sort();
}

function ipcOf(columns: Record<string, Vector>, meta: string | null = 'samples.v1'): Uint8Array {
  const t = new Table(columns);
  if (meta !== null) t.schema.metadata.set('firn.schema', meta);
  return tableToIPC(t, 'stream');
}

const dict = () => new Dictionary(new Utf8(), new Int32());
const i64 = (xs: number[]) => vectorFromArray(xs.map(BigInt), new Int64());
const plainFrame = new Struct([
  new Field('build_id', new Utf8(), false),
  new Field('mapping_file', new Utf8(), false),
  new Field('address', new Uint64(), false),
  new Field('function_name', new Utf8(), false),
  new Field('file_name', new Utf8(), false),
  new Field('line', new Int64(), false),
  new Field('inlined', new Bool(), false),
]);
const plainStack = (stacks: Array<Array<{ fn: string; inlined?: boolean }>>) =>
  vectorFromArray(
    stacks.map((s) =>
      s.map((f) => ({ build_id: '', mapping_file: '', address: 0n, function_name: f.fn, file_name: '', line: 0n, inlined: f.inlined ?? false })),
    ),
    new List(new Field('item', plainFrame, false)),
  );
function validColumns(n = 2): Record<string, Vector> {
  return {
    profile_type: vectorFromArray(Array(n).fill(CPU), dict()),
    'labels.node': vectorFromArray(
      Array.from({ length: n }, (_, i) => (i % 2 ? null : 'n1')),
      dict(),
    ),
    stack: plainStack(Array.from({ length: n }, (_, i) => [{ fn: 'leaf', inlined: true }, { fn: `f${i}` }])),
    value: i64(Array(n).fill(5)),
    timestamp: i64(Array(n).fill(1000)),
    duration: i64(Array(n).fill(0)),
    period: i64(Array(n).fill(0)),
  };
}

describe(samplesToArrow.name, () => {
  it('round-trips a batch exactly, including 64-bit addresses and large values', () => {
    const b = sampleBatch();
    const back = samplesFromArrow(samplesToArrow(b), LIMITS);
    expect(canonical(back)).toEqual(canonical(b));
    expect(back.stacks).toEqual(b.stacks);
    expect(back.series).toEqual(b.series);
    expect(back.truncatedStacks).toBe(0);
  });

  it('writes strings of any length and script as UTF-8, a lone surrogate in a frame as U+FFFD (as TextEncoder does)', () => {
    const names = ['', 'ascii', 'ünïcødé', '函数::调用', 'emoji 😀 and 𝄞', 'x'.repeat(2048)];
    const b = new SampleBatchBuilder();
    names.forEach((n, i) => b.add(CPU, [['thread_name', n || 'empty']], [frame(n)], i + 1, 1_700_000_000_000, 0, 0));
    b.add(CPU, [], [frame('lone \ud800 surrogate'), frame('y'.repeat(70_000))], 1, 1_700_000_000_000, 0, 0);
    const back = samplesFromArrow(samplesToArrow(b.build()), LIMITS);
    expect(back.stacks.map((st) => st.map((f) => f.functionName))).toEqual([...names.map((n) => [n]), ['lone \ufffd surrogate', 'y'.repeat(70_000)]]);
    expect(back.series.map((sr) => sr[0]?.[1])).toEqual([...names.map((n) => n || 'empty'), undefined]);
  });

  it('round-trips span profiles in the optional span_id column, and writes no column without spans', () => {
    const b = new SampleBatchBuilder();
    const stack = [frame('leaf'), frame('main')];
    b.add(CPU, [['node', 'n1']], stack, 3, 1_700_000_000_000, 0, 0, '00000000000000aa');
    b.add(CPU, [['node', 'n1']], stack, 2, 1_700_000_000_000, 0, 0, 'b0b0b0b0b0b0b0b0');
    b.add(CPU, [['node', 'n1']], stack, 1, 1_700_000_000_000, 0, 0);
    const batch = b.build();
    expect(batch.length).toBe(3); // one row per span: never summed across spans
    const ipc = samplesToArrow(batch);
    const t = tableFromIPC(ipc);
    expect(t.getChild('span_id')?.toArray()).toEqual(['00000000000000aa', 'b0b0b0b0b0b0b0b0', null]);
    const back = samplesFromArrow(ipc, LIMITS);
    const bySpan = (x: SampleBatch) => Object.fromEntries(Array.from({ length: x.length }, (_, i) => [x.spans?.[x.span?.[i] ?? 0] ?? '', x.value[i]]));
    expect(bySpan(back)).toEqual({ '00000000000000aa': 3, b0b0b0b0b0b0b0b0: 2, '': 1 });
    expect(tableFromIPC(samplesToArrow(sampleBatch())).getChild('span_id')).toBeNull();
    expect(sampleBatch().spans).toBeUndefined();
    const badSpan = ipcOf({ ...validColumns(), span_id: vectorFromArray(['NOT-HEX-AT-ALL!!', null], dict()) });
    expectInvalid(() => samplesFromArrow(badSpan, LIMITS), /column "span_id" row 0: span id "NOT-HEX-AT-ALL!!"/);
  });

  it('writes the documented schema', () => {
    const t = tableFromIPC(samplesToArrow(sampleBatch()));
    expect(t.schema.metadata.get('firn.schema')).toBe('samples.v1');
    expect(Object.fromEntries(t.schema.fields.map((f) => [f.name, String(f.type)]))).toEqual({
      // Dictionary indexes in the narrowest signed type for the dictionary's size (below).
      profile_type: 'Dictionary<Int8, Utf8>',
      'labels.node': 'Dictionary<Int8, Utf8>',
      'labels.thread_name': 'Dictionary<Int8, Utf8>',
      stack:
        'Dictionary<Int32, List<Dictionary<Int8, Struct<{build_id:Dictionary<Int8, Utf8>, mapping_file:Dictionary<Int8, Utf8>, address:Uint64, function_name:Dictionary<Int8, Utf8>, file_name:Dictionary<Int8, Utf8>, line:Int64, inlined:Bool}>>>>',
      value: 'Int64',
      timestamp: 'Int64',
      duration: 'Int64',
      period: 'Int64',
    });
    // Absent labels are nulls.
    expect(t.getChild('labels.thread_name')!.toArray()).toEqual(['worker', null, null, null]);
  });

  it('writes dictionary indexes as Int8 up to 127 entries, Int16 up to 32 767, else Int32, and reads each back', () => {
    for (const [size, width] of [
      [127, 'Int8'],
      [128, 'Int16'],
      [32_767, 'Int16'],
      [32_768, 'Int32'],
    ] as const) {
      const b = new SampleBatchBuilder({ initialCapacity: size });
      const pt = b.addProfileType(CPU);
      for (let i = 0; i < size; i++) {
        const frame: Frame = { buildId: 'ab', mappingFile: '/x', address: BigInt(i), functionName: `f${i}`, fileName: '', line: 0, inlined: false };
        b.addRow(pt, b.addSeries([['pod', `p${i}`]]), b.addStack([frame]), 1, 1000, 0, 0);
      }
      const batch = b.build();
      const t = tableFromIPC(samplesToArrow(batch));
      const stack = t.getChild('stack')!.type as Dictionary;
      const item = (stack.dictionary as List).children[0].type as Dictionary;
      const fn = (item.dictionary as Struct).children.find((c) => c.name === 'function_name')!.type as Dictionary;
      expect([String((t.getChild('labels.pod')!.type as Dictionary).indices), String(item.indices), String(fn.indices)]).toEqual([width, width, width]);
      const back = samplesFromArrow(samplesToArrow(batch), LIMITS);
      expect(back.series.map((l) => l[0][1])).toEqual(batch.series.map((l) => l[0][1]));
      expect(back.stacks.map((st) => st[0].functionName)).toEqual(batch.stacks.map((st) => st[0].functionName));
    }
  });

  it('round-trips an empty batch', () => {
    const empty = new SampleBatchBuilder().build();
    expect(samplesFromArrow(samplesToArrow(empty), LIMITS).length).toBe(0);
  });

  it('round-trips random batches (property)', () => {
    fc.assert(
      fc.property(rowsArb, (rows) => {
        const b = new SampleBatchBuilder();
        for (const r of rows) b.add(r.profileType, r.labels, r.frames, r.value, r.tsMs, r.durationNs, r.periodNs);
        const batch = b.build();
        expect(canonical(samplesFromArrow(samplesToArrow(batch), LIMITS))).toEqual(canonical(batch));
      }),
      { numRuns: 150 },
    );
  });

  it("encodes a builder's batch from its frame table byte for byte as from its Frame objects (property)", () => {
    fc.assert(
      fc.property(rowsArb, fc.integer({ min: -3, max: 3 }), (rows, lineShift) => {
        const b = new SampleBatchBuilder();
        // Negative lines too: the table writes Int64 halves itself.
        for (const r of rows)
          b.add(
            r.profileType,
            r.labels,
            r.frames.map((f) => ({ ...f, line: f.line * lineShift })),
            r.value,
            r.tsMs,
            r.durationNs,
            r.periodNs,
          );
        const batch = b.build();
        expect(builderFramesOf(batch)).toBeDefined();
        const copy = { ...batch }; // a copy carries no frame table: encoded from its Frame objects
        expect(builderFramesOf(copy)).toBeUndefined();
        // (Arrow IPC bytes differ between any two encodings: arrow-js numbers dictionaries globally.)
        const fromTable = tableFromIPC(samplesToArrow(batch));
        const fromFrames = tableFromIPC(samplesToArrow(copy));
        const stackDict = (t: Table) =>
          t
            .getChild('stack')!
            .data[0].dictionary!.toArray()
            .map((v: unknown) => JSON.parse(JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? `${x}` : x))));
        expect(stackDict(fromTable)).toEqual(stackDict(fromFrames));
        expect(samplesFromArrow(samplesToArrow(batch), LIMITS)).toEqual(samplesFromArrow(samplesToArrow(copy), LIMITS));
      }),
      { numRuns: 150 },
    );
  });

  it('encodes frames the frame table cannot hold (negative or 2^64+ addresses, fractional lines) from the Frame objects', () => {
    const odd: Frame[] = [
      { buildId: 'ab', mappingFile: '/x', address: -1n, functionName: 'neg', fileName: '', line: 0, inlined: false },
      { buildId: 'ab', mappingFile: '/x', address: 1n << 64n, functionName: 'big', fileName: '', line: 2.5, inlined: false },
    ];
    const b = new SampleBatchBuilder();
    b.add(CPU, [['service_name', 'a']], odd, 3, 1000, 0, 0);
    b.add(CPU, [['service_name', 'a']], [{ ...odd[0] }, { ...odd[1] }], 4, 1000, 0, 0); // equal content: one stack
    const batch = b.build();
    expect(batch.stacks).toHaveLength(1);
    expect([...batch.value]).toEqual([7]);
    expect(builderFramesOf(batch)).toBeUndefined();
    const back = samplesFromArrow(samplesToArrow(batch), LIMITS);
    expect(back.stacks[0].map((f) => [f.address, f.line])).toEqual([
      [(1n << 64n) - 1n, 0],
      [0n, 2],
    ]);
  });

  it('encodes a stack table whose frames were replaced from the new frames', () => {
    const b = new SampleBatchBuilder();
    b.add(CPU, [], [{ buildId: '', mappingFile: '', address: 1n, functionName: 'old', fileName: '', line: 0, inlined: false }], 1, 1000, 0, 0);
    const batch = b.build();
    const renamed = { ...batch, stacks: batch.stacks.map((st) => st.map((f) => ({ ...f, functionName: 'new' }))) };
    expect(samplesFromArrow(samplesToArrow(renamed), LIMITS).stacks[0][0].functionName).toBe('new');
  });

  it('re-encodes a decoded batch (the gateway re-encodes WriteArrow requests whose stacks were truncated) from its Frame objects', () => {
    const b = new SampleBatchBuilder();
    const frame = (functionName: string, address: bigint): Frame => ({
      buildId: 'ab',
      mappingFile: '/x',
      address,
      functionName,
      fileName: 'f.c',
      line: 3,
      inlined: false,
    });
    for (let i = 0; i < 5; i++) b.add(CPU, [['a', 'b']], [frame(`leaf${i}`, BigInt(1000 + i)), frame('main', 7n), frame('start', 9n)], 10 + i, 1000, 0, 0);
    const decoded = samplesFromArrow(samplesToArrow(b.build()), { ...LIMITS, maxStackDepth: 2 });
    expect(decoded.truncatedStacks).toBe(5);
    // The decoder's stack ids are the process-wide interner's: no builder frame table may describe them.
    expect(builderFramesOf(decoded)).toBeUndefined();
    const again = samplesFromArrow(samplesToArrow(decoded), LIMITS);
    expect(again.stacks.map((st) => st.map((f) => f.functionName))).toEqual(decoded.stacks.map((st) => st.map((f) => f.functionName)));
    expect(Array.from(again.value)).toEqual(Array.from(decoded.value));
  });

  it('is read identically by arrow-rs (parquet-wasm) — a second IPC implementation', () => {
    const require = createRequire(__filename);
    const pw = require('parquet-wasm/node') as { Table: { fromIPCStream(b: Uint8Array): { intoIPCStream(): Uint8Array } } };
    const b = sampleBatch();
    const viaRust = pw.Table.fromIPCStream(samplesToArrow(b)).intoIPCStream();
    expect(canonical(samplesFromArrow(viaRust, LIMITS))).toEqual(canonical(b));
  });
});

describe(samplesFromArrow.name, () => {
  it('accepts plain List<Struct<Utf8 …>> stacks and nullable labels', () => {
    const b = samplesFromArrow(ipcOf(validColumns(3)), LIMITS);
    expect(b.length).toBe(3);
    expect(b.series).toEqual([[['node', 'n1']], []]);
    expect(b.stacks[1].map((f) => [f.functionName, f.inlined])).toEqual([
      ['leaf', true],
      ['f1', false],
    ]);
  });

  it('reads a stream at any byte offset of a larger buffer (a field cut out of a message) as at offset 0', () => {
    const ipc = samplesToArrow(sampleBatch());
    const want = canonical(samplesFromArrow(ipc, LIMITS));
    for (const offset of [1, 3, 4, 8]) {
      const outer = new Uint8Array(offset + ipc.length + 5).fill(0xee);
      outer.set(ipc, offset);
      const cut = outer.subarray(offset, offset + ipc.length);
      expect(canonical(samplesFromArrow(cut, LIMITS))).toEqual(want);
      expect(checkSamplesArrow(cut, LIMITS)?.length).toBe(want.length);
      expect(outer.subarray(0, offset).every((b) => b === 0xee)).toBe(true);
    }
  });

  it('truncates deep stacks to the leaf-most frames and counts rows', () => {
    const b = samplesFromArrow(ipcOf(validColumns(3)), { ...LIMITS, maxStackDepth: 1 });
    expect(b.truncatedStacks).toBe(3);
    expect(b.stacks.map((s) => s.map((f) => f.functionName))).toEqual([['leaf']]);
  });

  it('rejects schema problems naming the column', () => {
    const cols = validColumns();
    const without = (name: string) => Object.fromEntries(Object.entries(cols).filter(([k]) => k !== name));
    expectInvalid(() => samplesFromArrow(ipcOf(cols, null), LIMITS), /firn.schema.*none/);
    expectInvalid(() => samplesFromArrow(ipcOf(cols, 'samples.v2'), LIMITS), /"samples.v2"/);
    expectInvalid(() => samplesFromArrow(ipcOf(without('value')), LIMITS), /missing column\(s\) "value"/);
    expectInvalid(() => samplesFromArrow(ipcOf({ ...cols, extra: i64([1, 2]), more: i64([1, 2]) }), LIMITS), /unknown column\(s\) "extra", "more"/);
    expectInvalid(() => samplesFromArrow(ipcOf({ ...cols, value: vectorFromArray([1, 2], new Float64()) }), LIMITS), /column "value" must be Int64/);
    expectInvalid(() => samplesFromArrow(ipcOf({ ...cols, 'labels.bad-name': vectorFromArray(['a', 'b'], dict()) }), LIMITS), /invalid label name "bad-name"/);
    expectInvalid(() => samplesFromArrow(ipcOf({ ...cols, 'labels.x': i64([1, 2]) }), LIMITS), /column "labels.x" must be Dictionary/);
    expectInvalid(() => samplesFromArrow(ipcOf({ ...cols, stack: vectorFromArray(['a', 'b'], new Utf8()) }), LIMITS), /column "stack" must be/);
    const noLine = new Struct(plainFrame.children.filter((f) => f.name !== 'line'));
    const badStack = vectorFromArray([[], []], new List(new Field('item', noLine, false)));
    expectInvalid(() => samplesFromArrow(ipcOf({ ...cols, stack: badStack }), LIMITS), /missing field "line"/);
  });

  it('reads frame lines written as Int32 as it reads them as Int64, and refuses other line types', () => {
    const lines = [0, 7, -3, 2_147_483_647, -2_147_483_648];
    const stackOf = (line: DataType, value: (n: number) => number | bigint) => {
      const frameType = new Struct(plainFrame.children.map((f) => (f.name === 'line' ? new Field('line', line, false) : f)));
      const frames = lines.map((n, i) => ({
        build_id: 'b',
        mapping_file: '/m',
        address: BigInt(i),
        function_name: `f${i}`,
        file_name: 'x.c',
        line: value(n),
        inlined: i % 2 === 1,
      }));
      return vectorFromArray([frames, frames.slice(2)], new List(new Field('item', frameType, false)));
    };
    const cols = validColumns(2);
    const wide = samplesFromArrow(ipcOf({ ...cols, stack: stackOf(new Int64(), BigInt) }), LIMITS);
    const narrow = ipcOf({ ...cols, stack: stackOf(new Int32(), Number) });
    expect(wide.stacks[0].map((f) => f.line)).toEqual(lines);
    expect(canonical(samplesFromArrow(narrow, LIMITS))).toEqual(canonical(wide));
    expect(samplesFromArrow(narrow, LIMITS).stacks).toEqual(wide.stacks);
    for (const t of [new Uint32(), new Int16(), new Float64()]) {
      expectInvalid(() => samplesFromArrow(ipcOf({ ...cols, stack: stackOf(t, Number) }), LIMITS), /column "stack.line" has type/);
    }
  });

  it('rejects bad values naming the column', () => {
    const cols = validColumns();
    expectInvalid(() => samplesFromArrow(ipcOf({ ...cols, value: i64([1, -5]) }), LIMITS), /column "value" row 1: negative/);
    expectInvalid(() => samplesFromArrow(ipcOf({ ...cols, duration: i64([2 ** 53, 1]) }), LIMITS), /column "duration" row 0: value ≥ 2\^53/);
    expectInvalid(() => samplesFromArrow(ipcOf({ ...cols, timestamp: vectorFromArray([1n, null], new Int64()) }), LIMITS), /column "timestamp" has 1 nulls/);
    expectInvalid(() => samplesFromArrow(ipcOf({ ...cols, profile_type: vectorFromArray([CPU, null], dict()) }), LIMITS), /column "profile_type" has 1 nulls/);
    expectInvalid(
      () => samplesFromArrow(ipcOf({ ...cols, profile_type: vectorFromArray(['nope', 'nope'], dict()) }), LIMITS),
      /column "profile_type": invalid profile type "nope"/,
    );
    expectInvalid(
      () => samplesFromArrow(ipcOf({ ...cols, 'labels.node': vectorFromArray(['v'.repeat(2049), 'x'], dict()) }), LIMITS),
      /label "node" is longer than 2048/,
    );
  });

  it('enforces maxRows and maxBytes', () => {
    const ipc = ipcOf(validColumns(5));
    expectInvalid(() => samplesFromArrow(ipc, { ...LIMITS, maxRows: 4 }), /5 rows, more than the limit of 4/);
    expectInvalid(() => samplesFromArrow(ipc, { ...LIMITS, maxBytes: 100 }), /more than the limit of 100/);
  });

  it('rejects garbage and truncated streams', () => {
    const ipc = samplesToArrow(sampleBatch());
    expectInvalid(() => samplesFromArrow(ipc.subarray(0, ipc.length >> 1), LIMITS), /invalid Arrow samples/);
    expectInvalid(() => samplesFromArrow(new TextEncoder().encode('hello, not arrow'), LIMITS), /invalid Arrow samples/);
  });

  it('survives huge counts written anywhere in the headers (arrow-js would allocate until OOM)', () => {
    const ipc = samplesToArrow(sampleBatch());
    let rejected = 0;
    for (let pos = 0; pos + 4 <= ipc.length; pos += 4) {
      const b = ipc.slice();
      new DataView(b.buffer).setInt32(pos, 0x7fffffff, true);
      try {
        samplesFromArrow(b, LIMITS);
      } catch (err) {
        expect(err).toBeInstanceOf(FirnError);
        rejected++;
      }
    }
    expect(rejected).toBeGreaterThan(0);
  });

  it('rejects the IPC file format and empty input', () => {
    const file = tableToIPC(tableFromIPC(samplesToArrow(sampleBatch())), 'file');
    expectInvalid(() => samplesFromArrow(file, LIMITS), /IPC file format is not accepted/);
    expectInvalid(() => samplesFromArrow(new Uint8Array(0), LIMITS), /empty stream/);
  });

  it('never throws anything but FirnError on random or corrupted bytes (property)', () => {
    const ipc = samplesToArrow(sampleBatch());
    const check = (bytes: Uint8Array) => {
      try {
        samplesFromArrow(bytes, LIMITS);
      } catch (err) {
        if (!(err instanceof FirnError)) throw err;
      }
    };
    fc.assert(fc.property(fc.uint8Array({ maxLength: 1024 }), check), { numRuns: 300 });
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(ipc.length - 1), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }), (edits) => {
        const b = ipc.slice();
        for (const [i, v] of edits) b[i] = v;
        check(b);
      }),
      { numRuns: 500 },
    );
  });
});

describe(checkSamplesArrow.name, () => {
  /** What a decode and a check of the same bytes said: the refusal's message, or the result. */
  const outcome = <T>(fn: () => T): { error: string } | { value: T } => {
    try {
      return { value: fn() };
    } catch (err) {
      if (!(err instanceof FirnError)) throw err;
      return { error: err.message };
    }
  };

  /**
   * A check agrees with a decode: the same refusal, or the same series and timestamps and rows
   * (exactly when `exactRows`; else at least as many: equal stacks of two dictionary entries are
   * summed by a decode only), or it leaves the answer to the decode (undefined).
   */
  const agrees = (bytes: Uint8Array, limits: ArrowLimits, exactRows: boolean): 'refused' | 'checked' | 'undecided' => {
    const decoded = outcome(() => samplesFromArrow(bytes, limits));
    const checked = outcome(() => checkSamplesArrow(bytes, limits));
    if ('value' in checked && checked.value === undefined) return 'undecided';
    if ('error' in decoded) {
      expect(checked).toEqual(decoded);
      return 'refused';
    }
    expect('value' in checked, 'error' in checked ? checked.error : '').toBe(true);
    const c = (checked as { value: ArrowCheckedSamples }).value;
    const b = decoded.value;
    expect(c.series).toEqual(b.series);
    expect([...new Set(c.timestampMs)].sort()).toEqual([...new Set(b.timestampMs)].sort());
    if (exactRows) expect(c.length).toBe(b.length);
    else expect(c.length).toBeGreaterThanOrEqual(b.length);
    expect(c.length === 0).toBe(b.length === 0);
    return 'checked';
  };

  const limitsArb = fc.record({
    maxRows: fc.constantFrom(1_000_000, 3),
    maxStackDepth: fc.constantFrom(1000, 2, 1),
    maxBytes: fc.constant(64 << 20),
    maxSymbols: fc.constantFrom(undefined, 1_000, 3),
    maxSeries: fc.constantFrom(undefined, 1_000, 2),
    maxStackFrames: fc.constantFrom(undefined, 1_000, 4),
  });

  it('says what a decode says of random batches under random limits, or leaves it to the decode (property)', () => {
    const seen = new Set<string>();
    fc.assert(
      fc.property(rowsArb, limitsArb, (rows, limits) => {
        const b = new SampleBatchBuilder();
        for (const r of rows) b.add(r.profileType, r.labels, r.frames, r.value, r.tsMs, r.durationNs, r.periodNs);
        seen.add(agrees(samplesToArrow(b.build()), limits, true));
      }),
      { numRuns: 300 },
    );
    // Every kind of answer came up: the property did not pass by always deferring.
    expect([...seen].sort()).toEqual(['checked', 'refused', 'undecided']);
  });

  it('refuses exactly what a decode refuses in corrupted streams (property)', () => {
    const ipc = samplesToArrow(sampleBatch());
    const seen = new Set<string>();
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(ipc.length - 1), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }), (edits) => {
        const b = ipc.slice();
        for (const [i, v] of edits) b[i] = v;
        seen.add(agrees(b, LIMITS, false));
      }),
      { numRuns: 800 },
    );
    expect(seen).toContain('refused');
    expect(seen).toContain('checked');
  });

  it('refuses a frame string that is not UTF-8 and the limits of a decode', () => {
    const ipc = samplesToArrow(sampleBatch());
    const at = Buffer.from(ipc).indexOf('leaf');
    const badUtf8 = ipc.slice();
    badUtf8[at + 1] = 0xff;
    expect(agrees(badUtf8, LIMITS, true)).toBe('refused');
    expectInvalid(() => checkSamplesArrow(badUtf8, LIMITS), /function_name.*not valid UTF-8/);
    expectInvalid(() => checkSamplesArrow(ipc, { ...LIMITS, maxSymbols: 2 }), /frames, more than the limit of 2/);
    expectInvalid(() => checkSamplesArrow(ipc, { ...LIMITS, maxSeries: 1 }), /more than 1 series/);
    expectInvalid(() => checkSamplesArrow(ipc, { ...LIMITS, maxRows: 2 }), /more than the limit of 2/);
  });

  it('leaves truncation, the stack-frames limit and plain List stacks to a decode', () => {
    const ipc = samplesToArrow(sampleBatch());
    expect(checkSamplesArrow(ipc, LIMITS)).toMatchObject({ length: 4 });
    expect(checkSamplesArrow(ipc, { ...LIMITS, maxStackDepth: 2 })).toBeUndefined();
    expect(checkSamplesArrow(ipc, { ...LIMITS, maxStackFrames: 5 })).toBeUndefined();
    expect(checkSamplesArrow(ipc, { ...LIMITS, maxStackFrames: 6 })).toMatchObject({ length: 4 });
    expect(checkSamplesArrow(ipcOf(validColumns(3)), LIMITS)).toBeUndefined();
  });
});

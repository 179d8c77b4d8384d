import { FirnError } from '@firn/errors';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SampleBatchBuilder, batchTotal, builderFramesOf, concatBatches, frameWith, type Frame } from './sample-batch';
import { stackKey } from './stack-key';
import { rowsArb } from './test-arbitraries';

const f = (name: string, inlined = false): Frame => ({
  buildId: 'ab',
  mappingFile: '/bin/x',
  address: 0x10n,
  functionName: name,
  fileName: 'x.go',
  line: 3,
  inlined,
});
const CPU = 'process_cpu:cpu:nanoseconds:cpu:nanoseconds:delta';

describe(SampleBatchBuilder.name, () => {
  it('dedupes dictionaries, sums identical rows and drops zeros', () => {
    const b = new SampleBatchBuilder({ initialCapacity: 16 });
    b.add(
      CPU,
      [
        ['b', '2'],
        ['a', '1'],
      ],
      [f('leaf'), f('root')],
      5,
      1000,
      10,
      7,
    );
    b.add(
      CPU,
      [
        ['a', '1'],
        ['b', '2'],
      ],
      [f('leaf'), f('root')],
      6,
      1000,
      99,
      99,
    ); // same key: summed
    b.add(
      CPU,
      [
        ['a', '1'],
        ['b', '2'],
      ],
      [f('leaf'), f('root')],
      1,
      2000,
      10,
      7,
    ); // other ts
    b.add(CPU, [['a', '1']], [f('leaf')], 0, 1000, 10, 7); // zero: dropped
    b.add('memory:inuse_space:bytes:space:bytes', [['a', '1']], [f('leaf')], 3, 1000, 0, 0);
    const batch = b.build();
    expect(batch.length).toBe(3);
    expect(batch.profileTypes).toEqual([CPU, 'memory:inuse_space:bytes:space:bytes']);
    expect(batch.series).toEqual([
      [
        ['a', '1'],
        ['b', '2'],
      ],
      [['a', '1']],
    ]);
    expect(batch.stacks.map((s) => s.map((x) => x.functionName))).toEqual([['leaf', 'root'], ['leaf']]);
    expect([...batch.value]).toEqual([11, 1, 3]);
    expect([...batch.durationNs]).toEqual([10, 10, 0]); // the first row's duration is kept
    expect(batchTotal(batch)).toBe(15);
  });

  it('grows past its initial capacity without losing rows', () => {
    const b = new SampleBatchBuilder({ initialCapacity: 16 });
    for (let i = 0; i < 5000; i++) b.add(CPU, [], [f(`fn${i % 700}`)], 1, 1000 + (i % 3), 0, 0);
    const batch = b.build();
    expect(batch.length).toBe(2100);
    expect(batchTotal(batch)).toBe(5000);
    expect(batch.stacks).toHaveLength(700);
  });

  it('rejects negative, fractional and unsafe values and bad labels with invalid_argument', () => {
    const b = new SampleBatchBuilder();
    for (const v of [-1, 1.5, 2 ** 53, Number.NaN]) {
      expect(() => b.add(CPU, [], [], v, 0, 0, 0)).toThrow(FirnError);
    }
    expect(() => b.add(CPU, [['bad-name', 'x']], [], 1, 0, 0, 0)).toThrow(/invalid label name/);
  });

  it('makes the Frame arrays of stacks added by frame ids when a batch’s stacks are first read, one per batch', () => {
    const b = new SampleBatchBuilder();
    const s = (x: string) => b.internString(x);
    const leaf = b.internFrameFields(s('ab'), s('/bin/x'), 0x10, 1, s('leaf'), s('x.go'), 3, true);
    const root = b.internFrameFields(s('ab'), s('/bin/x'), 0x20, 0, s('root'), s('x.go'), -7, false);
    const given = [f('given')];
    const st = [b.addStackOfIds(Int32Array.of(leaf, root), 2), b.addStack(given), b.addStackOfIds(Int32Array.of(root, 99), 1)];
    expect(b.addStackOfIds(Int32Array.of(leaf, root), 2)).toBe(st[0]);
    for (const i of st) b.addRow(b.addProfileType(CPU), b.addSeries([]), i, 1, 1000, 0, 0);
    const first = b.build();
    b.addRow(0, 0, b.addStackOfIds(Int32Array.of(leaf), 1), 1, 1000, 0, 0); // after the first build
    const second = b.build();
    expect(first.stacks).toHaveLength(3);
    expect(first.stacks[0]).toEqual([
      { buildId: 'ab', mappingFile: '/bin/x', address: (1n << 32n) | 0x10n, functionName: 'leaf', fileName: 'x.go', line: 3, inlined: true },
      { buildId: 'ab', mappingFile: '/bin/x', address: 0x20n, functionName: 'root', fileName: 'x.go', line: -7, inlined: false },
    ]);
    expect(first.stacks[1]).toBe(given);
    expect(first.stacks[2][0]).toBe(first.stacks[0][1]); // one Frame object per distinct frame
    expect(first.stacks).toBe(first.stacks); // made once
    expect(second.stacks).toHaveLength(4);
    expect(second.stacks[3][0]).toBe(first.stacks[0][0]);
    expect({ ...first }.stacks).toBe(first.stacks);
    expect(JSON.parse(JSON.stringify(second, (_k, v: unknown) => (typeof v === 'bigint' ? `${v}` : v))).stacks[3][0].functionName).toBe('leaf');

    // The frame table describes the stacks until they are assigned or grown, read or not.
    expect(builderFramesOf(first)).toBeDefined();
    const unread = b.build();
    unread.stacks = [[f('other')]];
    expect(builderFramesOf(unread)).toBeUndefined();
    expect(unread.stacks[0][0].functionName).toBe('other');
    second.stacks.push([f('pushed')]);
    expect(builderFramesOf(second)).toBeUndefined();
  });

  it('keeps the total, has no zero rows and no duplicate keys (property)', () => {
    fc.assert(
      fc.property(rowsArb, (rows) => {
        const b = new SampleBatchBuilder({ initialCapacity: 16 });
        let total = 0;
        for (const r of rows) {
          b.add(r.profileType, r.labels, r.frames, r.value, r.tsMs, r.durationNs, r.periodNs);
          total += r.value;
        }
        const batch = b.build();
        expect(batchTotal(batch)).toBe(total);
        const keys = new Set<string>();
        for (let i = 0; i < batch.length; i++) {
          expect(batch.value[i]).toBeGreaterThan(0);
          const k = `${batch.profileType[i]},${batch.seriesIdx[i]},${batch.stack[i]},${batch.timestampMs[i]}`;
          expect(keys.has(k)).toBe(false);
          keys.add(k);
        }
        expect(new Set(batch.stacks.map(stackKey)).size).toBe(batch.stacks.length);
        expect(new Set(batch.series.map((s) => JSON.stringify(s))).size).toBe(batch.series.length);
      }),
      { numRuns: 200 },
    );
  });
});

describe(concatBatches.name, () => {
  it('merges dictionaries and sums rows across batches (property)', () => {
    fc.assert(
      fc.property(rowsArb, rowsArb, (r1, r2) => {
        const build = (rows: typeof r1) => {
          const b = new SampleBatchBuilder();
          for (const r of rows) b.add(r.profileType, r.labels, r.frames, r.value, r.tsMs, r.durationNs, r.periodNs);
          return b.build();
        };
        const a = build(r1);
        const c = build(r2);
        const both = build([...r1, ...r2]);
        const merged = concatBatches([a, c]);
        expect(merged.length).toBe(both.length);
        expect(batchTotal(merged)).toBe(batchTotal(a) + batchTotal(c));
      }),
      { numRuns: 100 },
    );
  });
});

describe(stackKey.name, () => {
  it('is a stable 32-hex-char content hash', () => {
    const k = stackKey([f('leaf', true), f('root')]);
    expect(k).toMatch(/^[0-9a-f]{32}$/);
    expect(stackKey([{ ...f('leaf', true) }, { ...f('root') }])).toBe(k);
    // Pinned: the encoding must never change within schema v1.
    expect(stackKey([])).toBe('df3f619804a92fdb4057192dc43dd748');
    expect(k).toBe('95bdd6e89516d49b6112a4939d1c6936');
    expect(stackKey([f('root'), f('leaf', true)])).not.toBe(k);
    expect(stackKey([f('leaf', false), f('root')])).not.toBe(k);
    expect(stackKey([{ ...f('leaf', true), address: 0x11n }, f('root')])).not.toBe(k);
  });

  it('does not confuse field boundaries', () => {
    const a = { ...f('ab'), fileName: 'c' };
    const b = { ...f('a'), fileName: 'bc' };
    expect(stackKey([a])).not.toBe(stackKey([b]));
  });
});

describe('stackKey input checks', () => {
  it('rejects addresses outside uint64 with invalid_argument', () => {
    expect(() => stackKey([{ ...f('x'), address: -1n }])).toThrow(/uint64/);
    expect(() => stackKey([{ ...f('x'), address: 1n << 64n }])).toThrow(/uint64/);
  });
});

describe('frameWith', () => {
  it('copies every field, applies the changes and leaves the frame as it was', () => {
    const base = f('main');
    const copy = frameWith(base, { unnamedReason: 'pending' });
    expect(copy).toStrictEqual({ ...base, unnamedReason: 'pending' });
    expect(copy).not.toBe(base);
    expect(base.unnamedReason).toBeUndefined();
    expect(frameWith(copy, { functionName: 'main()', systemName: 'main' })).toStrictEqual({
      ...base,
      functionName: 'main()',
      systemName: 'main',
      unnamedReason: 'pending',
    });
    // An undefined change keeps the frame's value; absent optional fields stay absent (no `undefined` keys).
    expect(frameWith(base, { systemName: undefined })).toStrictEqual(base);
    expect(Object.keys(frameWith(base, {}))).not.toContain('systemName');
  });

  it('lays fields out in one order whatever order the frame was built in (one hidden class per set of fields)', () => {
    const reordered: Frame = {
      unnamedReason: 'no_symbol',
      inlined: false,
      line: 0,
      fileName: '',
      functionName: '',
      address: 0x20n,
      mappingFile: '/lib/y.so',
      buildId: 'cd',
    };
    const order = Object.keys(frameWith(f('x'), { unnamedReason: 'pending' }));
    expect(Object.keys(frameWith(reordered, { unnamedReason: 'pending' }))).toEqual(order);
    expect(order).toEqual(['buildId', 'mappingFile', 'address', 'functionName', 'fileName', 'line', 'inlined', 'unnamedReason']);
  });
});

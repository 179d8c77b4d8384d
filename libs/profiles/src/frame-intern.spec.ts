import { describe, expect, it } from 'vitest';
import { samplesFromArrow, samplesToArrow } from './arrow-samples';
import { attachInternedStacks, FrameInterner, internedStacksOf } from './frame-intern';
import { SampleBatchBuilder, type Frame } from './sample-batch';

const LIMITS = { maxRows: 1000, maxStackDepth: 1000, maxBytes: 1 << 20 };
const PT = 'process_cpu:samples:count:cpu:nanoseconds';
const frame = (address: bigint, functionName = '', line = 0): Frame => ({
  buildId: 'ab',
  mappingFile: '/bin/x',
  address,
  functionName,
  fileName: '',
  line,
  inlined: false,
});

function encode(stacks: Frame[][]): Uint8Array {
  const b = new SampleBatchBuilder();
  stacks.forEach((s, i) => b.add(PT, [['service_name', 'x']], s, 1, 1000 + i, 0, 0));
  return samplesToArrow(b.build());
}

describe(FrameInterner.name, () => {
  it('gives equal frames and stacks equal ids and objects, different ones different ids', () => {
    const i = new FrameInterner();
    const a = i.stringId('ab');
    const m = i.stringId('/bin/x');
    const e = i.stringId('');
    const f1 = i.frameId(a, m, e, e, 0x10, 0, 7, false);
    expect(i.frameId(a, m, e, e, 0x10, 0, 7, false)).toBe(f1);
    const others = [
      i.frameId(a, m, e, e, 0x10, 1, 7, false),
      i.frameId(a, m, e, e, 0x11, 0, 7, false),
      i.frameId(a, m, e, e, 0x10, 0, 7 + 2 ** 40, false),
      i.frameId(a, m, e, e, 0x10, 0, 7, true),
      i.frameId(m, a, e, e, 0x10, 0, 7, false),
    ];
    expect(new Set([f1, ...others]).size).toBe(6);
    expect(i.frame(others[0]).address).toBe((1n << 32n) | 0x10n);
    expect(i.frame(others[2]).line).toBe(7 + 2 ** 40);
    const s1 = i.stackId(Int32Array.of(f1, others[0]), 2);
    expect(i.stackId(Int32Array.of(f1, others[0], 99), 2)).toBe(s1);
    expect(i.stackId(Int32Array.of(others[0], f1), 2)).not.toBe(s1);
    expect(i.stackId(Int32Array.of(f1), 1)).not.toBe(s1);
    expect(i.stack(s1)).toEqual([i.frame(f1), i.frame(others[0])]);
  });

  it('forgets everything at the start of a batch once past its limits, never in between', () => {
    const i = new FrameInterner({ maxStrings: 10, maxFrames: 2, maxStacks: 10, maxStackFrames: 100 });
    const s = i.stringId('x');
    const ids = [0, 1, 2, 3].map((a) => i.frameId(s, s, s, s, a, 0, 0, false));
    expect(i.frameId(s, s, s, s, 0, 0, 0, false)).toBe(ids[0]);
    expect(i.frameCount).toBe(4);
    i.startBatch();
    expect(i.frameCount).toBe(0);
    const x = i.stringId('x');
    i.frameId(x, x, x, x, 0, 0, 0, false);
    i.startBatch();
    expect(i.frameCount).toBe(1);
  });

  it("tells a batch's stacks by interner id until the interner forgets them or the batch's stacks are replaced", () => {
    const i = new FrameInterner({ maxStrings: 10, maxFrames: 2, maxStacks: 10, maxStackFrames: 100 });
    const x = i.stringId('x');
    const f = [0, 1, 2].map((a) => i.frameId(x, x, x, x, a, 0, 0, false));
    const s0 = i.stackId(Int32Array.of(f[2], f[0]), 2);
    const s1 = i.stackId(Int32Array.of(f[1]), 1);
    expect(Array.from(i.stackFrameIds(s0))).toEqual([f[2], f[0]]);
    expect(i.stackCount).toBe(2);
    const b = new SampleBatchBuilder();
    [s1, s0].forEach((s, k) => b.add(PT, [['service_name', 'x']], i.stack(s), 1, 1000 + k, 0, 0));
    const batch = b.build();
    attachInternedStacks(batch, i, Int32Array.of(s1, s0));
    expect(internedStacksOf(batch)).toMatchObject({ interner: i, stackIds: Int32Array.of(s1, s0) });
    // A copy or a batch whose stacks were swapped out carries no ids.
    expect(internedStacksOf({ ...batch })).toBeUndefined();
    expect(internedStacksOf(Object.assign(batch, { stacks: batch.stacks.slice() }))).toBeUndefined();

    const again = b.build();
    attachInternedStacks(again, i, Int32Array.of(s1, s0));
    const generation = i.generation;
    i.startBatch(); // past maxFrames: everything is forgotten, ids start over
    expect(i.generation).not.toBe(generation);
    expect(i.stackCount).toBe(0);
    expect(internedStacksOf(again)).toBeUndefined();
  });

  it('makes the Arrow decoder share Frame objects and stacks across batches, with content unchanged', () => {
    const stacks = [[frame(1n), frame(2n, 'main', 12)], [frame(3n), frame(2n, 'main', 12)], [frame((1n << 64n) - 1n, 'big', 2 ** 53 - 1)]];
    const one = samplesFromArrow(encode(stacks), LIMITS);
    const two = samplesFromArrow(encode([stacks[1], stacks[2], stacks[0]]), LIMITS);
    expect(one.stacks).toEqual(stacks);
    expect(two.stacks).toEqual([stacks[1], stacks[2], stacks[0]]);
    expect(two.stacks[2]).toBe(one.stacks[0]);
    expect(two.stacks[0][1]).toBe(one.stacks[0][1]);
    // ...and says which interner stack each is, with the interner's frame ids.
    const ids = internedStacksOf(two);
    expect(ids?.stackIds.length).toBe(two.stacks.length);
    two.stacks.forEach((st, k) => {
      const sid = ids?.stackIds[k] ?? -1;
      expect(ids?.interner.stack(sid)).toBe(st);
      expect(Array.from(ids?.interner.stackFrameIds(sid) ?? []).map((fid) => ids?.interner.frame(fid))).toEqual(st);
    });
    expect(internedStacksOf(one)?.stackIds[0]).toBe(ids?.stackIds[2]);
  });
});

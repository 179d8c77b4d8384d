import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isFirnError } from '@firn/errors';
import type { Frame } from '@firn/profiles';
import { emptyPartial, merge, StackAccumulator, type PartialAggregate } from './merge-stacks';
import { decodePartial, encodePartial } from './partial-codec';

function frame(fn: string, extra: Partial<Frame> = {}): Frame {
  return { buildId: '', mappingFile: '', address: 0n, functionName: fn, fileName: '', line: 0, inlined: false, ...extra };
}

const STACKS: Record<string, Frame[]> = {
  k1: [frame('leaf'), frame('main')],
  k2: [frame('other', { line: 3, fileName: 'a.go' }), frame('main')],
  k3: [frame('x', { address: 0xffff_ffff_ffffn, inlined: true, buildId: 'ab' }), frame('y', { mappingFile: '/bin/y', line: -2 })],
  k4: [],
};

/** Cell list → partial, the way a scan would produce it. */
function partialOf(cells: Array<{ g: string; k: keyof typeof STACKS; v: number; b?: number }>, grouped: boolean, withBase: boolean): PartialAggregate {
  const acc = new StackAccumulator(grouped ? ['pod'] : []);
  for (const c of cells) {
    const s = acc.addStack(c.k, () => STACKS[c.k]);
    const g = acc.addGroup(grouped ? [c.g] : []);
    acc.add(s, c.v, g);
    if (withBase) acc.add(s, c.b ?? 0, g, 'base');
  }
  return acc.toPartial();
}

/** Order-independent content of a partial: (group, stack key) → [value, base]. */
function contentOf(p: PartialAggregate): Map<string, [number, number]> {
  const m = new Map<string, [number, number]>();
  for (let i = 0; i < p.values.length; i++) {
    const k = `${p.groups[p.cellGroup[i]].join(',')}|${p.stacks[p.cellStack[i]].key}`;
    const prev = m.get(k) ?? [0, 0];
    m.set(k, [prev[0] + p.values[i], prev[1] + (p.base?.[i] ?? 0)]);
  }
  return m;
}

const arbCells = fc.array(
  fc.record({
    g: fc.constantFrom('', 'a', 'b', 'é', '\u{1F600}'),
    k: fc.constantFrom<keyof typeof STACKS>('k1', 'k2', 'k3', 'k4'),
    v: fc.integer({ min: 1, max: 1_000_000 }),
    b: fc.integer({ min: 0, max: 1_000 }),
  }),
  { maxLength: 20 },
);
const arbPartial = fc.record({ cells: arbCells, base: fc.boolean() });

describe(StackAccumulator.name, () => {
  it('sums values by stack key and keeps frames once', () => {
    const acc = new StackAccumulator();
    let calls = 0;
    const frames = (): Frame[] => {
      calls++;
      return STACKS.k1;
    };
    acc.add(acc.addStack('k1', frames), 5);
    acc.add(acc.addStack('k1', frames), 7);
    acc.add(acc.addStack('k2', STACKS.k2), 1);
    expect(calls).toBe(1);
    const p = acc.toStackProfile('cpu:samples:count:cpu:nanoseconds');
    expect(p.profileType).toBe('cpu:samples:count:cpu:nanoseconds');
    expect(p.stacks).toEqual([STACKS.k1, STACKS.k2]);
    expect([...p.values]).toEqual([12, 1]);
    expect(p.total).toBe(13);
    expect(p.base).toBeUndefined();
  });

  it('keeps a base side for diffs, 0 where a stack is only on one side', () => {
    const a = partialOf([{ g: '', k: 'k1', v: 4 }], false, false);
    const b = partialOf(
      [
        { g: '', k: 'k2', v: 9 },
        { g: '', k: 'k1', v: 1 },
      ],
      false,
      false,
    );
    const acc = new StackAccumulator();
    acc.addPartial(a, 'base');
    acc.addPartial(b);
    const p = acc.toStackProfile('t');
    expect(p.stacks).toEqual([STACKS.k1, STACKS.k2]);
    expect([...p.values]).toEqual([1, 9]);
    expect([...(p.base ?? [])]).toEqual([4, 0]);
    expect(p.total).toBe(10);
  });

  it('returns one profile per group, labels without empty values', () => {
    const p = partialOf(
      [
        { g: 'b', k: 'k1', v: 2 },
        { g: '', k: 'k2', v: 3 },
        { g: 'b', k: 'k2', v: 4 },
      ],
      true,
      false,
    );
    const acc = new StackAccumulator(['pod']);
    acc.addPartial(p);
    const groups = acc.toGroupedStackProfiles('t');
    expect(groups.map((g) => g.labels)).toEqual([[], [['pod', 'b']]]);
    expect(groups.map((g) => [...g.profile.values])).toEqual([[3], [2, 4]]);
    expect(acc.toStackProfile('t').total).toBe(9);
  });

  it('refuses to merge partials grouped differently', () => {
    const acc = new StackAccumulator(['pod']);
    try {
      acc.addPartial(emptyPartial(['zone']));
      expect.unreachable();
    } catch (err) {
      expect(isFirnError(err, 'invalid_argument')).toBe(true);
      expect((err as Error).message).toMatch(/grouped by \[zone\] into \[pod\]/);
    }
  });
});

describe(merge.name, () => {
  it('is commutative and associative, with the empty partial as identity', () => {
    fc.assert(
      fc.property(arbPartial, arbPartial, arbPartial, fc.boolean(), (x, y, z, grouped) => {
        const a = partialOf(x.cells, grouped, x.base);
        const b = partialOf(y.cells, grouped, y.base);
        const c = partialOf(z.cells, grouped, z.base);
        const groupBy = grouped ? ['pod'] : [];
        expect(merge(a, b)).toEqual(merge(b, a));
        expect(merge(merge(a, b), c)).toEqual(merge(a, merge(b, c)));
        expect(contentOf(merge(a, emptyPartial(groupBy)))).toEqual(contentOf(a));
        // The merged content is the cell-wise sum.
        const want = contentOf(a);
        for (const [k, [v, bs]] of contentOf(b)) {
          const prev = want.get(k) ?? [0, 0];
          want.set(k, [prev[0] + v, prev[1] + bs]);
        }
        expect(contentOf(merge(a, b))).toEqual(want);
      }),
    );
  });
});

describe(encodePartial.name, () => {
  it('round-trips partials through bytes', () => {
    fc.assert(
      fc.property(arbPartial, fc.boolean(), (x, grouped) => {
        const p = partialOf(x.cells, grouped, x.base);
        const back = decodePartial(encodePartial(p));
        expect(back).toEqual(p);
      }),
    );
  });

  it('stores each distinct frame once', () => {
    const many = partialOf(
      Array.from({ length: 50 }, (_, i) => ({ g: `g${i}`, k: 'k1' as const, v: i + 1 })),
      true,
      false,
    );
    const one = partialOf([{ g: 'g0', k: 'k1', v: 1 }], true, false);
    // 49 more cells and group strings, but no more frames or stack keys.
    const perExtraCell = (encodePartial(many).length - encodePartial(one).length) / 49;
    expect(perExtraCell).toBeLessThan(16);
  });

  it('writes equal frames once whether or not they are one object, and keeps frames differing in one field apart', () => {
    const shared = frame('f', { buildId: 'ab', mappingFile: '/bin/x', address: 0x10n, fileName: 'x.c', line: 7 });
    const partialOfStacks = (stacks: Frame[][]): PartialAggregate => {
      const acc = new StackAccumulator();
      stacks.forEach((fs, i) =>
        acc.add(
          acc.addStack(`k${i}`, () => fs),
          i + 1,
          acc.addGroup([]),
        ),
      );
      return acc.toPartial();
    };
    const sharedBytes = encodePartial(partialOfStacks([[shared, frame('main')], [shared]]));
    const copiedBytes = encodePartial(partialOfStacks([[{ ...shared }, frame('main')], [{ ...shared }]]));
    expect(copiedBytes).toEqual(sharedBytes);
    const variants: Array<Partial<Frame>> = [
      { buildId: 'cd' },
      { mappingFile: '/bin/y' },
      { address: 0x11n },
      { functionName: 'g' },
      { fileName: 'y.c' },
      { line: 8 },
      { inlined: true },
    ];
    for (const v of variants) {
      const back = decodePartial(encodePartial(partialOfStacks([[shared], [{ ...shared, ...v }]])));
      expect(back.stacks[1].frames[0]).toEqual({ ...shared, ...v });
      expect(back.stacks[0].frames[0]).not.toBe(back.stacks[1].frames[0]);
    }
  });

  it('rejects malformed bytes with invalid_argument', () => {
    const good = encodePartial(partialOf([{ g: '', k: 'k3', v: 3 }], false, true));
    const cases: Array<[Uint8Array, RegExp]> = [
      [new Uint8Array([1, 2, 3, 4, 1, 0]), /bad magic/],
      [good.subarray(0, good.length - 3), /truncated/],
      [Uint8Array.from([...good, 0]), /trailing bytes/],
      [Uint8Array.from([...good.subarray(0, 4), 9, ...good.subarray(5)]), /unsupported version 9/],
    ];
    for (const [bytes, msg] of cases) {
      try {
        decodePartial(bytes);
        expect.unreachable();
      } catch (err) {
        expect(isFirnError(err, 'invalid_argument')).toBe(true);
        expect((err as Error).message).toMatch(msg);
      }
    }
  });
});

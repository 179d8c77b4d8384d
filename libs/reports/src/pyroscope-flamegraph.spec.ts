import { isFirnError } from '@firn/errors';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compareUtf8, pyroscopeFlameGraph, pyroscopeFlameGraphDiff, type PyroscopeFlameGraphDiff } from './pyroscope-flamegraph';
import { CPU, F, assertConsistent, decodePyroscope, handProfile, node, profileArb, type TreeNode } from './test-profiles';

/** Both sides of a diff graph as two trees of the same shape. */
function decodeDiff(fg: PyroscopeFlameGraphDiff): { left: TreeNode; right: TreeNode } {
  type N = { xl: number; lt: number; xr: number; rt: number; l: TreeNode; r: TreeNode };
  const levels: N[][] = fg.levels.map((l) => {
    const out: N[] = [];
    let pl = 0;
    let pr = 0;
    for (let i = 0; i < l.values.length; i += 7) {
      const [dxl, lt, ls, dxr, rt, rs, name] = l.values.slice(i, i + 7);
      const xl = pl + dxl;
      const xr = pr + dxr;
      pl = xl + lt;
      pr = xr + rt;
      out.push({ xl, lt, xr, rt, l: node(fg.names[name], lt, ls), r: node(fg.names[name], rt, rs) });
    }
    return out;
  });
  for (let d = 1; d < levels.length; d++) {
    for (const c of levels[d]) {
      const parent = levels[d - 1].find((p) => (c.lt > 0 && c.xl >= p.xl && c.xl < p.xl + p.lt) || (c.rt > 0 && c.xr >= p.xr && c.xr < p.xr + p.rt));
      if (!parent) throw new Error(`no parent for ${c.l.name}`);
      parent.l.children.push(c.l);
      parent.r.children.push(c.r);
    }
  }
  return { left: levels[0][0].l, right: levels[0][0].r };
}

/** Canonical form: children sorted by name, for comparing trees regardless of layout. */
const canon = (t: TreeNode): TreeNode => ({ ...t, children: t.children.map(canon).sort((a, b) => compareUtf8(a.name, b.name)) });

describe(pyroscopeFlameGraph.name, () => {
  it('encodes the hand-computed tree exactly as Pyroscope does', () => {
    const fg = pyroscopeFlameGraph(handProfile());
    expect(fg.names).toEqual(['total', 'main', 'libc.so.6!0xabc', 'handle', 'parse', 'inlinedHelper', 'compute', 'idle']);
    expect(fg.levels.map((l) => l.values)).toEqual([
      [0, 16, 0, 0],
      [0, 1, 1, 7, 0, 15, 0, 1],
      [1, 4, 4, 6, 0, 9, 1, 3, 0, 2, 2, 2],
      [6, 3, 3, 6, 0, 5, 0, 4],
      [9, 5, 5, 5],
    ]);
    expect(fg.total).toBe(16);
    expect(fg.maxSelf).toBe(5);
  });

  it('decodes back to the same tree', () => {
    const t = decodePyroscope(pyroscopeFlameGraph(handProfile()));
    expect(t).toEqual(
      node('total', 16, 0, [
        node('idle', 1, 1),
        node('main', 15, 0, [
          node('compute', 4, 4),
          node('handle', 9, 1, [node('compute', 3, 3), node('parse', 5, 0, [node('inlinedHelper', 5, 5)])]),
          node('libc.so.6!0xabc', 2, 2),
        ]),
      ]),
    );
  });

  it('folds nodes below the max_nodes threshold into "other", keeping totals', () => {
    // Totals 15, 9, 5, 5, 4, 3, 2, 1: the 3rd largest (5) is the threshold.
    const fg = pyroscopeFlameGraph(handProfile(), { maxNodes: 3 });
    const t = decodePyroscope(fg);
    expect(t).toEqual(
      node('total', 16, 0, [
        node('main', 15, 0, [node('handle', 9, 1, [node('parse', 5, 0, [node('inlinedHelper', 5, 5)]), node('other', 3, 3)]), node('other', 6, 6)]),
        node('other', 1, 1),
      ]),
    );
    expect(fg.total).toBe(16);
    expect(fg.maxSelf).toBe(6);
    expect(assertConsistent(t)).toBe(true);
  });

  it('keeps every node when max_nodes is 0 or at least the node count', () => {
    const all = pyroscopeFlameGraph(handProfile());
    expect(pyroscopeFlameGraph(handProfile(), { maxNodes: 8 })).toEqual(all);
    expect(pyroscopeFlameGraph(handProfile(), { maxNodes: 0 })).toEqual(all);
  });

  it('orders siblings by UTF-8 bytes like Go', () => {
    const a = { ...F.main, functionName: '\uff5e' };
    const b = { ...F.main, functionName: '\u{1d4b3}' };
    const fg = pyroscopeFlameGraph({ profileType: CPU, stacks: [[b], [a]], values: Float64Array.from([1, 2]), total: 3 });
    expect(decodePyroscope(fg).children.map((c) => c.name)).toEqual(['\uff5e', '\u{1d4b3}']);
    expect(compareUtf8('b', 'a')).toBeGreaterThan(0);
    expect(compareUtf8('ab', 'a')).toBeGreaterThan(0);
  });

  it('ignores empty stacks and renders an empty profile as the bare root', () => {
    const fg = pyroscopeFlameGraph({ profileType: CPU, stacks: [[]], values: Float64Array.from([4]), total: 4 });
    expect(fg).toEqual({ names: ['total'], levels: [{ values: [0, 0, 0, 0] }], total: 0, maxSelf: 0 });
  });

  it('keeps totals consistent and equal to the profile total (property)', () => {
    fc.assert(
      fc.property(profileArb, fc.integer({ min: 0, max: 12 }), (p, maxNodes) => {
        const fg = pyroscopeFlameGraph(p, { maxNodes });
        const t = decodePyroscope(fg);
        expect(fg.total).toBe(p.total);
        expect(t.value).toBe(p.total);
        expect(assertConsistent(t)).toBe(true);
        let selfSum = 0;
        const walk = (n: TreeNode): void => {
          selfSum += n.self;
          n.children.forEach(walk);
        };
        walk(t);
        expect(selfSum).toBe(p.total);
      }),
      { numRuns: 150 },
    );
  });
});

describe(pyroscopeFlameGraphDiff.name, () => {
  const small = {
    profileType: CPU,
    stacks: [
      [
        { ...F.main, functionName: 'b' },
        { ...F.main, functionName: 'a' },
      ],
      [
        { ...F.main, functionName: 'c' },
        { ...F.main, functionName: 'a' },
      ],
    ],
    base: Float64Array.from([2, 0]),
    values: Float64Array.from([1, 3]),
    total: 4,
  };

  it('encodes 7 ints per node exactly as Pyroscope does', () => {
    const fg = pyroscopeFlameGraphDiff(small);
    expect(fg.names).toEqual(['total', 'a', 'c', 'b']);
    expect(fg.levels.map((l) => l.values)).toEqual([
      [0, 2, 0, 0, 4, 0, 0],
      [0, 2, 0, 0, 4, 0, 1],
      [0, 2, 2, 0, 1, 1, 3, 0, 0, 0, 0, 3, 3, 2],
    ]);
    expect(fg.total).toBe(6);
    expect(fg.leftTicks).toBe(2);
    expect(fg.rightTicks).toBe(4);
    expect(fg.maxSelf).toBe(3);
  });

  it('needs a base side', () => {
    try {
      pyroscopeFlameGraphDiff({ ...small, base: undefined });
      expect.unreachable();
    } catch (err) {
      expect(isFirnError(err, 'invalid_argument')).toBe(true);
    }
  });

  it('aligns both sides on one tree and keeps both totals (property)', () => {
    fc.assert(
      fc.property(profileArb, fc.integer({ min: 0, max: 12 }), (p, maxNodes) => {
        const fg = pyroscopeFlameGraphDiff(p, { maxNodes });
        const left = pyroscopeFlameGraph({ ...p, values: p.base!, base: undefined });
        const right = pyroscopeFlameGraph({ ...p, base: undefined });
        expect(fg.leftTicks).toBe(left.total);
        expect(fg.rightTicks).toBe(right.total);
        expect(fg.total).toBe(left.total + right.total);
        const { left: l, right: r } = decodeDiff(fg);
        expect(assertConsistent(l)).toBe(true);
        expect(assertConsistent(r)).toBe(true);
        expect(l.value).toBe(left.total);
        expect(r.value).toBe(right.total);
        // Without pruning (and without a real function called "other", which the single graph
        // always folds), the right side is the single flame graph of `values`.
        if (maxNodes === 0 && !fg.names.includes('other')) {
          const dropEmpty = (n: TreeNode): TreeNode => ({ ...n, children: n.children.filter((c) => c.value > 0).map(dropEmpty) });
          expect(canon(dropEmpty(r))).toEqual(canon(decodePyroscope(right)));
        }
      }),
      { numRuns: 100 },
    );
  });
});

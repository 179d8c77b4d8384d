import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { kthSmallest, mergeTrie } from './tree-scratch';

/** Inserting the kept stacks one by one into a map-based tree: what mergeTrie must equal. */
function insertOneByOne(stacks: Int32Array[], key: Int32Array, include: (s: number) => boolean) {
  const nodes = [{ path: '', parent: -1, first: -1, frame: -1, children: [] as number[] }];
  const byPath = new Map<string, number>([['', 0]]);
  const leaf = new Int32Array(stacks.length).fill(-1);
  stacks.forEach((ids, s) => {
    if (!include(s)) return;
    if (nodes[0].first < 0) nodes[0].first = s;
    let node = 0;
    for (let j = ids.length - 1; j >= 0; j--) {
      const path = `${nodes[node].path}/${key[ids[j]]}`;
      let child = byPath.get(path);
      if (child === undefined) {
        child = nodes.push({ path, parent: node, first: s, frame: ids[j], children: [] }) - 1;
        byPath.set(path, child);
        nodes[node].children.push(child);
      }
      node = child;
    }
    leaf[s] = node;
  });
  return { nodes, leaf };
}

const stacksArb = fc.record({
  frames: fc.integer({ min: 1, max: 12 }),
  keys: fc.integer({ min: 1, max: 6 }),
  stacks: fc.array(fc.array(fc.nat(), { maxLength: 8 }), { maxLength: 30 }),
  left: fc.array(fc.boolean(), { minLength: 30, maxLength: 30 }),
  seed: fc.nat(),
});

describe(mergeTrie.name, () => {
  it('makes the tree inserting stack by stack makes: same nodes, children in order of first appearance, same first stacks and leaves (property)', () => {
    fc.assert(
      fc.property(stacksArb, ({ frames, keys, stacks: raw, left, seed }) => {
        const stacks = raw.map((s) => Int32Array.from(s, (f) => f % frames));
        const key = Int32Array.from({ length: frames }, (_, f) => (f * 7 + seed) % keys);
        const include = (s: number): boolean => !left[s];
        const want = insertOneByOne(stacks, key, include);
        const t = mergeTrie(stacks, key, keys, include);
        expect(t.size).toBe(want.nodes.length);
        // Match nodes by key path, walking both trees from the root in child order.
        const ours = new Int32Array(want.nodes.length).fill(-1);
        ours[0] = 0;
        const todo = [0];
        for (let w = todo.pop(); w !== undefined; w = todo.pop()) {
          const n = ours[w];
          const wn = want.nodes[w];
          expect(t.childCount[n]).toBe(wn.children.length);
          wn.children.forEach((wc, i) => {
            const c = t.childStart[n] + i;
            expect(t.parent[c]).toBe(n);
            expect(`${wn.path}/${t.key[c]}`).toBe(want.nodes[wc].path);
            expect(t.first[c]).toBe(want.nodes[wc].first);
            expect(t.frame[c]).toBe(want.nodes[wc].frame);
            expect(t.depth[c]).toBe(t.depth[n] + 1);
            ours[wc] = c;
            todo.push(wc);
          });
        }
        expect(Array.from(t.leaf.subarray(0, stacks.length))).toEqual(Array.from(want.leaf, (l) => (l < 0 ? -1 : ours[l])));
        // Ordered by (first stack, depth), the nodes are in the order insertion made them.
        const made = Array.from({ length: t.size - 1 }, (_, i) => i + 1).sort((a, b) => t.first[a] - t.first[b] || t.depth[a] - t.depth[b]);
        expect(made).toEqual(Array.from({ length: want.nodes.length - 1 }, (_, i) => ours[i + 1]));
      }),
      { numRuns: 300 },
    );
  });

  it('builds over the kept scratch: a smaller build after a larger one sees none of it', () => {
    const big = Array.from({ length: 50 }, (_, s) => Int32Array.from({ length: 20 }, (_, j) => (s * 31 + j) % 40));
    mergeTrie(
      big,
      Int32Array.from({ length: 40 }, (_, f) => f),
      40,
      () => true,
    );
    const t = mergeTrie([Int32Array.of(1, 0), Int32Array.of(2, 0)], Int32Array.of(0, 1, 1), 2, () => true);
    expect(t.size).toBe(3);
    expect(t.childCount[0]).toBe(1);
    expect(t.childCount[1]).toBe(1);
    expect(Array.from(t.leaf.subarray(0, 2))).toEqual([2, 2]);
  });
});

describe(kthSmallest.name, () => {
  it('is the k-th of the sorted values (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 5 }), { minLength: 1, maxLength: 50 }), fc.nat(), (xs, k0) => {
        const k = k0 % xs.length;
        expect(kthSmallest(Float64Array.from(xs), k)).toBe([...xs].sort((a, b) => a - b)[k]);
      }),
    );
  });
});

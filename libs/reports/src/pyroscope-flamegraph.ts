import { FirnError } from '@firn/errors';
import { pyroscopeFrameName } from './labels';
import { internStacks, keyIds } from './profile-input';
import { kthSmallest, mergeTrie } from './tree-scratch';
import type { StackProfile } from './stack-profile';

/** querier.v1.FlameGraph with plain numbers (convert with BigInt at the edge). */
export interface PyroscopeFlameGraph {
  names: string[];
  /** Per level, 4 ints per node: x offset (delta from the previous node's end), total, self, name index. */
  levels: Array<{ values: number[] }>;
  total: number;
  maxSelf: number;
}

/** querier.v1.FlameGraphDiff with plain numbers. */
export interface PyroscopeFlameGraphDiff {
  names: string[];
  /**
   * Per level, 7 ints per node: left x offset, left total, left self, right x offset, right
   * total, right self, name index (both offsets delta-encoded against their own side).
   */
  levels: Array<{ values: number[] }>;
  /** leftTicks + rightTicks. */
  total: number;
  maxSelf: number;
  leftTicks: number;
  rightTicks: number;
}

export interface PyroscopeFlameGraphOptions {
  /** SelectMergeStacktracesRequest.max_nodes; below 1 keeps every node. */
  maxNodes?: number;
}

const OTHER = 'other';

/**
 * Orders strings by UTF-8 bytes (Go's string comparison, which Pyroscope's trees use), which is
 * code point order: JS compares UTF-16 code units, which disagrees for astral characters.
 */
export function compareUtf8(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x === y) continue;
    // Lift surrogates above U+E000..U+FFFF so code unit order becomes code point order.
    if (x >= 0xd800) x = x < 0xe000 ? x + 0x2000 : x - 0x800;
    if (y >= 0xd800) y = y < 0xe000 ? y + 0x2000 : y - 0x800;
    return x - y;
  }
  return a.length - b.length;
}

/**
 * Pyroscope's function-name tree: one node per frame name per level, children sorted by name.
 * Node 0 is the virtual root. `left`/`right` hold two sides (a single graph uses `right`). Per-node
 * arrays are the shared tree scratch's (valid until the next build), indexed by node below `size`.
 */
interface NameTree {
  size: number;
  /** Distinct frame names; a node's is names[nameOf[node]] (the root's is -1). */
  names: string[];
  nameOf: Int32Array;
  leftTotal: Float64Array;
  leftSelf: Float64Array;
  rightTotal: Float64Array;
  rightSelf: Float64Array;
  /** Children of node n, in name order: children[childStart[n]] .. children[childStart[n] + childCount[n] - 1]. */
  childStart: Int32Array;
  childCount: Int32Array;
  children: Int32Array;
}

function buildNameTree(p: StackProfile, withBase: boolean): NameTree {
  const { frames, stacks } = internStacks(p);
  const { ids: nameId, count } = keyIds(frames, pyroscopeFrameName, undefined, 'pyroscope-frame-name');
  const names: string[] = new Array<string>(count);
  for (let i = 0; i < frames.length; i++) names[nameId[i]] = pyroscopeFrameName(frames[i]);
  const right = p.values;
  const left = withBase ? p.base : undefined;
  // Tree.InsertStack: empty stacks and non-positive values add nothing.
  const trie = mergeTrie(stacks, nameId, count, (s) => stacks[s].length > 0 && (right[s] > 0 || (left !== undefined && left[s] > 0)));
  const { size, parent, leaf, childStart, childCount } = trie;
  const children = trie.builderInt32;
  const [leftTotal, leftSelf, rightTotal, rightSelf] = trie.scratch.float64;
  for (const a of [leftTotal, leftSelf, rightTotal, rightSelf]) a.fill(0, 0, size);
  // Each side's sums stack by stack, from the leaf up.
  const add = (at: number, v: number, total: Float64Array, self: Float64Array): void => {
    if (!(v > 0)) return;
    total[0] += v;
    self[at] += v;
    for (let node = at; node > 0; node = parent[node]) total[node] += v;
  };
  for (let s = 0; s < stacks.length; s++) {
    const at = leaf[s];
    if (at < 0) continue;
    add(at, right[s], rightTotal, rightSelf);
    if (left) add(at, left[s], leftTotal, leftSelf);
  }
  // Children in name order: names are ranked once, each node's siblings sorted by rank.
  const rank = new Int32Array(count);
  Array.from({ length: count }, (_, i) => i)
    .sort((a, b) => compareUtf8(names[a], names[b]))
    .forEach((id, r) => (rank[id] = r));
  const nameOf = trie.key;
  for (let n = 0; n < size; n++) children[n] = n;
  for (let n = 0; n < size; n++) {
    const from = childStart[n];
    const to = from + childCount[n];
    if (to - from > 1) children.subarray(from, to).sort((a, b) => rank[nameOf[a]] - rank[nameOf[b]]);
  }
  return { size, names, nameOf, leftTotal, leftSelf, rightTotal, rightSelf, childStart, childCount, children };
}

/** The k-th largest of `values` (k ≥ 1, k ≤ values.length; `values` is reordered). */
function kthLargest(values: Float64Array, k: number): number {
  return kthSmallest(values, values.length - k);
}

function deltaEncode(values: number[], start: number, step: number): void {
  let prev = 0;
  for (let i = start; i < values.length; i += step) {
    values[i] -= prev;
    prev += values[i] + values[i + 1];
  }
}

/**
 * Pyroscope's NewFlameGraph (pkg/model/flamegraph.go) from `values`: names[0] = "total";
 * children below the max_nodes threshold (the max_nodes-th largest node total) fold into one
 * "other" node per parent; nodes are laid out self first, then children in name order.
 */
export function pyroscopeFlameGraph(p: StackProfile, opts: PyroscopeFlameGraphOptions = {}): PyroscopeFlameGraph {
  const t = buildNameTree(p, false);
  const total = t.rightTotal;
  const self = t.rightSelf;
  const maxNodes = opts.maxNodes ?? 0;
  const n = t.size;
  let minVal = 0;
  if (maxNodes >= 1 && n - 1 > maxNodes) minVal = kthLargest(Float64Array.from(total.subarray(1, n)), maxNodes);
  const otherId = t.names.indexOf(OTHER);

  // Virtual nodes ("other") get ids past the tree's.
  const vValue: number[] = [];
  const nameOf = (x: number): string => (x < n ? t.names[t.nameOf[x]] : OTHER);
  const totalOf = (x: number): number => (x < n ? total[x] : vValue[x - n]);
  const selfOf = (x: number): number => (x < n ? self[x] : vValue[x - n]);

  const names: string[] = [];
  const nameIdx = new Map<string, number>();
  const levels: number[][] = [];
  let maxSelf = 0;
  // The walk's stack as three parallel arrays (node, x, level).
  const stack: number[] = [0, 0, 0];
  while (stack.length > 0) {
    const level = stack.pop()!;
    const curX = stack.pop()!;
    const node = stack.pop()!;
    const nodeSelf = selfOf(node);
    if (nodeSelf > maxSelf) maxSelf = nodeSelf;
    let name = node === 0 ? '' : nameOf(node);
    let i = nameIdx.get(name);
    if (i === undefined) {
      i = names.length;
      if (i === 0) name = 'total';
      nameIdx.set(name, i);
      names.push(name);
    }
    if (level === levels.length) levels.push([]);
    // Pushed reversed; every level is reversed as a whole below (upstream's Stack.Slice).
    levels[level].push(i, nodeSelf, totalOf(node), curX);
    let x = curX + nodeSelf;
    let other = 0;
    if (node < n) {
      for (let j = t.childStart[node], end = j + t.childCount[node]; j < end; j++) {
        const c = t.children[j];
        if (total[c] >= minVal && t.nameOf[c] !== otherId) {
          stack.push(c, x, level + 1);
          x += total[c];
        } else {
          other += total[c];
        }
      }
    }
    if (other !== 0) {
      vValue.push(other);
      stack.push(n + vValue.length - 1, x, level + 1);
    }
  }
  const out = levels.map((l) => {
    l.reverse();
    deltaEncode(l, 0, 4);
    return { values: l };
  });
  let sum = 0;
  for (let j = t.childStart[0], end = j + t.childCount[0]; j < end; j++) sum += total[t.children[j]];
  return { names, levels: out, total: sum, maxSelf };
}

/**
 * Pyroscope's NewFlamegraphDiff (pkg/model/flamegraph_diff.go): left = `base` (the baseline),
 * right = `values`; both trees aligned on one name-sorted structure under a single root.
 */
export function pyroscopeFlameGraphDiff(p: StackProfile, opts: PyroscopeFlameGraphOptions = {}): PyroscopeFlameGraphDiff {
  if (!p.base) throw FirnError.invalidArgument('a flame graph diff needs a profile with a base (left) side');
  const t = buildNameTree(p, true);
  const maxNodes = opts.maxNodes ?? 0;
  const n = t.size;
  let minVal = 0;
  // combineMinValues counts the single root too.
  if (maxNodes >= 1 && n > maxNodes) {
    const m = new Float64Array(n);
    for (let i = 0; i < n; i++) m[i] = Math.max(t.leftTotal[i], t.rightTotal[i]);
    minVal = kthLargest(m, maxNodes);
  }
  const vLeft: number[] = [];
  const vRight: number[] = [];
  const isTree = (x: number): boolean => x < n;
  const get = (x: number) =>
    isTree(x)
      ? { name: x === 0 ? '' : t.names[t.nameOf[x]], lt: t.leftTotal[x], ls: t.leftSelf[x], rt: t.rightTotal[x], rs: t.rightSelf[x] }
      : { name: OTHER, lt: vLeft[x - n], ls: vLeft[x - n], rt: vRight[x - n], rs: vRight[x - n] };

  const names: string[] = [];
  const nameIdx = new Map<string, number>();
  const levels: number[][] = [];
  let maxSelf = 0;
  const stack: Array<{ node: number; xl: number; xr: number; level: number }> = [{ node: 0, xl: 0, xr: 0, level: 0 }];
  for (let cur = stack.pop(); cur !== undefined; cur = stack.pop()) {
    const v = get(cur.node);
    if (!(v.lt >= minVal || v.rt >= minVal || v.name === OTHER)) continue;
    let i = nameIdx.get(v.name);
    if (i === undefined) {
      i = names.length;
      nameIdx.set(v.name, i);
      names.push(i === 0 ? 'total' : v.name);
    }
    if (cur.level === levels.length) levels.push([]);
    maxSelf = Math.max(maxSelf, v.ls, v.rs);
    levels[cur.level].push(cur.xl, v.lt, v.ls, cur.xr, v.rt, v.rs, i);
    let xl = cur.xl + v.ls;
    let xr = cur.xr + v.rs;
    let otherL = 0;
    let otherR = 0;
    if (isTree(cur.node)) {
      for (let j = t.childStart[cur.node], end = j + t.childCount[cur.node]; j < end; j++) {
        const c = t.children[j];
        if (t.leftTotal[c] >= minVal || t.rightTotal[c] >= minVal) {
          stack.push({ node: c, xl, xr, level: cur.level + 1 });
          xl += t.leftTotal[c];
          xr += t.rightTotal[c];
        } else {
          otherL += t.leftTotal[c];
          otherR += t.rightTotal[c];
        }
      }
    }
    if (otherL !== 0 || otherR !== 0) {
      vLeft.push(otherL);
      vRight.push(otherR);
      stack.push({ node: n + vLeft.length - 1, xl, xr, level: cur.level + 1 });
    }
  }
  const out = levels.map((l) => {
    reverseChunks(l, 7);
    deltaEncode(l, 0, 7);
    deltaEncode(l, 3, 7);
    return { values: l };
  });
  return { names, levels: out, total: t.leftTotal[0] + t.rightTotal[0], maxSelf, leftTicks: t.leftTotal[0], rightTicks: t.rightTotal[0] };
}

function reverseChunks(a: number[], size: number): void {
  for (let i = 0, j = a.length - size; i < j; i += size, j -= size) {
    for (let k = 0; k < size; k++) {
      const tmp = a[i + k];
      a[i + k] = a[j + k];
      a[j + k] = tmp;
    }
  }
}

/**
 * What the flame graph builders (Parca's Arrow record, Pyroscope's flame graph) share: typed
 * arrays kept from one tree build to the next, the merge trie they build over them, and a
 * selection of the node cap's threshold.
 *
 * A flame graph over half a million frame slots needs ≈ 50 MB of per-node arrays. Allocated (and
 * zero-filled) per query, that made V8 run a full collection every query or two (external memory
 * counts toward its heap limits). Builds are synchronous, so one set serves every query; it
 * grows to the largest recent build and is dropped after `SCRATCH_IDLE_MS` without one. A
 * build sets the entries of the nodes (stacks, keys) it uses, so nothing needs clearing between builds.
 */
export class TreeScratch {
  /** Per node (plus one), `INT32_ARRAYS` of them: the trie's (`TRIE_ARRAYS`), then the builder's. */
  readonly int32: Int32Array[];
  /** Per node, `FLOAT64_ARRAYS` of them. */
  readonly float64: Float64Array[];
  readonly uint8: Uint8Array;
  /** Per stack, `STACK_ARRAYS` of them (the trie's). */
  readonly perStack: Int32Array[];
  /** Per key, `KEY_ARRAYS` of them (the trie's). */
  readonly perKey: Int32Array[];

  constructor(
    readonly capacity: number,
    readonly stackCapacity: number,
    readonly keyCapacity: number,
  ) {
    this.int32 = Array.from({ length: INT32_ARRAYS }, () => new Int32Array(capacity + 1));
    this.float64 = Array.from({ length: FLOAT64_ARRAYS }, () => new Float64Array(capacity));
    this.uint8 = new Uint8Array(capacity);
    this.perStack = Array.from({ length: STACK_ARRAYS }, () => new Int32Array(stackCapacity));
    this.perKey = Array.from({ length: KEY_ARRAYS }, () => new Int32Array(keyCapacity));
  }
}

const TRIE_ARRAYS = 11;
/** The trie's per-node arrays and one of the builder's own. */
const INT32_ARRAYS = TRIE_ARRAYS + 1;
const FLOAT64_ARRAYS = 4;
const STACK_ARRAYS = 6;
const KEY_ARRAYS = 2;
const SCRATCH_IDLE_MS = 30_000;
let scratch: TreeScratch | undefined;
let scratchUsedAt = 0;
let scratchTimer: ReturnType<typeof setTimeout> | undefined;

/** Room for `capacity` nodes, `stacks` stacks and `keys` keys: the kept scratch when large enough, else a larger one kept instead. */
function treeScratch(capacity: number, stacks: number, keys: number): TreeScratch {
  let s = scratch;
  if (!s || s.capacity < capacity || s.stackCapacity < stacks || s.keyCapacity < keys) {
    const grown = (have: number, want: number): number => (have >= want ? have : Math.ceil(want * 1.25));
    s = new TreeScratch(grown(s?.capacity ?? 0, capacity), grown(s?.stackCapacity ?? 0, stacks), grown(s?.keyCapacity ?? 0, keys));
    scratch = s;
  }
  scratchUsedAt = Date.now();
  scratchTimer ??= dropScratchWhenIdle(SCRATCH_IDLE_MS);
  return s;
}

/** Drops the scratch once no build used it for SCRATCH_IDLE_MS (checked `ms` from now). */
function dropScratchWhenIdle(ms: number): ReturnType<typeof setTimeout> {
  const t = setTimeout(() => {
    const idle = Date.now() - scratchUsedAt;
    if (idle >= SCRATCH_IDLE_MS) {
      scratch = undefined;
      scratchTimer = undefined;
    } else {
      scratchTimer = dropScratchWhenIdle(SCRATCH_IDLE_MS - idle);
    }
  }, ms);
  // A kept scratch never holds a process open.
  if (typeof t === 'object') t.unref();
  return t;
}

/**
 * The stacks of a profile merged root first, frames merging per level by key: node 0 is the
 * root, and every node is a distinct key path from it. What both flame graph builders start from;
 * they add their sums and metadata with one walk per stack from its leaf (`leaf`, `parent`).
 */
export interface MergeTrie {
  /** Nodes, the root included. */
  size: number;
  parent: Int32Array;
  /** The key of the node's frames (the root's is -1). */
  key: Int32Array;
  depth: Int32Array;
  /**
   * The first (lowest-numbered) stack through the node. Nodes ordered by (first, depth) are in
   * the order inserting the stacks one by one would have made them.
   */
  first: Int32Array;
  /** The first stack's frame at the node (-1 for the root). */
  frame: Int32Array;
  /** Node n's children are the nodes childStart[n] .. childStart[n] + childCount[n] - 1, in order of first appearance. */
  childStart: Int32Array;
  childCount: Int32Array;
  /** Per stack: the node where it ends (the root for an empty stack), -1 for a stack left out. */
  leaf: Int32Array;
  /** The rest of the scratch: the builder's own per-node arrays (int32 ones past the trie's). */
  scratch: TreeScratch;
  builderInt32: Int32Array;
}

/**
 * Merges the stacks `include` keeps (stack s is `stacks[s]`, frame ids leaf first; frame f's key
 * is `key[f]`, below `keyCount`). Built level by level as a most-significant-digit partition of the
 * stacks by their keys root first, every stack's list kept in stack order: each frame occurrence
 * costs a look-up in arrays indexed by key and a copy, where inserting stack by stack costs a hash
 * look-up of (parent, key) in a table as large as the tree (cache misses on every frame). The
 * result is the same: children in order of first appearance, and sums a builder makes per stack
 * in stack order come out bit for bit equal.
 */
export function mergeTrie(stacks: readonly Int32Array[], key: Int32Array, keyCount: number, include: (s: number) => boolean): MergeTrie {
  // Nodes never outnumber the frames of all stacks (plus the root).
  let capacity = 1;
  for (const s of stacks) capacity += s.length;
  const sc = treeScratch(capacity, stacks.length, keyCount);
  const [parent, keyOf, depth, first, frame, childStart, childCount, lo, hi, todo, path, builderInt32] = sc.int32;
  const [leaf, bufA, bufB, childAt, pathStart, pathLength] = sc.perStack;
  const [stamp, childOfKey] = sc.perKey;
  stamp.fill(-1, 0, keyCount);
  // Each kept stack's frames root first, one after another: a level reads one number per stack.
  let n = 0;
  let used = 0;
  for (let s = 0; s < stacks.length; s++) {
    leaf[s] = -1;
    if (!include(s)) continue;
    bufA[n++] = s;
    const ids = stacks[s];
    pathStart[s] = used;
    pathLength[s] = ids.length;
    for (let j = ids.length - 1; j >= 0; j--) path[used++] = ids[j];
  }
  parent[0] = -1;
  keyOf[0] = -1;
  depth[0] = 0;
  first[0] = n > 0 ? bufA[0] : -1;
  frame[0] = -1;
  lo[0] = 0;
  hi[0] = n;
  let size = 1;
  let top = 0;
  todo[top++] = 0;
  // A node's stacks are src[lo .. hi); its children's go to dst over the same range, so a level's
  // lists live in one buffer and the next level's in the other.
  while (top > 0) {
    const node = todo[--top];
    const d = depth[node];
    const src = (d & 1) === 0 ? bufA : bufB;
    const dst = (d & 1) === 0 ? bufB : bufA;
    const from = lo[node];
    const to = hi[node];
    if (to - from === 1) {
      // One stack through the node (most of a fleet's deep tails): the rest of its path is a
      // chain, numbered as the partitions below would number it (the only child comes next).
      const s = src[from];
      const start = pathStart[s];
      const length = pathLength[s];
      let at = node;
      for (let j = d; j < length; j++) {
        const fid = path[start + j];
        const c = size++;
        parent[c] = at;
        keyOf[c] = key[fid];
        depth[c] = j + 1;
        first[c] = s;
        frame[c] = fid;
        childStart[at] = c;
        childCount[at] = 1;
        at = c;
      }
      childStart[at] = size;
      childCount[at] = 0;
      leaf[s] = at;
      continue;
    }
    const c0 = size;
    for (let i = from; i < to; i++) {
      const s = src[i];
      if (pathLength[s] === d) {
        leaf[s] = node;
        childAt[i] = -1;
        continue;
      }
      const fid = path[pathStart[s] + d];
      const k = key[fid];
      let c: number;
      if (stamp[k] !== node) {
        stamp[k] = node;
        c = size++;
        childOfKey[k] = c;
        parent[c] = node;
        keyOf[c] = k;
        depth[c] = d + 1;
        first[c] = s;
        frame[c] = fid;
        hi[c] = 0;
      } else {
        c = childOfKey[k];
      }
      hi[c]++;
      childAt[i] = c;
    }
    childStart[node] = c0;
    childCount[node] = size - c0;
    if (size === c0) continue;
    // Each child's range in dst, then the stacks copied there in order.
    let pos = from;
    for (let c = c0; c < size; c++) {
      const count = hi[c];
      lo[c] = pos;
      hi[c] = pos;
      pos += count;
    }
    for (let i = from; i < to; i++) {
      const c = childAt[i];
      if (c >= 0) dst[hi[c]++] = src[i];
    }
    // Depth first, first child first: a subtree's stacks stay together in memory.
    for (let c = size - 1; c >= c0; c--) todo[top++] = c;
  }
  return { size, parent, key: keyOf, depth, first, frame, childStart, childCount, leaf, scratch: sc, builderInt32 };
}

/**
 * The k-th smallest value of `a` (0-based; `a` is reordered): quickselect with a three-way
 * partition, as node values repeat a lot (many nodes hold one sample).
 */
export function kthSmallest(a: Float64Array, k: number): number {
  let lo = 0;
  let hi = a.length - 1;
  while (lo < hi) {
    const x = a[lo];
    const y = a[(lo + hi) >>> 1];
    const z = a[hi];
    const pivot = x < y ? (y < z ? y : x < z ? z : x) : x < z ? x : y < z ? z : y;
    let lt = lo;
    let gt = hi;
    let i = lo;
    while (i <= gt) {
      const v = a[i];
      if (v < pivot) {
        a[i++] = a[lt];
        a[lt++] = v;
      } else if (v > pivot) {
        a[i] = a[gt];
        a[gt--] = v;
      } else {
        i++;
      }
    }
    if (k < lt) hi = lt - 1;
    else if (k > gt) lo = gt + 1;
    else return pivot;
  }
  return a[k];
}

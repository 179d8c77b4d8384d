/**
 * A flame graph as flat arrays in breadth-first order (row 0 = the root), the shape Parca's
 * FLAMEGRAPH_ARROW report already has: each node's x position is `offset` (in value units from
 * the root's left edge) and its width `total`, so drawing and hit-testing need no tree walk.
 * Children always lie inside their parent's [offset, offset + total), and on one depth the
 * nodes are sorted by offset.
 */
export interface Flame {
  readonly n: number;
  readonly parent: Int32Array;
  readonly depth: Int32Array;
  readonly offset: Float64Array;
  readonly total: Float64Array;
  readonly self: Float64Array;
  /** Cumulative B − A per node (diff reports only). */
  readonly diff?: Float64Array;
  /** Index into `names`. */
  readonly name: Int32Array;
  readonly names: readonly string[];
  /** Index into `binaries` (0 = unknown). */
  readonly binary: Int32Array;
  readonly binaries: readonly string[];
  /** Index into `files` (0 = unknown) and the line (0 = unknown). */
  readonly file: Int32Array;
  readonly files: readonly string[];
  readonly line: Int32Array;
  readonly maxDepth: number;
  /** First node of each depth in breadth-first order; nodes of depth d are [depthStart[d], depthStart[d+1]). */
  readonly depthStart: Int32Array;
  readonly unit: string;
  /** Total of the profile (incl. what the node cap trimmed). */
  readonly profileTotal: number;
  /** Value dropped by trimming / the node cap. */
  readonly trimmed: number;
}

export interface FlameInput {
  parent: ArrayLike<number>;
  total: ArrayLike<number>;
  self: ArrayLike<number>;
  diff?: ArrayLike<number>;
  name: ArrayLike<number>;
  names: readonly string[];
  binary?: ArrayLike<number>;
  binaries?: readonly string[];
  file?: ArrayLike<number>;
  files?: readonly string[];
  line?: ArrayLike<number>;
  unit: string;
  profileTotal?: number;
  trimmed?: number;
}

/**
 * Lays out a tree given in breadth-first order (every parent before its children, children of
 * one parent in the order they are drawn) and builds the per-depth index.
 */
export function buildFlame(t: FlameInput): Flame {
  const n = t.parent.length;
  const parent = Int32Array.from(t.parent);
  const depth = new Int32Array(n);
  const offset = new Float64Array(n);
  const next = new Float64Array(n); // next free x inside each node, for its children
  const total = Float64Array.from(t.total);
  let maxDepth = 0;
  for (let i = 0; i < n; i++) {
    const p = parent[i];
    if (p < 0) {
      depth[i] = 0;
      offset[i] = 0;
    } else {
      if (p >= i) throw new Error(`flame graph row ${i} comes before its parent ${p}`);
      depth[i] = depth[p] + 1;
      offset[i] = next[p];
      next[p] += total[i];
    }
    next[i] = offset[i];
    if (depth[i] > maxDepth) maxDepth = depth[i];
    if (i > 0 && depth[i] < depth[i - 1]) throw new Error('flame graph rows are not breadth-first');
  }
  const depthStart = new Int32Array(maxDepth + 2);
  depthStart.fill(n);
  for (let i = n - 1; i >= 0; i--) depthStart[depth[i]] = i;
  depthStart[maxDepth + 1] = n;
  for (let d = maxDepth; d >= 0; d--) if (depthStart[d] === n) depthStart[d] = depthStart[d + 1];
  return {
    n,
    parent,
    depth,
    offset,
    total,
    self: Float64Array.from(t.self),
    diff: t.diff ? Float64Array.from(t.diff) : undefined,
    name: Int32Array.from(t.name),
    names: t.names,
    binary: t.binary ? Int32Array.from(t.binary) : new Int32Array(n),
    binaries: t.binaries ?? [''],
    file: t.file ? Int32Array.from(t.file) : new Int32Array(n),
    files: t.files ?? [''],
    line: t.line ? Int32Array.from(t.line) : new Int32Array(n),
    maxDepth,
    depthStart,
    unit: t.unit,
    profileTotal: t.profileTotal ?? (n > 0 ? total[0] : 0),
    trimmed: t.trimmed ?? 0,
  };
}

/** The node of `depth` under x (in value units), or -1: binary search in that depth's row. */
export function nodeAt(f: Flame, depth: number, x: number): number {
  if (depth < 0 || depth > f.maxDepth) return -1;
  let lo = f.depthStart[depth];
  let hi = f.depthStart[depth + 1] - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (x < f.offset[mid]) hi = mid - 1;
    else if (x >= f.offset[mid] + f.total[mid]) lo = mid + 1;
    else return mid;
  }
  return -1;
}

/** Node names from the root's child down to `i` (the root itself has no name in the path). */
export function pathOf(f: Flame, i: number): string[] {
  const out: string[] = [];
  for (let k = i; k > 0; k = f.parent[k]) out.push(f.names[f.name[k]]);
  return out.reverse();
}

/** The node at a path of names, or -1 (a share link whose data changed). */
export function nodeByPath(f: Flame, path: readonly string[]): number {
  let cur = 0;
  for (const want of path) {
    let found = -1;
    const d = f.depth[cur] + 1;
    if (d > f.maxDepth) return -1;
    for (let i = f.depthStart[d]; i < f.depthStart[d + 1]; i++) {
      if (f.parent[i] === cur && f.names[f.name[i]] === want) {
        found = i;
        break;
      }
    }
    if (found < 0) return -1;
    cur = found;
  }
  return cur;
}

/** Is `i` inside the subtree of `root` (itself included)? */
export function isWithin(f: Flame, i: number, root: number): boolean {
  return f.depth[i] >= f.depth[root] && f.offset[i] >= f.offset[root] && f.offset[i] + f.total[i] <= f.offset[root] + f.total[root] + 1e-9 * f.total[root];
}

/** Self B − A per node, from the cumulative diff (a node's diff minus its children's). */
export function selfDiff(f: Flame): Float64Array | undefined {
  if (!f.diff) return undefined;
  const out = Float64Array.from(f.diff);
  for (let i = 1; i < f.n; i++) out[f.parent[i]] -= f.diff[i];
  return out;
}

export interface SearchResult {
  /** 1 for nodes whose name matches. */
  readonly matched: Uint8Array;
  /** Total of matched nodes that have no matched ancestor (no double counting of recursion). */
  readonly matchedTotal: number;
  readonly count: number;
}

/** Nodes whose name matches `pattern` (a regular expression, case-insensitive; plain text works). */
export function search(f: Flame, pattern: string): SearchResult | undefined {
  if (pattern.trim() === '') return undefined;
  let re: RegExp;
  try {
    re = new RegExp(pattern, 'i');
  } catch {
    const escaped = pattern.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    re = new RegExp(escaped, 'i');
  }
  const nameHit = f.names.map((s) => re.test(s));
  const matched = new Uint8Array(f.n);
  const under = new Uint8Array(f.n); // a matched ancestor exists (or is itself)
  let matchedTotal = 0;
  let count = 0;
  for (let i = 1; i < f.n; i++) {
    const p = f.parent[i];
    if (nameHit[f.name[i]]) {
      matched[i] = 1;
      count++;
      if (!under[p]) matchedTotal += f.total[i];
      under[i] = 1;
    } else {
      under[i] = under[p];
    }
  }
  return { matched, matchedTotal, count };
}

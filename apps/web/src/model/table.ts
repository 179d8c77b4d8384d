import { selfDiff, type Flame } from './flame';

/** One function in the top table. */
export interface TopRow {
  readonly name: number;
  readonly label: string;
  readonly self: number;
  /** Counted once per stack even when the function recurses. */
  readonly total: number;
  readonly selfDiff: number;
  readonly totalDiff: number;
  /** The biggest node of this function: where a click in the table focuses the graph. */
  readonly biggest: number;
  readonly binary: string;
}

/** Aggregates the graph's nodes by function name (what is drawn is what is counted). */
export function topTable(f: Flame): TopRow[] {
  const k = f.names.length;
  const self = new Float64Array(k);
  const total = new Float64Array(k);
  const sd = new Float64Array(k);
  const td = new Float64Array(k);
  const biggest = new Int32Array(k).fill(-1);
  const seen = new Uint8Array(k);
  const nodeSelfDiff = selfDiff(f);
  // Depth-first over the breadth-first arrays: an explicit stack of (node, child cursor) would
  // need child lists; instead mark "name is on my root path" with a per-name counter walked
  // along parent links, which costs O(depth) per node.
  const onPath = (i: number, nm: number): boolean => {
    for (let p = f.parent[i]; p > 0; p = f.parent[p]) if (f.name[p] === nm) return true;
    return false;
  };
  for (let i = 1; i < f.n; i++) {
    const nm = f.name[i];
    seen[nm] = 1;
    self[nm] += f.self[i];
    if (nodeSelfDiff) sd[nm] += nodeSelfDiff[i];
    if (!onPath(i, nm)) {
      total[nm] += f.total[i];
      if (f.diff) td[nm] += f.diff[i];
    }
    if (biggest[nm] < 0 || f.total[i] > f.total[biggest[nm]]) biggest[nm] = i;
  }
  const rows: TopRow[] = [];
  for (let nm = 0; nm < k; nm++) {
    if (!seen[nm]) continue;
    const b = biggest[nm];
    rows.push({
      name: nm,
      label: f.names[nm],
      self: self[nm],
      total: total[nm],
      selfDiff: sd[nm],
      totalDiff: td[nm],
      biggest: b,
      binary: f.binaries[f.binary[b]] ?? '',
    });
  }
  return rows;
}

export type SortKey = 'name' | 'self' | 'total' | 'selfDiff' | 'totalDiff';

export function sortRows(rows: readonly TopRow[], key: SortKey, desc: boolean): TopRow[] {
  const dir = desc ? -1 : 1;
  const out = [...rows];
  if (key === 'name') out.sort((a, b) => dir * a.label.localeCompare(b.label));
  else out.sort((a, b) => dir * (a[key] - b[key]) || a.label.localeCompare(b.label));
  return out;
}

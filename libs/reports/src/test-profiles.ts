// Fixtures and independent readers shared by this library's tests (not exported from the library).
import type { Frame } from '@firn/profiles';
import { tableFromIPC, type Table } from 'apache-arrow';
import fc from 'fast-check';
import type { StackProfile } from './stack-profile';

export const CPU = 'parca_agent:samples:count:cpu:nanoseconds:delta';

const app = (functionName: string, address: bigint, line: number, inlined = false): Frame => ({
  buildId: 'b1',
  mappingFile: '/usr/bin/app',
  address,
  functionName,
  fileName: 'app.c',
  line,
  inlined,
});

export const F = {
  main: app('main', 0x100n, 10),
  handle: app('handle', 0x200n, 20),
  parse: app('parse', 0x300n, 30),
  /** Inlined into parse: same address, innermost line first (leaf side). */
  helper: app('inlinedHelper', 0x300n, 31, true),
  compute: app('compute', 0x400n, 40),
  idle: app('idle', 0x500n, 50),
  unsym: { buildId: 'c2', mappingFile: '/lib/libc.so.6', address: 0xabcn, functionName: '', fileName: '', line: 0, inlined: false } satisfies Frame,
};

/**
 * total 16
 *   main 15
 *     handle 9 (flat 1)
 *       parse 5
 *         inlinedHelper 5 (flat 5, inlined)
 *       compute 3 (flat 3)
 *     [libc.so.6] 0xabc 2 (flat 2, unsymbolized)
 *     compute 4 (flat 4)
 *   idle 1 (flat 1)
 */
export function handProfile(base?: number[]): StackProfile {
  const stacks: Frame[][] = [
    [F.helper, F.parse, F.handle, F.main],
    [F.compute, F.handle, F.main],
    [F.unsym, F.main],
    [F.handle, F.main],
    [F.compute, F.main],
    [F.idle],
  ];
  const values = Float64Array.from([5, 3, 2, 1, 4, 1]);
  return { profileType: CPU, stacks, values, total: 16, ...(base ? { base: Float64Array.from(base) } : {}) };
}

/** A node of an expected or decoded tree; children in the order the format lists them. */
export interface TreeNode {
  name: string;
  value: number;
  self: number;
  children: TreeNode[];
}

export const node = (name: string, value: number, self: number, children: TreeNode[] = []): TreeNode => ({ name, value, self, children });

/** Rebuilds a tree from nested-set rows (level, value, self, label) in depth-first order. */
export function nestedSetToTree(rows: Array<{ level: number; value: number; self: number; label: string }>): TreeNode {
  const root = node(rows[0].label, rows[0].value, rows[0].self);
  const path: TreeNode[] = [root];
  for (const r of rows.slice(1)) {
    const n = node(r.label, r.value, r.self);
    path[r.level - 1].children.push(n);
    path[r.level] = n;
    path.length = r.level + 1;
  }
  return root;
}

export function decodeIpc(record: Uint8Array): Table {
  return tableFromIPC(record);
}

const num = (v: unknown): number => (v === null || v === undefined ? 0 : Number(v));
const text = (v: unknown): string | null => (v === null || v === undefined ? null : typeof v === 'string' ? v : new TextDecoder().decode(v as Uint8Array));

/**
 * Grafana's Parca data source walk (pkg/tsdb/parca/query.go, flamegraphIterator.iterate and
 * nodeName), re-implemented: start from row 0's children, take the next row from the front,
 * put its children in front of the rest, and emit level / cumulative / self / label.
 */
export function grafanaWalk(table: Table): Array<{ level: number; value: number; self: number; label: string }> {
  const children = table.getChild('children')!;
  const cumulative = table.getChild('cumulative')!;
  const mappingFile = table.getChild('mapping_file')!;
  const functionName = table.getChild('function_name')!;
  const address = table.getChild('location_address')!;
  const kids = (row: number): number[] => {
    const l = children.get(row) as ArrayLike<number> | null;
    return l ? Array.from(l) : [];
  };
  const cum = (row: number): number => num(cumulative.get(row));
  const nameOf = (row: number): string => {
    let name = '';
    const m = text(mappingFile.get(row));
    if (m !== null) name += `[${m.split('/').pop()}] `;
    const f = text(functionName.get(row));
    if (f !== null && f !== '') return name + f;
    const a = address.get(row) as bigint | null;
    const addr = a === null ? '' : `0x${a.toString(16)}`;
    return name === '' && addr === '' ? '<unknown>' : name + addr;
  };
  const out: Array<{ level: number; value: number; self: number; label: string }> = [];
  let stack = kids(0).map((row) => ({ row, level: 1 }));
  const rootChildren = stack.reduce((s, c) => s + cum(c.row), 0);
  out.push({ level: 0, value: cum(0), self: cum(0) - rootChildren, label: 'total' });
  while (stack.length > 0) {
    const n = stack[0];
    stack = stack.slice(1);
    const c = kids(n.row).map((row) => ({ row, level: n.level + 1 }));
    const childValue = c.reduce((s, x) => s + cum(x.row), 0);
    stack = [...c, ...stack];
    out.push({ level: n.level, value: cum(n.row), self: cum(n.row) - childValue, label: nameOf(n.row) });
  }
  return out;
}

/**
 * Decodes Pyroscope's names/levels (4 ints per node) back into a tree: x offsets are deltas
 * from the end of the previous node on the same level; a node's parent is the node one level
 * up whose [x, x + total) holds its x.
 */
export function decodePyroscope(fg: { names: string[]; levels: Array<{ values: number[] }> }, stride = 4, totalAt = 1, selfAt = 2, xAt = 0): TreeNode {
  const levels = fg.levels.map((l) => {
    const nodes: Array<{ x: number; total: number; n: TreeNode }> = [];
    let prev = 0;
    for (let i = 0; i < l.values.length; i += stride) {
      const x = prev + l.values[i + xAt];
      const total = l.values[i + totalAt];
      prev = x + total;
      nodes.push({ x, total, n: node(fg.names[l.values[i + stride - 1]], total, l.values[i + selfAt]) });
    }
    return nodes;
  });
  for (let d = 1; d < levels.length; d++) {
    for (const c of levels[d]) {
      const parent = levels[d - 1].find((p) => c.x >= p.x && c.x < p.x + p.total) ?? levels[d - 1].find((p) => c.x === p.x + p.total && p.total === 0);
      if (!parent) throw new Error(`no parent for ${c.n.name} at level ${d} x=${c.x}`);
      parent.n.children.push(c.n);
    }
  }
  return levels[0][0].n;
}

/** Every node's value equals its self plus its children's values. */
export function assertConsistent(t: TreeNode): boolean {
  const sum = t.children.reduce((s, c) => s + c.value, 0);
  return t.value === t.self + sum && t.children.every(assertConsistent);
}

const frameArb: fc.Arbitrary<Frame> = fc.record({
  buildId: fc.constantFrom('', 'b1'),
  mappingFile: fc.constantFrom('', '/bin/app', '/lib/libc.so.6'),
  address: fc.bigInt({ min: 0n, max: 0xffffn }),
  functionName: fc.constantFrom('', 'main', 'run', 'ünïcødé', 'other', 'total', '𝒳'),
  fileName: fc.constantFrom('', 'main.go'),
  line: fc.integer({ min: 0, max: 300 }),
  inlined: fc.boolean(),
});

const framePool = fc.sample(frameArb, { numRuns: 12, seed: 11 });

/** Random profiles with non-empty stacks and positive integer values. */
export const profileArb: fc.Arbitrary<StackProfile> = fc
  .array(
    fc.record({
      frames: fc.array(fc.constantFrom(...framePool), { minLength: 1, maxLength: 7 }),
      value: fc.integer({ min: 1, max: 100_000 }),
      base: fc.integer({ min: 0, max: 100_000 }),
    }),
    { maxLength: 40 },
  )
  .map((rows) => {
    const values = Float64Array.from(rows, (r) => r.value);
    return {
      profileType: CPU,
      stacks: rows.map((r) => r.frames),
      values,
      base: Float64Array.from(rows, (r) => r.base),
      total: values.reduce((s, v) => s + v, 0),
    };
  });

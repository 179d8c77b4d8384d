import { isFirnError } from '@firn/errors';
import type { Frame } from '@firn/profiles';
import { Dictionary, type Table } from 'apache-arrow';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FLAMEGRAPH_ARROW_COLUMNS, flamegraphArrow } from './flamegraph-arrow';
import { frameLabel } from './labels';
import { CPU, F, decodeIpc, grafanaWalk, handProfile, nestedSetToTree, node, profileArb, type TreeNode } from './test-profiles';

const col = (t: Table, name: string): unknown[] => t.getChild(name)!.toArray() as unknown[];
const values = (t: Table, name: string): Array<number | null> =>
  Array.from({ length: t.numRows }, (_, i) => {
    const v = t.getChild(name)!.get(i) as number | bigint | null;
    return v === null ? null : Number(v);
  });
const strings = (t: Table, name: string): Array<string | null> =>
  Array.from({ length: t.numRows }, (_, i) => {
    const v = t.getChild(name)!.get(i) as Uint8Array | null;
    return v === null ? null : new TextDecoder().decode(v);
  });
const typeOf = (t: Table, name: string): string => String(t.schema.fields.find((f) => f.name === name)!.type);

const L = (f: Frame) => frameLabel(f);

const EXPECTED: TreeNode = node('total', 16, 0, [
  node(L(F.main), 15, 0, [
    node(L(F.handle), 9, 1, [node(L(F.parse), 5, 0, [node(L(F.helper), 5, 5)]), node(L(F.compute), 3, 3)]),
    node('[libc.so.6] 0xabc', 2, 2),
    node(L(F.compute), 4, 4),
  ]),
  node(L(F.idle), 1, 1),
]);

describe(flamegraphArrow.name, () => {
  it('writes Parca’s columns in Parca’s order with its types', () => {
    const t = decodeIpc(flamegraphArrow(handProfile()).record);
    expect(t.schema.fields.map((f) => f.name)).toEqual([...FLAMEGRAPH_ARROW_COLUMNS]);
    expect(t.schema.fields.filter((f) => f.nullable).map((f) => f.name)).toEqual(['inlined']);
    for (const name of ['mapping_file', 'mapping_build_id', 'function_name', 'function_system_name', 'function_file_name']) {
      const type = t.schema.fields.find((f) => f.name === name)!.type as Dictionary;
      expect(type).toBeInstanceOf(Dictionary);
      expect(String(type.dictionary)).toBe('Binary');
      expect(String(type.indices)).toBe('Uint8');
    }
    expect(typeOf(t, 'labels_only')).toBe('Bool');
    expect(typeOf(t, 'location_address')).toBe('Uint64');
    expect(typeOf(t, 'children')).toBe('List<Uint32>');
    expect(typeOf(t, 'parent')).toBe('Int32');
    expect(typeOf(t, 'timestamp')).toBe('Int64');
    for (const name of ['cumulative', 'flat', 'depth', 'value_offset', 'location_line', 'function_startline']) expect(typeOf(t, name)).toBe('Uint8');
    expect(typeOf(t, 'diff')).toBe('Int8');
  });

  it('builds the hand-computed tree, breadth first, row 0 the root', () => {
    const r = flamegraphArrow(handProfile());
    expect(r.unit).toBe('count');
    expect(r.height).toBe(5);
    expect(r.trimmed).toBe(0n);
    expect(r.total).toBe(16n);
    expect(r.filtered).toBe(0n);
    const t = decodeIpc(r.record);
    // 0 root, 1 main, 2 idle, 3 handle, 4 libc, 5 compute, 6 parse, 7 compute, 8 inlinedHelper
    expect(strings(t, 'function_name')).toEqual([null, 'main', 'idle', 'handle', null, 'compute', 'parse', 'compute', 'inlinedHelper']);
    expect(values(t, 'cumulative')).toEqual([16, 15, 1, 9, 2, 4, 5, 3, 5]);
    expect(values(t, 'flat')).toEqual([0, 0, 1, 1, 2, 4, 0, 3, 5]);
    expect(values(t, 'parent')).toEqual([-1, 0, 0, 1, 1, 1, 3, 3, 6]);
    expect(values(t, 'depth')).toEqual([0, 1, 1, 2, 2, 2, 3, 3, 4]);
    expect(values(t, 'value_offset')).toEqual([0, 0, 15, 0, 9, 11, 0, 5, 0]);
    expect(col(t, 'children').map((c) => (c ? Array.from(c as Uint32Array) : null))).toEqual([[1, 2], [3, 4, 5], null, [6, 7], null, null, [8], null, null]);
    expect(col(t, 'inlined')).toEqual([false, false, false, false, false, false, false, false, true]);
    expect(col(t, 'labels_only')).toEqual([null, false, false, false, false, false, false, false, false]);
    expect(strings(t, 'mapping_file')).toEqual([null, ...Array(3).fill('/usr/bin/app'), '/lib/libc.so.6', ...Array(4).fill('/usr/bin/app')]);
    expect(strings(t, 'mapping_build_id')).toEqual([null, 'b1', 'b1', 'b1', 'c2', 'b1', 'b1', 'b1', 'b1']);
    expect(values(t, 'location_address')).toEqual([null, 0x100, 0x500, 0x200, 0xabc, 0x400, 0x300, 0x400, 0x300]);
    // The unsymbolized row has no line: line, start line and function columns are null.
    expect(values(t, 'location_line')).toEqual([null, 10, 50, 20, null, 40, 30, 40, 31]);
    expect(values(t, 'function_startline')).toEqual([null, 0, 0, 0, null, 0, 0, 0, 0]);
    expect(strings(t, 'function_file_name')).toEqual([null, 'app.c', 'app.c', 'app.c', null, 'app.c', 'app.c', 'app.c', 'app.c']);
    expect(values(t, 'diff')).toEqual(Array(9).fill(0));
    expect(values(t, 'timestamp')).toEqual(Array(9).fill(0));
  });

  it('reads back through Grafana’s Parca walk as the expected tree', () => {
    const t = decodeIpc(flamegraphArrow(handProfile()).record);
    expect(nestedSetToTree(grafanaWalk(t))).toEqual(EXPECTED);
  });

  it('keeps every bit of 64-bit addresses (kernel and high user addresses)', () => {
    const kernel: Frame = { ...F.main, mappingFile: '[kernel.kallsyms]', buildId: '', functionName: '', address: 0xffffffff81000010n };
    const high: Frame = { ...F.handle, functionName: '', address: 0x7fff_dead_beefn };
    const p = { profileType: CPU, stacks: [[high, kernel]], values: Float64Array.from([1]), total: 1 };
    const t = decodeIpc(flamegraphArrow(p).record);
    const addresses = Array.from({ length: t.numRows }, (_, i) => t.getChild('location_address')!.get(i) as bigint | null);
    expect(addresses).toEqual([null, 0xffffffff81000010n, 0x7fff_dead_beefn]);
  });

  it('merges frames by function name per level and nulls metadata that differs', () => {
    const other = { ...F.handle, line: 21, address: 0x210n };
    const p = {
      profileType: CPU,
      stacks: [
        [F.handle, F.main],
        [other, F.main],
      ],
      values: Float64Array.from([1, 2]),
      total: 3,
    };
    const t = decodeIpc(flamegraphArrow(p).record);
    expect(strings(t, 'function_name')).toEqual([null, 'main', 'handle']);
    expect(values(t, 'cumulative')).toEqual([3, 3, 3]);
    expect(values(t, 'location_line')).toEqual([null, 10, null]);
    expect(values(t, 'location_address')).toEqual([null, 0x100, null]);
    expect(strings(t, 'mapping_file')).toEqual([null, '/usr/bin/app', '/usr/bin/app']);
    // Grouping by address keeps them apart.
    const split = decodeIpc(flamegraphArrow(p, { groupBy: ['function_name', 'location_address'] }).record);
    expect(values(split, 'location_line')).toEqual([null, 10, 20, 21]);
  });

  it('keeps unsymbolized frames of different binaries apart', () => {
    const a = { ...F.unsym };
    const b = { ...F.unsym, mappingFile: '/lib/other.so', buildId: 'd3' };
    const p = { profileType: CPU, stacks: [[a], [b]], values: Float64Array.from([1, 1]), total: 2 };
    const walk = grafanaWalk(decodeIpc(flamegraphArrow(p).record));
    expect(walk.map((r) => r.label)).toEqual(['total', '[libc.so.6] 0xabc', '[other.so] 0xabc']);
  });

  it('says why unnamed rows have no name in the extra unnamed_reason column, without changing the tree', () => {
    const plain = handProfile();
    const explained = {
      ...plain,
      stacks: plain.stacks.map((st) => st.map((f) => (f === F.unsym ? { ...F.unsym, unnamedReason: 'no_debuginfo' as const } : f))),
    };
    const t = decodeIpc(flamegraphArrow(explained).record);
    const reason = strings(t, 'unnamed_reason');
    const names = strings(t, 'function_name');
    expect(reason.filter((r) => r !== null)).toEqual(['no_debuginfo']);
    expect(names[reason.indexOf('no_debuginfo')]).toBeNull();
    expect(grafanaWalk(t)).toEqual(grafanaWalk(decodeIpc(flamegraphArrow(plain).record)));
    expect(strings(decodeIpc(flamegraphArrow(plain).record), 'unnamed_reason').every((r) => r === null)).toBe(true);
  });

  it('trims children at or below the threshold share of their parent and reports it', () => {
    // 30 % (the request carries a percentage): root 16 → keep > 4; main 15 → keep > 4; handle 9 → keep > 2.
    const r = flamegraphArrow(handProfile(), { nodeTrimThreshold: 30 });
    expect(r.trimmed).toBe(7n); // idle 1 + libc 2 + compute 4
    expect(r.total).toBe(16n);
    expect(r.height).toBe(5);
    const t = decodeIpc(r.record);
    expect(strings(t, 'function_name')).toEqual([null, 'main', 'handle', 'parse', 'compute', 'inlinedHelper']);
    expect(values(t, 'cumulative')).toEqual([15, 15, 9, 5, 3, 5]);
    expect(values(t, 'parent')).toEqual([-1, 0, 1, 2, 2, 3]);
    expect(nestedSetToTree(grafanaWalk(t))).toEqual(
      node('total', 15, 0, [node(L(F.main), 15, 6, [node(L(F.handle), 9, 1, [node(L(F.parse), 5, 0, [node(L(F.helper), 5, 5)]), node(L(F.compute), 3, 3)])])]),
    );
    // Dictionaries keep only what the kept rows use.
    expect(t.getChild('mapping_file')!.data[0].dictionary!.length).toBe(1);
  });

  it('caps nodes at maxNodes, dropping the smallest into their parents and keeping the total', () => {
    // Non-root cumulatives: main 15, handle 9, parse 5, helper 5, compute 4, compute 3, libc 2, idle 1.
    const r = flamegraphArrow(handProfile(), { maxNodes: 5 });
    expect(r.trimmed).toBe(6n); // idle 1 + libc 2 + compute (under handle) 3
    expect(r.total).toBe(16n);
    const t = decodeIpc(r.record);
    expect(strings(t, 'function_name')).toEqual([null, 'main', 'handle', 'compute', 'parse', 'inlinedHelper']);
    expect(values(t, 'cumulative')).toEqual([15, 15, 9, 4, 5, 5]);
    expect(values(t, 'parent')).toEqual([-1, 0, 1, 1, 2, 4]);
    // A cap above the tree's size changes nothing.
    const [capped, full] = [flamegraphArrow(handProfile(), { maxNodes: 8 }), flamegraphArrow(handProfile())].map((x) => decodeIpc(x.record));
    expect(grafanaWalk(capped)).toEqual(grafanaWalk(full));
    expect(capped.numRows).toBe(9);
  });

  it('never emits more than maxNodes nodes, nor orphans, and keeps the total (property)', () => {
    fc.assert(
      fc.property(profileArb, fc.integer({ min: 1, max: 30 }), (p, maxNodes) => {
        const all = decodeIpc(flamegraphArrow({ ...p, base: undefined }).record).numRows;
        const r = flamegraphArrow({ ...p, base: undefined }, { maxNodes });
        const t = decodeIpc(r.record);
        expect(t.numRows - 1).toBe(Math.min(maxNodes, all - 1));
        expect(r.total).toBe(BigInt(p.total));
        const parents = values(t, 'parent');
        parents.forEach((parent, i) => expect(i === 0 ? parent === -1 : parent !== null && parent >= 0 && parent < i).toBe(true));
        // What the root shows plus what was trimmed below it is the whole profile.
        const cum = values(t, 'cumulative');
        expect((cum[0] ?? 0) <= p.total).toBe(true);
        // The kept nodes are the maxNodes largest by cumulative value (as a multiset).
        const down = (xs: (number | null)[]) =>
          xs
            .slice(1)
            .map(Number)
            .sort((a, b) => b - a);
        expect(down(cum)).toEqual(down(values(decodeIpc(flamegraphArrow({ ...p, base: undefined }).record), 'cumulative')).slice(0, maxNodes));
      }),
      { numRuns: 150 },
    );
  });

  it('fills diff with B - A per node and drops nodes that only A has', () => {
    const p = handProfile([2, 3, 0, 1, 6, 0]);
    p.stacks.push([{ ...F.compute, functionName: 'gone' }, F.main]);
    p.values = Float64Array.from([...p.values, 0]);
    p.base = Float64Array.from([...p.base!, 5]);
    const t = decodeIpc(flamegraphArrow(p, { absolute: true }).record);
    expect(strings(t, 'function_name')).toEqual([null, 'main', 'idle', 'handle', null, 'compute', 'parse', 'compute', 'inlinedHelper']);
    // B - A per stack: 3, 0, 2, 0, -2, 1, -5
    expect(values(t, 'diff')).toEqual([-1, -2, 1, 3, 2, -2, 3, 0, 3]);
    expect(values(t, 'cumulative')).toEqual([16, 15, 1, 9, 2, 4, 5, 3, 5]);
    expect(typeOf(t, 'diff')).toBe('Int8');
  });

  it('scales the smaller side first unless absolute', () => {
    // B = 16, A = 8: A is doubled, so diff = B - 2A.
    const p = handProfile([1, 1, 1, 1, 4, 0]);
    const t = decodeIpc(flamegraphArrow(p).record);
    expect(values(t, 'diff')[0]).toBe(0);
    expect(values(t, 'diff')[1]).toBe(15 - 16);
  });

  it('writes a root-only record for an empty profile', () => {
    const r = flamegraphArrow({ profileType: CPU, stacks: [], values: new Float64Array(0), total: 0 });
    expect(r.height).toBe(1);
    const t = decodeIpc(r.record);
    expect(t.numRows).toBe(1);
    expect(t.schema.fields.map((f) => f.name)).toEqual([...FLAMEGRAPH_ARROW_COLUMNS]);
    expect(values(t, 'parent')).toEqual([-1]);
    expect(grafanaWalk(t)).toEqual([{ level: 0, value: 0, self: 0, label: 'total' }]);
  });

  it('rejects unknown group-by fields as Parca does', () => {
    expect(() => flamegraphArrow(handProfile(), { groupBy: ['bogus'] })).toThrow(/invalid group by field: bogus/);
    try {
      flamegraphArrow(handProfile(), { groupBy: ['bogus'] });
    } catch (err) {
      expect(isFirnError(err, 'invalid_argument')).toBe(true);
    }
    expect(() => flamegraphArrow(handProfile(), { groupBy: ['labels.pod', 'timestamp', 'mapping_file'] })).not.toThrow();
  });

  it('widens value columns past 8 bits', () => {
    const p = { profileType: CPU, stacks: [[F.main]], values: Float64Array.from([70_000]), total: 70_000 };
    const t = decodeIpc(flamegraphArrow(p).record);
    expect(typeOf(t, 'cumulative')).toBe('Uint32');
    expect(typeOf(t, 'flat')).toBe('Uint32');
    expect(typeOf(t, 'value_offset')).toBe('Uint32');
  });

  it('keeps root cumulative and flat sums equal to the total (property)', () => {
    fc.assert(
      fc.property(profileArb, (p) => {
        const r = flamegraphArrow({ ...p, base: undefined });
        const t = decodeIpc(r.record);
        const cum = values(t, 'cumulative');
        const flat = values(t, 'flat').reduce((s: number, v) => s + (v ?? 0), 0);
        expect(cum[0] ?? 0).toBe(p.total);
        expect(flat).toBe(p.total);
        expect(r.trimmed).toBe(0n);
        const walk = grafanaWalk(t);
        expect(walk.every((w) => w.self >= 0)).toBe(true);
        expect(walk.reduce((s, w) => s + w.self, 0)).toBe(p.total);
      }),
      { numRuns: 150 },
    );
  });
});

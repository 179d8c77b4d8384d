import type { Table } from 'apache-arrow';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { tableArrow } from './table-arrow';
import { CPU, F, decodeIpc, handProfile, profileArb } from './test-profiles';

const nums = (t: Table, name: string) =>
  Array.from({ length: t.numRows }, (_, i) => {
    const v = t.getChild(name)!.get(i) as bigint | number | null;
    return v === null ? null : Number(v);
  });
const lists = (t: Table, name: string) =>
  Array.from({ length: t.numRows }, (_, i) => {
    const v = t.getChild(name)!.get(i) as ArrayLike<bigint> | null;
    return v === null ? null : Array.from(v, Number);
  });
const strs = (t: Table, name: string) => Array.from({ length: t.numRows }, (_, i) => t.getChild(name)!.get(i) as string | null);

describe(tableArrow.name, () => {
  it('writes Parca’s table columns and types', () => {
    const r = tableArrow(handProfile());
    expect(r.unit).toBe('count');
    expect(r.total).toBe(16n);
    const t = decodeIpc(r.record);
    expect(t.schema.fields.map((f) => `${f.name}:${String(f.type)}`)).toEqual([
      'mapping_file:Dictionary<Uint16, Utf8>',
      'mapping_build_id:Dictionary<Uint16, Utf8>',
      'location_address:Uint64',
      'location_line:Int64',
      'function_startline:Int64',
      'function_name:Dictionary<Uint32, Utf8>',
      'function_system_name:Dictionary<Uint16, Utf8>',
      'function_file_name:Dictionary<Uint32, Utf8>',
      'cumulative:Int64',
      'cumulative_diff:Int64',
      'flat:Int64',
      'flat_diff:Int64',
      'callers:List<Int64>',
      'callees:List<Int64>',
      'unnamed_reason:Dictionary<Uint16, Utf8>',
    ]);
    expect(t.schema.fields.filter((f) => f.nullable).map((f) => f.name)).toEqual(['cumulative_diff', 'unnamed_reason']);
  });

  it('says why an unnamed row has no name, null on named rows', () => {
    const p = handProfile();
    const explained = { ...p, stacks: p.stacks.map((st) => st.map((f) => (f === F.unsym ? { ...F.unsym, unnamedReason: 'no_symbol' as const } : f))) };
    const t = decodeIpc(tableArrow(explained).record);
    const reason = strs(t, 'unnamed_reason');
    expect(reason.filter((r) => r !== null)).toEqual(['no_symbol']);
    expect(strs(t, 'function_name')[reason.indexOf('no_symbol')]).toBeNull();
  });

  it('has one row per function in order of first appearance with callers and callees', () => {
    const t = decodeIpc(tableArrow(handProfile()).record);
    expect(strs(t, 'function_name')).toEqual(['inlinedHelper', 'parse', 'handle', 'main', 'compute', null, 'idle']);
    expect(strs(t, 'mapping_file')).toEqual([...Array(5).fill('/usr/bin/app'), '/lib/libc.so.6', '/usr/bin/app']);
    expect(nums(t, 'location_address')).toEqual([0x300, 0x300, 0x200, 0x100, 0x400, 0xabc, 0x500]);
    expect(nums(t, 'location_line')).toEqual([31, 30, 20, 10, 40, null, 50]);
    expect(nums(t, 'cumulative')).toEqual([5, 5, 9, 15, 7, 2, 1]);
    expect(nums(t, 'flat')).toEqual([5, 0, 1, 0, 7, 2, 1]);
    expect(nums(t, 'cumulative_diff')).toEqual(Array(7).fill(null));
    expect(nums(t, 'flat_diff')).toEqual(Array(7).fill(0));
    expect(lists(t, 'callers')).toEqual([[1], [2], [3], null, [2, 3], [3], null]);
    expect(lists(t, 'callees')).toEqual([null, [0], [1, 4], [2, 4, 5], null, null, null]);
  });

  it('counts a recursive function once per stack', () => {
    const p = { profileType: CPU, stacks: [[F.handle, F.handle, F.main]], values: Float64Array.from([3]), total: 3 };
    const t = decodeIpc(tableArrow(p).record);
    expect(nums(t, 'cumulative')).toEqual([3, 3]);
    expect(lists(t, 'callers')).toEqual([[0, 1], null]);
  });

  it('fills the diff columns with B - A', () => {
    const t = decodeIpc(tableArrow(handProfile([2, 3, 0, 1, 6, 0]), { absolute: true }).record);
    expect(nums(t, 'cumulative_diff')).toEqual([3, 3, 3, 3, -2, 2, 1]);
    expect(nums(t, 'flat_diff')).toEqual([3, 0, 0, 0, -2, 2, 1]);
  });

  it('sums flat to the total (property)', () => {
    fc.assert(
      fc.property(profileArb, (p) => {
        const t = decodeIpc(tableArrow({ ...p, base: undefined }).record);
        expect(nums(t, 'flat').reduce((s: number, v) => s + (v ?? 0), 0)).toBe(p.total);
      }),
      { numRuns: 100 },
    );
  });
});

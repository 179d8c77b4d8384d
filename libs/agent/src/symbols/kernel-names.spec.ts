import { describe, expect, it } from 'vitest';
import { lookupKernel, parseKallsyms } from '@firn/elf';
import { KernelNames } from './kernel-names';

const KALLSYMS = [
  'ffffffff81000000 T _stext',
  'ffffffff81000100 t do_one_initcall',
  'ffffffff81000100 T do_one_initcall_alias',
  'ffffffff81000200 D some_data',
  'ffffffff81000300 T schedule',
  'ffffffffc0001000 t ext4_read\t[ext4]',
].join('\n');

describe(KernelNames.name, () => {
  const table = parseKallsyms(KALLSYMS);
  const names = KernelNames.fromTable(table);

  it('names addresses like lookupKernel does', () => {
    for (const addr of [
      0xffffffff80000000n,
      0xffffffff81000000n,
      0xffffffff81000150n,
      0xffffffff81000250n,
      0xffffffff81000301n,
      0xffffffffc0001010n,
      0xffffffffc0201000n,
    ]) {
      expect(names.lookup(addr), addr.toString(16)).toBe(lookupKernel(table, addr)?.name ?? '');
    }
    expect(names.lookup(0xffffffff81000150n)).toBe('do_one_initcall');
    expect(names.lookup(0xffffffffc0001010n)).toBe('ext4_read');
    expect(names.size).toBe(4);
  });

  it('names nothing when kptr_restrict hid the addresses', () => {
    const hidden = KernelNames.fromTable(parseKallsyms('0000000000000000 T _stext\n0000000000000000 T schedule'));
    expect(hidden.size).toBe(0);
    expect(hidden.lookup(0xffffffff81000000n)).toBe('');
  });
});

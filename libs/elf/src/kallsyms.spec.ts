import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { lookupKernel, parseKallsyms } from './kallsyms';

const FIXTURE = [
  'ffffffff81000000 T _stext',
  'ffffffff81000000 T _text',
  'ffffffff81001000 t do_one_initcall',
  'ffffffff81002000 D some_data',
  'ffffffff81003000 T schedule',
  'ffffffffc0a01000 t ext4_file_read_iter\t[ext4]',
  'garbage line',
  '',
].join('\n');

describe(parseKallsyms.name, () => {
  it('keeps text symbols sorted, one per address, with their module', () => {
    const t = parseKallsyms(FIXTURE);
    expect(t.restricted).toBe(false);
    expect(t.symbols.map((s) => s.name)).toEqual(['_stext', 'do_one_initcall', 'schedule', 'ext4_file_read_iter']);
    expect(t.symbols[3]).toEqual({ address: 0xffffffffc0a01000n, name: 'ext4_file_read_iter', module: 'ext4' });
  });

  it('finds the function containing an address', () => {
    const t = parseKallsyms(FIXTURE);
    expect(lookupKernel(t, 0xffffffff81001010n)).toEqual({ name: 'do_one_initcall', offset: 0x10n });
    // Data symbols are not code: the address belongs to the preceding function.
    expect(lookupKernel(t, 0xffffffff81002004n)?.name).toBe('do_one_initcall');
    expect(lookupKernel(t, 0xffffffffc0a01008n)).toEqual({ name: 'ext4_file_read_iter', module: 'ext4', offset: 8n });
    expect(lookupKernel(t, 0xffffffff80000000n)).toBeUndefined();
    expect(lookupKernel(t, 0xffffffffc0a01000n + (1n << 21n))).toBeUndefined();
  });

  it('marks a table whose addresses are all hidden (kptr_restrict) as restricted', () => {
    const t = parseKallsyms('0000000000000000 T _text\n0000000000000000 t schedule\n');
    expect(t).toEqual({ symbols: [], restricted: true });
    expect(lookupKernel(t, 0x1234n)).toBeUndefined();
  });

  it('parses the running kernel /proc/kallsyms when readable', (ctx) => {
    let text: string;
    try {
      text = readFileSync('/proc/kallsyms', 'utf8');
    } catch {
      ctx.skip();
      return;
    }
    const t = parseKallsyms(text);
    if (t.restricted) {
      expect(t.symbols).toEqual([]);
      return;
    }
    const sched = t.symbols.find((s) => s.name === 'schedule');
    expect(sched).toBeDefined();
    if (sched) expect(lookupKernel(t, sched.address + 1n)?.name).toBe('schedule');
    expect(t.symbols.every((s, i) => i === 0 || s.address > t.symbols[i - 1].address)).toBe(true);
  });
});

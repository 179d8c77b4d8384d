import { describe, expect, it } from 'vitest';
import { FrameTable } from './frame-table';

describe(FrameTable.name, () => {
  it('gives frames with equal content equal ids and one Frame object, across growth and re-indexing', () => {
    const t = new FrameTable();
    const s = (x: string) => t.stringId(x);
    const ids: number[] = [];
    for (let i = 0; i < 2000; i++) ids.push(t.id(s('b'), s('/m'), s(`f${i}`), s('x.c'), i, i % 3, i * 10, i % 2 === 0));
    for (let i = 0; i < 2000; i++) expect(t.id(s('b'), s('/m'), s(`f${i}`), s('x.c'), i, i % 3, i * 10, i % 2 === 0)).toBe(ids[i]);
    expect(t.size).toBe(2000);
    expect(t.frame(ids[5])).toEqual({
      buildId: 'b',
      mappingFile: '/m',
      address: (2n << 32n) | 5n,
      functionName: 'f5',
      fileName: 'x.c',
      line: 50,
      inlined: false,
    });
  });

  it('tells apart frames differing in one field only, and rebuilds 64-bit addresses exactly', () => {
    const t = new FrameTable();
    const base = [t.stringId('b'), t.stringId('m'), t.stringId('f'), t.stringId('c')] as const;
    const a = t.id(...base, 0xffffffff, 0xffffffff, 1, false);
    expect(t.id(...base, 0xffffffff, 0xffffffff, 1, true)).not.toBe(a);
    expect(t.id(...base, 0xffffffff, 0xfffffffe, 1, false)).not.toBe(a);
    expect(t.id(...base, 0xffffffff, 0xffffffff, 2 ** 40, false)).not.toBe(a);
    expect(t.id(...base, 0xfffffffe, 0xffffffff, 1, false)).not.toBe(a);
    expect(t.id(...base, 0xffffffff, 0xffffffff, 1 - 2 ** 32, false)).not.toBe(a);
    const [b, m, f, c] = base;
    const other = t.stringId('other');
    for (const fields of [
      [other, m, f, c],
      [b, other, f, c],
      [b, m, other, c],
      [b, m, f, other],
    ] as const) {
      expect(t.id(...fields, 0xffffffff, 0xffffffff, 1, false)).not.toBe(a);
    }
    expect(t.id(...base, 0xffffffff, 0xffffffff, 1, false)).toBe(a);
    expect(t.size).toBe(10);
    expect(t.frame(a).address).toBe((1n << 64n) - 1n);
  });

  it('keeps the caller’s Frame object when given, and never matches an unindexed frame by content', () => {
    const t = new FrameTable();
    const f = { buildId: '', mappingFile: '', address: 7n, functionName: 'x', fileName: '', line: 0, inlined: false };
    const odd = t.addUnindexed({ ...f, line: 0.5 });
    t.reserve(10_000);
    const id = t.id(t.stringId(''), t.stringId(''), t.stringId('x'), t.stringId(''), 7, 0, 0, false, f);
    expect(id).not.toBe(odd);
    expect(t.frame(id)).toBe(f);
  });
});

import { describe, expect, it } from 'vitest';
import { FirnError } from '@firn/errors';
import { forEachFde, type Fde } from './eh-frame';
import { parseEhFrameHdr } from './eh-frame-hdr';
import { Reader } from './reader';
import { CfaKind, FpKind, RaKind, END_RULE, NO_FDE_RULE, type UnwindRule } from './rules';
import { buildUnwindRows, lookupRow } from './table';
import { CFA, DRAP_EXPR, EhFrameBuilder, PLT_EXPR, X86_CIE, sleb, uleb } from './testing/eh-frame-builder';

const BASE = 0x200000;
const sp = (off: number, fp: Partial<Pick<UnwindRule, 'fp' | 'fpOffset'>> = {}): UnwindRule => ({
  cfa: CfaKind.SpOffset,
  cfaOffset: off,
  fp: FpKind.Unchanged,
  fpOffset: 0,
  ra: RaKind.AtCfa,
  raOffset: -8,
  ...fp,
});
const fpRule = (off: number, fpOffset: number): UnwindRule => ({
  cfa: CfaKind.FpOffset,
  cfaOffset: off,
  fp: FpKind.AtCfa,
  fpOffset,
  ra: RaKind.AtCfa,
  raOffset: -8,
});

function table(b: EhFrameBuilder) {
  return buildUnwindRows({ bytes: b.build(), address: b.address }, 'x86_64');
}

function rowsOf(b: EhFrameBuilder): Array<[number, UnwindRule]> {
  const { rows } = table(b);
  return Array.from(rows.pcs, (pc, i) => [pc, rows.rules[rows.ruleIds[i]]]);
}

describe(Reader.name, () => {
  it('reads LEB128 values, including negative and 53-bit ones', () => {
    for (const v of [0, 1, 127, 128, 624485, 2 ** 40 + 3, Number.MAX_SAFE_INTEGER]) expect(new Reader(Uint8Array.from(uleb(v)), true, 0).uleb()).toBe(v);
    for (const v of [0, -1, 63, -64, 64, -65, -123456, 2 ** 40, -(2 ** 40)]) expect(new Reader(Uint8Array.from(sleb(v)), true, 0).sleb()).toBe(v);
  });

  it('throws invalid_argument past the end and for overlong LEB128', () => {
    expect(() => new Reader(Uint8Array.of(1, 2), true, 0).u32()).toThrow(FirnError);
    expect(() => new Reader(new Uint8Array(11).fill(0x80), true, 0).uleb()).toThrow(/longer than 10 bytes/);
  });
});

describe(forEachFde.name, () => {
  it('finds CIEs and FDEs with pc-relative addresses and skips the terminator', () => {
    const b = new EhFrameBuilder(BASE);
    const cie = b.cie({ instructions: X86_CIE });
    b.fde(cie, 0x1000, 0x20, []);
    b.fde(cie, 0x1040, 0x10, []);
    const fdes: Fde[] = [];
    const counts = forEachFde({ bytes: b.build(), address: BASE }, (f) => fdes.push(f));
    expect(counts).toEqual({ cies: 1, fdes: 2, skippedFdes: 0 });
    expect(fdes.map((f) => [f.pcBegin, f.pcEnd])).toEqual([
      [0x1000, 0x1020],
      [0x1040, 0x1050],
    ]);
    expect(fdes[0].cie.augmentation).toBe('zR');
    expect(fdes[0].cie.dataAlign).toBe(-8);
  });

  it('skips FDEs of discarded code (address 0 or empty)', () => {
    const b = new EhFrameBuilder(BASE);
    const cie = b.cie({ instructions: X86_CIE });
    b.fde(cie, 0, 0x20, []);
    b.fde(cie, 0x3000, 0, []);
    b.fde(cie, 0x3000, 4, []);
    expect(forEachFde({ bytes: b.build(), address: BASE }, () => undefined)).toEqual({ cies: 1, fdes: 1, skippedFdes: 2 });
  });

  it('reads the personality/LSDA augmentations (zPLR) without losing the FDE encoding', () => {
    // P: personality (udata4 absolute), L: LSDA encoding, R: FDE encoding pcrel|sdata4
    const raw = new EhFrameBuilder(BASE);
    const c2 = raw.cie({ augmentation: 'zPLR', augData: [0x03, 0x44, 0x33, 0x22, 0x11, 0x1b, 0x1b], instructions: X86_CIE });
    raw.fde(c2, 0x5000, 0x10, []);
    const fdes: Fde[] = [];
    forEachFde({ bytes: raw.build(), address: BASE }, (f) => fdes.push(f));
    expect(fdes[0].cie.fdeEncoding).toBe(0x1b);
    expect([fdes[0].pcBegin, fdes[0].pcEnd]).toEqual([0x5000, 0x5010]);
  });

  it('rejects a malformed entry chain with invalid_argument', () => {
    const b = new EhFrameBuilder(BASE);
    b.raw([0x40, 0, 0, 0, 1, 2]); // claims 64 bytes, has 2
    expect(() => forEachFde({ bytes: b.build(false), address: BASE }, () => undefined)).toThrow(/overruns the section/);
    const c = new EhFrameBuilder(BASE);
    c.raw([8, 0, 0, 0, 0xff, 0xff, 0, 0, 0, 0, 0, 0]); // FDE whose CIE pointer leaves the section
    expect(() => forEachFde({ bytes: c.build(), address: BASE }, () => undefined)).toThrow(FirnError);
  });
});

describe(buildUnwindRows.name, () => {
  it('turns a frame-pointer prologue into rsp- then rbp-based rules', () => {
    // push %rbp; mov %rsp,%rbp; ...; pop %rbp; ret
    const b = new EhFrameBuilder(BASE);
    const cie = b.cie({ instructions: X86_CIE });
    b.fde(cie, 0x1000, 0x30, [
      ...CFA.advance(1),
      ...CFA.defCfaOffset(16),
      ...CFA.offset(6, 2),
      ...CFA.advance(3),
      ...CFA.defCfaRegister(6),
      ...CFA.advance(0x28),
      ...CFA.defCfa(7, 8),
    ]);
    expect(rowsOf(b)).toEqual([
      [0x1000, sp(8)],
      [0x1001, sp(16, { fp: FpKind.AtCfa, fpOffset: -16 })],
      [0x1004, fpRule(16, -16)],
      [0x102c, sp(8, { fp: FpKind.AtCfa, fpOffset: -16 })],
      [0x1030, NO_FDE_RULE],
    ]);
  });

  it('restores remembered state (epilogue in the middle of a function)', () => {
    const b = new EhFrameBuilder(BASE);
    const cie = b.cie({ instructions: X86_CIE });
    b.fde(cie, 0x2000, 0x40, [
      ...CFA.advance(4),
      ...CFA.defCfaOffset(48),
      ...CFA.advance(8),
      ...CFA.remember(),
      ...CFA.defCfaOffset(8),
      ...CFA.advance(1),
      ...CFA.restoreState(),
    ]);
    expect(rowsOf(b)).toEqual([
      [0x2000, sp(8)],
      [0x2004, sp(48)],
      [0x200c, sp(8)],
      [0x200d, sp(48)],
      [0x2040, NO_FDE_RULE],
    ]);
  });

  it('recognises the PLT expression, the DRAP (realigned stack) pattern and the outermost frame', () => {
    const b = new EhFrameBuilder(BASE);
    const cie = b.cie({ instructions: X86_CIE });
    b.fde(cie, 0x1000, 0x10, [...CFA.defCfaOffset(16), ...CFA.advance(6), ...CFA.defCfaOffset(24), ...CFA.advance(10), ...CFA.defCfaExpression(PLT_EXPR)]);
    b.fde(cie, 0x1010, 0x40, [...CFA.defCfaExpression(PLT_EXPR)]);
    b.fde(cie, 0x3000, 0x20, [...CFA.advance(4), ...CFA.defCfaExpression(DRAP_EXPR), ...CFA.expression(6, [0x76, 0x00])]);
    b.fde(cie, 0x4000, 0x10, [...CFA.undefined(16)]);
    const { rows } = table(b);
    expect(lookupRow(rows, 0x1012)).toMatchObject({ cfa: CfaKind.Plt, cfaOffset: 11 });
    expect(lookupRow(rows, 0x3010)).toMatchObject({ cfa: CfaKind.DerefFp, cfaOffset: -8, fp: FpKind.AtFp, fpOffset: 0 });
    expect(lookupRow(rows, 0x4008)).toEqual(END_RULE);
    expect(lookupRow(rows, 0x2000)).toEqual(NO_FDE_RULE);
  });

  it('marks rules it cannot evaluate as unsupported, and a frame pointer kept elsewhere as lost', () => {
    const b = new EhFrameBuilder(BASE);
    const cie = b.cie({ instructions: X86_CIE });
    b.fde(cie, 0x1000, 0x10, [...CFA.defCfa(10, 0), ...CFA.advance(4), ...CFA.defCfa(7, 16), ...CFA.register(6, 3)]);
    const { rows } = table(b);
    expect(lookupRow(rows, 0x1000).cfa).toBe(CfaKind.Unsupported);
    expect(lookupRow(rows, 0x1004)).toMatchObject({ cfa: CfaKind.SpOffset, cfaOffset: 16, fp: FpKind.Lost });
  });

  it('clips overlapping FDEs, keeps gaps and counts FDEs with malformed programs', () => {
    const b = new EhFrameBuilder(BASE);
    const cie = b.cie({ instructions: X86_CIE });
    b.fde(cie, 0x1000, 0x100, [...CFA.advance(0x10), ...CFA.defCfaOffset(32)]);
    b.fde(cie, 0x1080, 0x20, [...CFA.defCfaOffset(64)]); // overlaps the first one
    b.fde(cie, 0x1200, 0x10, [0x3f /* not an opcode */]);
    b.fde(cie, 0x1300, 0x10, [...CFA.restoreState()]); // restore without remember
    const { rows, stats } = table(b);
    expect(stats.badFdes).toBe(2);
    expect(Array.from(rows.pcs)).toEqual([0x1000, 0x1010, 0x1080, 0x10a0]);
    expect(lookupRow(rows, 0x1090).cfaOffset).toBe(64);
    expect(lookupRow(rows, 0x10a0)).toEqual(NO_FDE_RULE);
    expect(lookupRow(rows, 0x1205)).toEqual(NO_FDE_RULE);
  });

  it('handles an AArch64 CIE: CFA from sp, return address in the link register until saved', () => {
    const b = new EhFrameBuilder(BASE);
    // AArch64 GCC: code align 4, data align -8, RA column 30, CFA = sp + 0
    const cie = b.cie({ instructions: [...CFA.defCfa(31, 0)], codeAlign: 4, ra: 30 });
    // stp x29, x30, [sp, #-16]!; mov x29, sp
    b.fde(cie, 0x1000, 0x20, [
      ...CFA.advance(1),
      ...CFA.defCfaOffset(16),
      ...CFA.offset(29, 2),
      ...CFA.offset(30, 1),
      ...CFA.advance(1),
      ...CFA.defCfaRegister(29),
    ]);
    const { rows } = buildUnwindRows({ bytes: b.build(), address: BASE }, 'aarch64');
    expect(lookupRow(rows, 0x1000)).toMatchObject({ cfa: CfaKind.SpOffset, cfaOffset: 0, ra: RaKind.InLinkRegister });
    expect(lookupRow(rows, 0x1004)).toMatchObject({ cfa: CfaKind.SpOffset, cfaOffset: 16, fp: FpKind.AtCfa, fpOffset: -16, ra: RaKind.AtCfa, raOffset: -8 });
    expect(lookupRow(rows, 0x1008)).toMatchObject({ cfa: CfaKind.FpOffset, cfaOffset: 16 });
  });
});

describe(parseEhFrameHdr.name, () => {
  it('decodes eh_frame_ptr, the count and the datarel search table', () => {
    const hdrAddr = 0x8000;
    const rel = (v: number) => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];
    // version 1, eh_frame_ptr pcrel|sdata4, fde_count udata4, table datarel|sdata4
    const bytes = Uint8Array.from([
      1,
      0x1b,
      0x03,
      0x3b,
      ...rel(0x9000 - (hdrAddr + 4)),
      ...rel(2),
      ...rel(0x1000 - hdrAddr),
      ...rel(0x9010 - hdrAddr),
      ...rel(0x1100 - hdrAddr),
      ...rel(0x9040 - hdrAddr),
    ]);
    const hdr = parseEhFrameHdr(bytes, hdrAddr);
    expect(hdr.ehFrameAddress).toBe(0x9000);
    expect(Array.from(hdr.initialLocations)).toEqual([0x1000, 0x1100]);
    expect(Array.from(hdr.fdeAddresses)).toEqual([0x9010, 0x9040]);
  });

  it('rejects an unsorted table and an impossible count', () => {
    const rel = (v: number) => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];
    expect(() => parseEhFrameHdr(Uint8Array.from([1, 0x1b, 0x03, 0x3b, ...rel(0), ...rel(2), ...rel(0x200), ...rel(0), ...rel(0x100), ...rel(0)]), 0)).toThrow(
      /not sorted/,
    );
    expect(() => parseEhFrameHdr(Uint8Array.from([1, 0x1b, 0x03, 0x3b, ...rel(0), ...rel(1000)]), 0)).toThrow(/overruns/);
  });
});

import { ARCH_REGISTERS, type Arch } from './arch';
import { RegRule, type CfaState } from './cfa-program';

/** How the unwinder finds the Canonical Frame Address (the caller's stack pointer). */
export enum CfaKind {
  /** No FDE covers the address: fall back to frame pointers. */
  NoFde = 0,
  /** The outermost frame (`_start`, thread entry: the return address is undefined): stop, complete. */
  End = 1,
  /** CFA = SP + offset. */
  SpOffset = 2,
  /** CFA = FP + offset. */
  FpOffset = 3,
  /** x86-64 PLT stubs: CFA = SP + 8 + ((PC & 15) >= offset ? 8 : 0) (the expression ld writes). */
  Plt = 4,
  /** CFA = *(FP + offset): frames that realign the stack (GCC's DRAP, `DW_OP_breg6; DW_OP_deref`). */
  DerefFp = 5,
  /** A rule the kernel cannot evaluate (another base register, a general expression). */
  Unsupported = 6,
}

/** Where the caller's frame pointer is. */
export enum FpKind {
  /** Not saved by this frame: it still holds the caller's value. */
  Unchanged = 0,
  /** Saved at CFA + offset. */
  AtCfa = 1,
  /** Saved at FP + offset (`DW_CFA_expression fp: DW_OP_breg<fp> offset`, realigned frames). */
  AtFp = 2,
  /** Unknown after this frame (held in another register, or undefined). */
  Lost = 3,
}

/** Where the return address is. */
export enum RaKind {
  /** Saved at CFA + offset (x86-64: always CFA − 8). */
  AtCfa = 0,
  /** Still in the link register (AArch64 leaf code before it is spilled). */
  InLinkRegister = 1,
}

/** One row's unwind rule in the compact form the kernel walks. */
export interface UnwindRule {
  cfa: CfaKind;
  cfaOffset: number;
  fp: FpKind;
  fpOffset: number;
  ra: RaKind;
  raOffset: number;
}

export const NO_FDE_RULE: Readonly<UnwindRule> = { cfa: CfaKind.NoFde, cfaOffset: 0, fp: FpKind.Unchanged, fpOffset: 0, ra: RaKind.AtCfa, raOffset: 0 };
export const END_RULE: Readonly<UnwindRule> = { cfa: CfaKind.End, cfaOffset: 0, fp: FpKind.Unchanged, fpOffset: 0, ra: RaKind.AtCfa, raOffset: 0 };

const S32_MIN = -(2 ** 31);
const S32_MAX = 2 ** 31 - 1;
const fitsS16 = (v: number) => v >= -32768 && v <= 32767;

/** DWARF expression opcodes the recogniser understands. */
const OP = { breg0: 0x70, deref: 0x06, and: 0x1a, ge: 0x2a, shl: 0x24, plus: 0x22, lit0: 0x30, bregx: 0x92 } as const;

/** Decodes `DW_OP_breg<n> <sleb>` filling the whole expression; undefined otherwise. */
function bregOnly(expr: Uint8Array): { reg: number; offset: number; deref: boolean } | undefined {
  if (expr.length < 2) return undefined;
  const op = expr[0];
  if (op < OP.breg0 || op > OP.breg0 + 31) return undefined;
  let offset = 0;
  let mul = 1;
  let i = 1;
  for (; i < expr.length && i < 6; i++) {
    const b = expr[i];
    offset += (b & 0x7f) * mul;
    mul *= 128;
    if ((b & 0x80) === 0) {
      if (b & 0x40) offset -= mul;
      i++;
      break;
    }
  }
  if (i === expr.length) return { reg: op - OP.breg0, offset, deref: false };
  if (i === expr.length - 1 && expr[i] === OP.deref) return { reg: op - OP.breg0, offset, deref: true };
  return undefined;
}

/**
 * The PLT expression GNU ld and lld emit for a whole `.plt` (Bastian et al., "Reliable and fast
 * DWARF-based stack unwinding", OOPSLA 2019, §4): `breg7 8; breg16 0; lit15; and; lit<N>; ge;
 * lit3; shl; plus`. Returns N (11 for classic 16-byte entries, 10 for some IBT layouts).
 */
function pltThreshold(expr: Uint8Array): number | undefined {
  if (expr.length !== 11) return undefined;
  const e = expr;
  if (e[0] !== OP.breg0 + 7 || e[1] !== 8 || e[2] !== OP.breg0 + 16 || e[3] !== 0) return undefined;
  if (e[4] !== OP.lit0 + 15 || e[5] !== OP.and || e[7] !== OP.ge || e[8] !== OP.lit0 + 3 || e[9] !== OP.shl || e[10] !== OP.plus) return undefined;
  const n = e[6] - OP.lit0;
  return n >= 0 && n < 16 ? n : undefined;
}

/** Maps one CFA table row to the kernel's compact rule. */
export function classifyRow(state: CfaState, arch: Arch): UnwindRule {
  const regs = ARCH_REGISTERS[arch];
  if (state.ra === RegRule.Undefined) return END_RULE;
  const out: UnwindRule = { cfa: CfaKind.Unsupported, cfaOffset: 0, fp: FpKind.Unchanged, fpOffset: 0, ra: RaKind.AtCfa, raOffset: 0 };

  if (state.ra === RegRule.Offset && fitsS16(state.raOffset)) out.raOffset = state.raOffset;
  else if (arch === 'aarch64' && (state.ra === RegRule.Unspecified || state.ra === RegRule.SameValue)) out.ra = RaKind.InLinkRegister;
  else return out; // x86-64 always saves the return address at CFA − 8; anything else is not code we can unwind

  if (state.cfaExpr) {
    const plt = arch === 'x86_64' ? pltThreshold(state.cfaExpr) : undefined;
    const breg = plt === undefined ? bregOnly(state.cfaExpr) : undefined;
    if (plt !== undefined) {
      out.cfa = CfaKind.Plt;
      out.cfaOffset = plt;
    } else if (breg && breg.deref && breg.reg === regs.fp) {
      out.cfa = CfaKind.DerefFp;
      out.cfaOffset = breg.offset;
    } else return out;
  } else if (state.cfaRegister === regs.sp) out.cfa = CfaKind.SpOffset;
  else if (state.cfaRegister === regs.fp) out.cfa = CfaKind.FpOffset;
  else return out;
  if (!state.cfaExpr) out.cfaOffset = state.cfaOffset;
  if (out.cfaOffset < S32_MIN || out.cfaOffset > S32_MAX) {
    out.cfa = CfaKind.Unsupported;
    out.cfaOffset = 0;
    return out;
  }

  switch (state.fp) {
    case RegRule.Unspecified:
    case RegRule.SameValue:
      out.fp = FpKind.Unchanged;
      break;
    case RegRule.Offset:
      if (fitsS16(state.fpOffset)) {
        out.fp = FpKind.AtCfa;
        out.fpOffset = state.fpOffset;
      } else out.fp = FpKind.Lost;
      break;
    case RegRule.Expression: {
      const b = state.fpExpr ? bregOnly(state.fpExpr) : undefined;
      if (b && !b.deref && b.reg === regs.fp && fitsS16(b.offset)) {
        out.fp = FpKind.AtFp;
        out.fpOffset = b.offset;
      } else out.fp = FpKind.Lost;
      break;
    }
    default:
      out.fp = FpKind.Lost;
  }
  return out;
}

/**
 * A number identifying a row state without expressions whose values are in everyday ranges
 * (|CFA offset| < 2^20, |FP offset| < 2^11, |RA offset| < 2^7): equal keys classify equally, so
 * table builds classify each distinct state once. Undefined for anything else (use classifyRow).
 */
export function packedStateKey(s: CfaState): number | undefined {
  if (s.cfaExpr || s.fpExpr || s.raExpr) return undefined;
  const { cfaRegister, cfaOffset, fpOffset, raOffset } = s;
  if (
    cfaRegister < 0 ||
    cfaRegister > 63 ||
    cfaOffset < -(2 ** 20) ||
    cfaOffset >= 2 ** 20 ||
    fpOffset < -2048 ||
    fpOffset > 2047 ||
    raOffset < -128 ||
    raOffset > 127
  )
    return undefined;
  return ((((cfaRegister * 8 + s.fp) * 8 + s.ra) * 2 ** 21 + (cfaOffset + 2 ** 20)) * 4096 + (fpOffset + 2048)) * 256 + (raOffset + 128);
}

/** A string that identifies a rule (dedup maps). */
export function ruleKey(r: UnwindRule): string {
  return `${r.cfa},${r.cfaOffset},${r.fp},${r.fpOffset},${r.ra},${r.raOffset}`;
}

/** Short label of a CFA kind (metrics, coverage reports). */
export const CFA_KIND_NAMES: readonly string[] = ['no_fde', 'end', 'sp_offset', 'fp_offset', 'plt', 'deref_fp', 'unsupported'];

import type { Cie, Fde } from './eh-frame';
import { Reader } from './reader';

/** How a register of the caller is recovered (DWARF 5 §6.4.1 register rules). */
export enum RegRule {
  /** No rule given: callee-saved registers keep their value (same value). */
  Unspecified = 0,
  Undefined = 1,
  SameValue = 2,
  /** Saved at CFA + offset. */
  Offset = 3,
  /** The value is CFA + offset. */
  ValOffset = 4,
  /** The value is in another register. */
  Register = 5,
  /** Saved at the address a DWARF expression computes. */
  Expression = 6,
  ValExpression = 7,
}

/** The row state an unwinder needs: the CFA rule and the rules of the frame-pointer and RA columns. */
export interface CfaState {
  /** CFA = register + offset, unless `cfaExpr` is set. */
  cfaRegister: number;
  cfaOffset: number;
  cfaExpr: Uint8Array | undefined;
  fp: RegRule;
  fpOffset: number;
  fpExpr: Uint8Array | undefined;
  ra: RegRule;
  raOffset: number;
  raExpr: Uint8Array | undefined;
}

/** Which DWARF registers are the frame pointer and the return-address column. */
export interface TrackedRegisters {
  fp: number;
  ra: number;
}

function emptyState(): CfaState {
  return { cfaRegister: -1, cfaOffset: 0, cfaExpr: undefined, fp: RegRule.Unspecified, fpOffset: 0, fpExpr: undefined, ra: RegRule.Unspecified, raOffset: 0, raExpr: undefined };
}

function copyState(s: CfaState): CfaState {
  return { ...s };
}

/** Nesting limit of DW_CFA_remember_state: compilers use one or two levels. */
const MAX_STATE_STACK = 64;

/**
 * Runs a CIE's initial instructions and then an FDE's instructions, calling `onRow(pc, state)`
 * for each row of the table: the state in force from `pc` up to the next row's pc (or the FDE's
 * end). `state` is reused between calls: read it, do not keep it. Only the CFA, the frame
 * pointer and the return-address column are tracked; the operands of every other register's
 * rules are parsed and dropped. Throws FirnError invalid_argument on a malformed program
 * (unknown opcode, truncated operand, restore_state without remember_state, a location going
 * backwards or outside the FDE).
 */
export function runCfaProgram(fde: Fde, regs: TrackedRegisters, onRow: (pc: number, state: CfaState) => void): void {
  const cie = fde.cie;
  const initial = emptyState();
  execute(cie, cie.initialInstructions, initial, undefined, regs, fde, undefined);
  const state = copyState(initial);
  let loc = fde.pcBegin;
  const emit = (next: number) => {
    if (next < loc || next > fde.pcEnd) throw reader(fde.instructions, fde).fail(`location 0x${next.toString(16)} outside the FDE or going backwards`);
    if (next > loc) onRow(loc, state);
    loc = next;
  };
  execute(cie, fde.instructions, state, initial, regs, fde, { get: () => loc, advance: emit });
  if (fde.pcEnd > loc) onRow(loc, state);
}

function reader(bytes: Uint8Array, fde: Fde): Reader {
  return new Reader(bytes, true, 0, 0, bytes.length, `CFA program of the FDE at .eh_frame+${fde.offset}`);
}

function execute(
  cie: Cie,
  program: Uint8Array,
  state: CfaState,
  initial: CfaState | undefined,
  regs: TrackedRegisters,
  fde: Fde,
  loc: { get(): number; advance(to: number): void } | undefined,
): void {
  const r: Reader = reader(program, fde);
  const stack: CfaState[] = [];
  const setRule = (reg: number, rule: RegRule, offset: number, expr?: Uint8Array) => {
    if (reg === regs.fp) {
      state.fp = rule;
      state.fpOffset = offset;
      state.fpExpr = expr;
    } else if (reg === regs.ra) {
      state.ra = rule;
      state.raOffset = offset;
      state.raExpr = expr;
    }
  };
  const restore = (reg: number) => {
    const from = initial ?? emptyState();
    if (reg === regs.fp) {
      state.fp = from.fp;
      state.fpOffset = from.fpOffset;
      state.fpExpr = from.fpExpr;
    } else if (reg === regs.ra) {
      state.ra = from.ra;
      state.raOffset = from.raOffset;
      state.raExpr = from.raExpr;
    }
  };
  const advance = (delta: number) => {
    if (!loc) r.fail('advance_loc in a CIE');
    loc.advance(loc.get() + delta * cie.codeAlign);
  };
  while (r.remaining > 0) {
    const op = r.u8();
    const hi = op & 0xc0;
    const low = op & 0x3f;
    if (hi === 0x40) {
      advance(low); // DW_CFA_advance_loc
      continue;
    }
    if (hi === 0x80) {
      setRule(low, RegRule.Offset, r.uleb() * cie.dataAlign); // DW_CFA_offset
      continue;
    }
    if (hi === 0xc0) {
      restore(low); // DW_CFA_restore
      continue;
    }
    switch (op) {
      case 0x00: // nop
        break;
      case 0x01: {
        // set_loc: an address in the FDE encoding
        if (!loc) r.fail('set_loc in a CIE');
        const to = r.encoded(cie.fdeEncoding & 0x0f, { addressSize: 8, signedFormatOnly: true });
        if (to === undefined) r.fail('set_loc without an address');
        loc.advance(to);
        break;
      }
      case 0x02:
        advance(r.u8());
        break;
      case 0x03:
        advance(r.u16());
        break;
      case 0x04:
        advance(r.u32());
        break;
      case 0x05: // offset_extended
        setRule(r.uleb(), RegRule.Offset, r.uleb() * cie.dataAlign);
        break;
      case 0x06: // restore_extended
        restore(r.uleb());
        break;
      case 0x07: // undefined
        setRule(r.uleb(), RegRule.Undefined, 0);
        break;
      case 0x08: // same_value
        setRule(r.uleb(), RegRule.SameValue, 0);
        break;
      case 0x09: {
        // register
        const reg = r.uleb();
        setRule(reg, RegRule.Register, r.uleb());
        break;
      }
      case 0x0a: // remember_state
        if (stack.length >= MAX_STATE_STACK) r.fail('remember_state nested too deep');
        stack.push(copyState(state));
        break;
      case 0x0b: {
        // restore_state: the CFA rule is restored too (DWARF 5 clarifies this)
        const saved = stack.pop();
        if (!saved) r.fail('restore_state without remember_state');
        Object.assign(state, saved);
        break;
      }
      case 0x0c: // def_cfa
        state.cfaRegister = r.uleb();
        state.cfaOffset = r.uleb();
        state.cfaExpr = undefined;
        break;
      case 0x0d: // def_cfa_register
        state.cfaRegister = r.uleb();
        state.cfaExpr = undefined;
        break;
      case 0x0e: // def_cfa_offset
        state.cfaOffset = r.uleb();
        break;
      case 0x0f: // def_cfa_expression
        state.cfaExpr = r.subarray(r.uleb());
        break;
      case 0x10: {
        // expression
        const reg = r.uleb();
        setRule(reg, RegRule.Expression, 0, r.subarray(r.uleb()));
        break;
      }
      case 0x11: // offset_extended_sf
        setRule(r.uleb(), RegRule.Offset, r.sleb() * cie.dataAlign);
        break;
      case 0x12: // def_cfa_sf
        state.cfaRegister = r.uleb();
        state.cfaOffset = r.sleb() * cie.dataAlign;
        state.cfaExpr = undefined;
        break;
      case 0x13: // def_cfa_offset_sf
        state.cfaOffset = r.sleb() * cie.dataAlign;
        break;
      case 0x14: // val_offset
        setRule(r.uleb(), RegRule.ValOffset, r.uleb() * cie.dataAlign);
        break;
      case 0x15: // val_offset_sf
        setRule(r.uleb(), RegRule.ValOffset, r.sleb() * cie.dataAlign);
        break;
      case 0x16: {
        // val_expression
        const reg = r.uleb();
        setRule(reg, RegRule.ValExpression, 0, r.subarray(r.uleb()));
        break;
      }
      case 0x2d: // GNU_window_save (SPARC) / AARCH64_negate_ra_state: no operands, no effect here
        break;
      case 0x2e: // GNU_args_size: the CFA does not depend on it
        r.uleb();
        break;
      case 0x2f: // GNU_negative_offset_extended
        setRule(r.uleb(), RegRule.Offset, -r.uleb() * cie.dataAlign);
        break;
      default:
        r.fail(`unknown CFA opcode 0x${op.toString(16)}`);
    }
  }
}

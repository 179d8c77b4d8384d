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
  return {
    cfaRegister: -1,
    cfaOffset: 0,
    cfaExpr: undefined,
    fp: RegRule.Unspecified,
    fpOffset: 0,
    fpExpr: undefined,
    ra: RegRule.Unspecified,
    raOffset: 0,
    raExpr: undefined,
  };
}

function assign(to: CfaState, from: CfaState): void {
  to.cfaRegister = from.cfaRegister;
  to.cfaOffset = from.cfaOffset;
  to.cfaExpr = from.cfaExpr;
  to.fp = from.fp;
  to.fpOffset = from.fpOffset;
  to.fpExpr = from.fpExpr;
  to.ra = from.ra;
  to.raOffset = from.raOffset;
  to.raExpr = from.raExpr;
}

/** Nesting limit of DW_CFA_remember_state: compilers use one or two levels. */
const MAX_STATE_STACK = 64;
const EMPTY = emptyState();

/**
 * Runs CFA programs (a CIE's initial instructions, then an FDE's) and reports the table rows.
 * One instance serves a whole section: it keeps no per-FDE allocations beyond the remember
 * stack and caches each CIE's initial state. Only the CFA, the frame pointer and the
 * return-address column are tracked; the operands of every other register's rules are parsed
 * and dropped.
 */
export class CfaInterpreter {
  private readonly state = emptyState();
  private initial: CfaState = EMPTY;
  private readonly stack: CfaState[] = [];
  private readonly initialByCie = new Map<Cie, CfaState>();
  private loc = 0;
  private inCie = false;
  private fde: Fde | undefined;
  private onRow: (pc: number, state: CfaState) => void = () => undefined;

  constructor(private readonly regs: TrackedRegisters) {}

  /**
   * Calls `onRow(pc, state)` for each row of the FDE's table: the state in force from `pc` up
   * to the next row's pc (or the FDE's end). `state` is reused between calls: read it, do not
   * keep it. Throws FirnError invalid_argument on a malformed program (unknown opcode, truncated
   * operand, restore_state without remember_state, a location going backwards or outside the
   * FDE).
   */
  run(fde: Fde, onRow: (pc: number, state: CfaState) => void): void {
    this.fde = fde;
    let initial = this.initialByCie.get(fde.cie);
    if (!initial) {
      initial = emptyState();
      assign(this.state, EMPTY);
      this.initial = EMPTY;
      this.inCie = true;
      this.execute(fde.cie, fde.cie.initialInstructions);
      assign(initial, this.state);
      this.initialByCie.set(fde.cie, initial);
    }
    this.initial = initial;
    assign(this.state, initial);
    this.inCie = false;
    this.loc = fde.pcBegin;
    this.onRow = onRow;
    this.execute(fde.cie, fde.instructions);
    if (fde.pcEnd > this.loc) onRow(this.loc, this.state);
  }

  private reader(bytes: Uint8Array): Reader {
    return new Reader(bytes, true, 0, 0, bytes.length, this.describe);
  }

  private readonly describe = () => `CFA program of the FDE at .eh_frame+${this.fde?.offset ?? 0}`;

  private advanceTo(r: Reader, next: number): void {
    if (this.inCie) r.fail('advance_loc in a CIE');
    const fde = this.fde as Fde;
    if (next < this.loc || next > fde.pcEnd) r.fail(`location 0x${next.toString(16)} outside the FDE or going backwards`);
    if (next > this.loc) this.onRow(this.loc, this.state);
    this.loc = next;
  }

  private setRule(reg: number, rule: RegRule, offset: number, expr?: Uint8Array): void {
    const s = this.state;
    if (reg === this.regs.fp) {
      s.fp = rule;
      s.fpOffset = offset;
      s.fpExpr = expr;
    } else if (reg === this.regs.ra) {
      s.ra = rule;
      s.raOffset = offset;
      s.raExpr = expr;
    }
  }

  private restore(reg: number): void {
    const s = this.state;
    const from = this.initial;
    if (reg === this.regs.fp) {
      s.fp = from.fp;
      s.fpOffset = from.fpOffset;
      s.fpExpr = from.fpExpr;
    } else if (reg === this.regs.ra) {
      s.ra = from.ra;
      s.raOffset = from.raOffset;
      s.raExpr = from.raExpr;
    }
  }

  private execute(cie: Cie, program: Uint8Array): void {
    const r: Reader = this.reader(program);
    const s = this.state;
    const stack = this.stack;
    stack.length = 0;
    while (r.remaining > 0) {
      const op = r.u8();
      const hi = op & 0xc0;
      const low = op & 0x3f;
      if (hi === 0x40) {
        this.advanceTo(r, this.loc + low * cie.codeAlign); // DW_CFA_advance_loc
        continue;
      }
      if (hi === 0x80) {
        this.setRule(low, RegRule.Offset, r.uleb() * cie.dataAlign); // DW_CFA_offset
        continue;
      }
      if (hi === 0xc0) {
        this.restore(low); // DW_CFA_restore
        continue;
      }
      switch (op) {
        case 0x00: // nop
          break;
        case 0x01: {
          // set_loc: an address in the FDE encoding
          const to = r.encoded(cie.fdeEncoding & 0x0f, { addressSize: 8, signedFormatOnly: true });
          if (to === undefined) r.fail('set_loc without an address');
          this.advanceTo(r, to);
          break;
        }
        case 0x02:
          this.advanceTo(r, this.loc + r.u8() * cie.codeAlign);
          break;
        case 0x03:
          this.advanceTo(r, this.loc + r.u16() * cie.codeAlign);
          break;
        case 0x04:
          this.advanceTo(r, this.loc + r.u32() * cie.codeAlign);
          break;
        case 0x05: // offset_extended
          this.setRule(r.uleb(), RegRule.Offset, r.uleb() * cie.dataAlign);
          break;
        case 0x06: // restore_extended
          this.restore(r.uleb());
          break;
        case 0x07: // undefined
          this.setRule(r.uleb(), RegRule.Undefined, 0);
          break;
        case 0x08: // same_value
          this.setRule(r.uleb(), RegRule.SameValue, 0);
          break;
        case 0x09: {
          // register
          const reg = r.uleb();
          this.setRule(reg, RegRule.Register, r.uleb());
          break;
        }
        case 0x0a: {
          // remember_state
          if (stack.length >= MAX_STATE_STACK) r.fail('remember_state nested too deep');
          const saved = emptyState();
          assign(saved, s);
          stack.push(saved);
          break;
        }
        case 0x0b: {
          // restore_state: the CFA rule is restored too (DWARF 5 clarifies this)
          const saved = stack.pop();
          if (!saved) r.fail('restore_state without remember_state');
          assign(s, saved);
          break;
        }
        case 0x0c: // def_cfa
          s.cfaRegister = r.uleb();
          s.cfaOffset = r.uleb();
          s.cfaExpr = undefined;
          break;
        case 0x0d: // def_cfa_register
          s.cfaRegister = r.uleb();
          s.cfaExpr = undefined;
          break;
        case 0x0e: // def_cfa_offset
          s.cfaOffset = r.uleb();
          break;
        case 0x0f: // def_cfa_expression
          s.cfaExpr = r.subarray(r.uleb());
          break;
        case 0x10: {
          // expression
          const reg = r.uleb();
          this.setRule(reg, RegRule.Expression, 0, r.subarray(r.uleb()));
          break;
        }
        case 0x11: // offset_extended_sf
          this.setRule(r.uleb(), RegRule.Offset, r.sleb() * cie.dataAlign);
          break;
        case 0x12: // def_cfa_sf
          s.cfaRegister = r.uleb();
          s.cfaOffset = r.sleb() * cie.dataAlign;
          s.cfaExpr = undefined;
          break;
        case 0x13: // def_cfa_offset_sf
          s.cfaOffset = r.sleb() * cie.dataAlign;
          break;
        case 0x14: // val_offset
          this.setRule(r.uleb(), RegRule.ValOffset, r.uleb() * cie.dataAlign);
          break;
        case 0x15: // val_offset_sf
          this.setRule(r.uleb(), RegRule.ValOffset, r.sleb() * cie.dataAlign);
          break;
        case 0x16: {
          // val_expression
          const reg = r.uleb();
          this.setRule(reg, RegRule.ValExpression, 0, r.subarray(r.uleb()));
          break;
        }
        case 0x2d: // GNU_window_save (SPARC) / AARCH64_negate_ra_state: no operands, no effect here
          break;
        case 0x2e: // GNU_args_size: the CFA does not depend on it
          r.uleb();
          break;
        case 0x2f: // GNU_negative_offset_extended
          this.setRule(r.uleb(), RegRule.Offset, -r.uleb() * cie.dataAlign);
          break;
        default:
          r.fail(`unknown CFA opcode 0x${op.toString(16)}`);
      }
    }
  }
}

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  encodeKernelTable,
  kernelRuleSet,
  KERNEL_PAGE_SIZE,
  KERNEL_TABLE_HEADER,
  lookupKernelTable,
  RULE_ID_END,
  RULE_ID_NO_FDE,
  writeKernelRule,
} from './kernel-table';
import { CfaKind, END_RULE, FpKind, NO_FDE_RULE, RaKind, ruleKey, type UnwindRule } from './rules';
import { lookupRow, type UnwindRows } from './table';

const rule = (cfaOffset: number): UnwindRule => ({ cfa: CfaKind.SpOffset, cfaOffset, fp: FpKind.Unchanged, fpOffset: 0, ra: RaKind.AtCfa, raOffset: -8 });

/** Random sorted rows with no equal neighbours, ending with a NO_FDE marker (like buildUnwindRows). */
const rowsArb = fc
  .record({
    start: fc.integer({ min: 0, max: 2 ** 40 }),
    gaps: fc.array(fc.integer({ min: 1, max: 3 * KERNEL_PAGE_SIZE }), { minLength: 1, maxLength: 300 }),
    ruleOffsets: fc.array(fc.integer({ min: 0, max: 6 }), { minLength: 301, maxLength: 301 }),
  })
  .map(({ start, gaps, ruleOffsets }): UnwindRows => {
    const rules = [NO_FDE_RULE, END_RULE, ...[8, 16, 24, 32, 48].map(rule)];
    const pcs: number[] = [];
    const ids: number[] = [];
    let pc = start;
    for (let i = 0; i < gaps.length; i++) {
      const id = i === gaps.length - 1 ? 0 : ruleOffsets[i];
      if (ids.length && ids[ids.length - 1] === id) {
        pc += gaps[i];
        continue;
      }
      pcs.push(pc);
      ids.push(id);
      pc += gaps[i];
    }
    if (ids[ids.length - 1] !== 0) {
      pcs.push(pc);
      ids.push(0);
    }
    return { arch: 'x86_64', length: pcs.length, pcs: Float64Array.from(pcs), ruleIds: Uint32Array.from(ids), rules };
  });

describe(encodeKernelTable.name, () => {
  it('gives the same rule as the row table for any pc (property)', () => {
    fc.assert(
      fc.property(rowsArb, fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 50, maxLength: 50 }), (rows, probes) => {
        const set = kernelRuleSet();
        const enc = encodeKernelTable(rows, (r) => set.idOf(r));
        const lo = rows.pcs[0] - 3;
        const span = rows.pcs[rows.length - 1] - lo + KERNEL_PAGE_SIZE;
        const pcs = [...probes.map((p) => Math.max(0, Math.floor(lo + p * span))), ...Array.from(rows.pcs), ...Array.from(rows.pcs, (p) => p - 1)].filter(
          (p) => p >= 0,
        );
        for (const pc of pcs) {
          const id = lookupKernelTable(enc, pc);
          const got = id === undefined ? NO_FDE_RULE : set.rules[id];
          expect(ruleKey(got), `pc 0x${pc.toString(16)}`).toBe(ruleKey(lookupRow(rows, pc)));
        }
      }),
      { numRuns: 300 },
    );
  });

  it('starts every page with an entry at offset 0 and keeps the two fixed rule ids', () => {
    const rows: UnwindRows = {
      arch: 'x86_64',
      length: 3,
      pcs: Float64Array.of(0x10100, 0x30000, 0x30010),
      ruleIds: Uint32Array.of(2, 1, 0),
      rules: [NO_FDE_RULE, END_RULE, rule(16)],
    };
    const set = kernelRuleSet();
    const enc = encodeKernelTable(rows, (r) => set.idOf(r));
    expect(set.rules[RULE_ID_NO_FDE]).toEqual(NO_FDE_RULE);
    expect(set.rules[RULE_ID_END]).toEqual(END_RULE);
    expect([enc[0], enc[1]]).toEqual([1, 3]); // pages 1, 2, 3
    for (let p = 0; p < 3; p++) expect(enc[enc[KERNEL_TABLE_HEADER + p]] >>> 16).toBe(0);
    expect(lookupKernelTable(enc, 0x20000)).toBe(set.idOf(rule(16))); // a page with no row of its own
    expect(lookupKernelTable(enc, 0x30008)).toBe(RULE_ID_END);
    expect(lookupKernelTable(enc, 0x40000)).toBeUndefined();
    expect(lookupKernelTable(enc, 0xffff)).toBeUndefined();
  });

  it('encodes rules as the BPF struct unwind_rule', () => {
    const buf = Buffer.alloc(12);
    writeKernelRule({ cfa: CfaKind.FpOffset, cfaOffset: -70000, fp: FpKind.AtCfa, fpOffset: -16, ra: RaKind.AtCfa, raOffset: -8 }, buf);
    expect([...buf]).toEqual([3, 1, 0, 0, ...[0x90, 0xee, 0xfe, 0xff], 0xf0, 0xff, 0xf8, 0xff]);
  });
});

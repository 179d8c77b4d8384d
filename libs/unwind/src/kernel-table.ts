import { FirnError } from '@firn/errors';
import { END_RULE, NO_FDE_RULE, type UnwindRule } from './rules';
import { RuleSet, type UnwindRows } from './table';

/**
 * The table layout the BPF unwinder reads (libs/agent/bpf/profiler.bpf.c), one BPF array of
 * u32 per object file:
 *
 *   [0] first page   [1] page count P   [2 .. 2+P] P+1 start indexes of each page's entries
 *   [2+P+1 ..] entries: (pc − page·2^16) << 16 | rule id
 *
 * A page is 64 KiB of the file's virtual addresses. Every page in range starts with an entry at
 * offset 0 (a copy of the rule in force there, when no row starts exactly there), so a lookup
 * is: page → [start, end) → binary search for the last entry with offset ≤ pc's offset (at most
 * 16 steps, since a page has at most 2^16 entries). Rule ids index one global rule array shared
 * by every table (16 bits: the agent dedups rules across all files; a few hundred exist).
 */
export const KERNEL_PAGE_BITS = 16;
export const KERNEL_PAGE_SIZE = 1 << KERNEL_PAGE_BITS;
export const KERNEL_TABLE_HEADER = 2;
/** Binary-search steps the BPF program allows (log2 of the largest page). */
export const KERNEL_SEARCH_STEPS = 17;
/** Rule ids are 16 bits. */
export const MAX_KERNEL_RULES = 1 << 16;
/** Page-count cap: 2^20 pages = 64 GiB of address space. */
const MAX_PAGES = 1 << 20;

/** Rule ids fixed in every RuleSet the agent keeps (the BPF program tests for them). */
export const RULE_ID_NO_FDE = 0;
export const RULE_ID_END = 1;

/** A RuleSet with the two fixed ids in place. */
export function kernelRuleSet(): RuleSet {
  return new RuleSet([NO_FDE_RULE, END_RULE]);
}

/**
 * Encodes sorted rows into the kernel layout, mapping each table-local rule id to a global one
 * through `globalId` (e.g. `ruleSet.idOf(rule)`); throws FirnError invalid_argument when the
 * global rule space (2^16) is full or the table spans an absurd address range.
 */
export function encodeKernelTable(rows: UnwindRows, globalId: (rule: UnwindRule) => number): Uint32Array {
  if (rows.length === 0) return Uint32Array.of(0, 0, KERNEL_TABLE_HEADER + 1);
  const ids = new Uint32Array(rows.rules.length);
  for (let i = 0; i < rows.rules.length; i++) {
    const id = globalId(rows.rules[i]);
    if (id >= MAX_KERNEL_RULES) throw FirnError.invalidArgument(`more than ${MAX_KERNEL_RULES} distinct unwind rules`);
    ids[i] = id;
  }
  const firstPage = Math.floor(rows.pcs[0] / KERNEL_PAGE_SIZE);
  const lastPage = Math.floor(rows.pcs[rows.length - 1] / KERNEL_PAGE_SIZE);
  const pages = lastPage - firstPage + 1;
  if (pages > MAX_PAGES) throw FirnError.invalidArgument(`unwind table spans ${pages} pages of 64 KiB (max ${MAX_PAGES})`);
  const headerLen = KERNEL_TABLE_HEADER + pages + 1;
  // Upper bound: every row plus one synthetic entry per page.
  const out = new Uint32Array(headerLen + rows.length + pages);
  out[0] = firstPage;
  out[1] = pages;
  let n = headerLen;
  let r = 0;
  let inForce = ids[0]; // NO_FDE before the first row
  for (let p = 0; p < pages; p++) {
    const pageBase = (firstPage + p) * KERNEL_PAGE_SIZE;
    const pageEnd = pageBase + KERNEL_PAGE_SIZE;
    out[KERNEL_TABLE_HEADER + p] = n;
    if (r >= rows.length || rows.pcs[r] !== pageBase) out[n++] = inForce; // offset 0
    while (r < rows.length && rows.pcs[r] < pageEnd) {
      inForce = ids[rows.ruleIds[r]];
      out[n++] = ((rows.pcs[r] - pageBase) * 65536 + inForce) >>> 0;
      r++;
    }
  }
  out[KERNEL_TABLE_HEADER + pages] = n;
  return out.slice(0, n);
}

/**
 * The global rule id in force at `pc` in an encoded table, or undefined outside its pages: the
 * same steps as the BPF program (kept in step with it; tests compare both with `lookupRow`).
 */
export function lookupKernelTable(t: Uint32Array, pc: number): number | undefined {
  const page = Math.floor(pc / KERNEL_PAGE_SIZE) - t[0];
  if (page < 0 || page >= t[1]) return undefined;
  let lo = t[KERNEL_TABLE_HEADER + page];
  let hi = t[KERNEL_TABLE_HEADER + page + 1];
  if (lo >= hi || hi > t.length) return undefined;
  const low = pc % KERNEL_PAGE_SIZE;
  for (let i = 0; i < KERNEL_SEARCH_STEPS && hi - lo > 1; i++) {
    const mid = (lo + hi) >>> 1;
    if (t[mid] >>> 16 <= low) lo = mid;
    else hi = mid;
  }
  return t[lo] & 0xffff;
}

/** Size of `struct unwind_rule` in profiler.bpf.c. */
export const KERNEL_RULE_SIZE = 12;

/**
 * Writes a rule as the BPF program's `struct unwind_rule { u8 cfa_kind, fp_kind, ra_kind, pad;
 * s32 cfa_offset; s16 fp_offset, ra_offset; }` (little endian).
 */
export function writeKernelRule(rule: UnwindRule, buf: Buffer, offset = 0): void {
  buf.writeUInt8(rule.cfa, offset);
  buf.writeUInt8(rule.fp, offset + 1);
  buf.writeUInt8(rule.ra, offset + 2);
  buf.writeUInt8(0, offset + 3);
  buf.writeInt32LE(rule.cfaOffset, offset + 4);
  buf.writeInt16LE(rule.fpOffset, offset + 8);
  buf.writeInt16LE(rule.raOffset, offset + 10);
}

import { isFirnError } from '@firn/errors';
import { ARCH_REGISTERS, type Arch } from './arch';
import { CfaInterpreter, type CfaState } from './cfa-program';
import { EhFrameWalker, type EhFrameSection, type Fde } from './eh-frame';
import { CFA_KIND_NAMES, classifyRow, NO_FDE_RULE, packedStateKey, ruleKey, type UnwindRule } from './rules';

/**
 * A sorted unwind table of one object file: row i covers [pcs[i], pcs[i+1]) in the file's
 * virtual addresses with rule `rules[ruleIds[i]]`. Rule 0 is always NO_FDE (a gap between
 * FDEs); the last row is a NO_FDE marker at the end of the last FDE. Consecutive rows never
 * repeat a rule.
 */
export interface UnwindRows {
  arch: Arch;
  length: number;
  pcs: Float64Array;
  ruleIds: Uint32Array;
  rules: UnwindRule[];
}

export interface UnwindTableStats {
  cies: number;
  fdes: number;
  /** Zero-length FDEs or FDEs at address 0 (left by the linker for discarded code). */
  skippedFdes: number;
  /** FDEs whose CFA program is malformed: their range unwinds by frame pointers. */
  badFdes: number;
  /** Rows of the final table (after merging). */
  rows: number;
  /** Bytes of code covered by FDEs (overlaps counted once). */
  coveredBytes: number;
  /** Covered bytes by CFA kind name (`sp_offset`, `fp_offset`, `plt`, `end`, `unsupported`, …). */
  coveredByKind: Record<string, number>;
}

/** Growable parallel arrays of (pc, rule id). */
class RowBuffer {
  pcs = new Float64Array(1024);
  ids = new Uint32Array(1024);
  length = 0;

  push(pc: number, id: number): void {
    if (this.length === this.pcs.length) {
      const pcs = new Float64Array(this.length * 2);
      pcs.set(this.pcs);
      this.pcs = pcs;
      const ids = new Uint32Array(this.length * 2);
      ids.set(this.ids);
      this.ids = ids;
    }
    this.pcs[this.length] = pc;
    this.ids[this.length++] = id;
  }
}

/** Dedups rules: identical rules share one id, so tables and the kernel's rule array stay small. */
export class RuleSet {
  readonly rules: UnwindRule[] = [];
  private readonly ids = new Map<string, number>();

  constructor(initial: readonly UnwindRule[] = [NO_FDE_RULE]) {
    for (const r of initial) this.idOf(r);
  }

  idOf(rule: UnwindRule): number {
    const key = ruleKey(rule);
    let id = this.ids.get(key);
    if (id === undefined) {
      id = this.rules.length;
      this.rules.push({ ...rule });
      this.ids.set(key, id);
    }
    return id;
  }

  get size(): number {
    return this.rules.length;
  }
}

/**
 * Builds the sorted unwind table of a `.eh_frame` section: runs every FDE's CFA program,
 * classifies each row into a compact rule, sorts FDEs by address, clips overlaps (a later FDE
 * wins from its start), inserts NO_FDE gaps and merges equal neighbours. FDEs with malformed
 * programs are skipped and counted; a malformed entry chain throws FirnError invalid_argument.
 */
export function buildUnwindRows(section: EhFrameSection, arch: Arch): BuiltRows {
  const steps = buildSteps(section, arch, Infinity);
  let r = steps.next();
  while (!r.done) r = steps.next();
  return r.value;
}

/**
 * buildUnwindRows in slices of `fdesPerSlice` FDEs with `pause()` awaited between slices, so a
 * large binary (Node: 76 000 FDEs, ~0.5 s of CPU) does not hold the event loop.
 */
export async function buildUnwindRowsAsync(
  section: EhFrameSection,
  arch: Arch,
  opts: { fdesPerSlice?: number; pause?: () => Promise<void> } = {},
): Promise<BuiltRows> {
  const pause = opts.pause ?? (() => new Promise<void>((resolve) => setImmediate(resolve)));
  const steps = buildSteps(section, arch, opts.fdesPerSlice ?? 2000);
  let r = steps.next();
  while (!r.done) {
    await pause();
    r = steps.next();
  }
  return r.value;
}

export interface BuiltRows {
  rows: UnwindRows;
  stats: UnwindTableStats;
}

function* buildSteps(section: EhFrameSection, arch: Arch, fdesPerSlice: number): Generator<void, BuiltRows> {
  const regs = ARCH_REGISTERS[arch];
  const rules = new RuleSet();
  const raw = new RowBuffer();
  // Per FDE: [begin, end) and its rows' slice of `raw`.
  const fdeBegin: number[] = [];
  const fdeEnd: number[] = [];
  const fdeFirst: number[] = [];
  const fdeCount: number[] = [];
  let badFdes = 0;
  const interpreter = new CfaInterpreter(regs);
  // Rows repeat few distinct states: classify each once.
  const byState = new Map<number, number>();
  const onRow = (pc: number, state: CfaState) => {
    const key = packedStateKey(state);
    let id = key === undefined ? undefined : byState.get(key);
    if (id === undefined) {
      id = rules.idOf(classifyRow(state, arch));
      if (key !== undefined) byState.set(key, id);
    }
    raw.push(pc, id);
  };
  const walker = new EhFrameWalker(section);
  const onFde = (fde: Fde) => {
    const first = raw.length;
    try {
      interpreter.run(fde, onRow);
    } catch (err) {
      if (!isFirnError(err, 'invalid_argument')) throw err;
      raw.length = first; // drop the partial rows: this range falls back to frame pointers
      badFdes++;
      return;
    }
    fdeBegin.push(fde.pcBegin);
    fdeEnd.push(fde.pcEnd);
    fdeFirst.push(first);
    fdeCount.push(raw.length - first);
  };
  while (walker.next(fdesPerSlice, onFde)) yield;
  const counts = walker.counts;

  const order = Array.from(fdeBegin.keys()).sort((a, b) => fdeBegin[a] - fdeBegin[b] || fdeEnd[b] - fdeEnd[a]);
  const out = new RowBuffer();
  const coveredByKind: Record<string, number> = {};
  let coveredBytes = 0;
  const emit = (pc: number, id: number) => {
    if (out.length > 0) {
      const last = out.length - 1;
      if (out.pcs[last] === pc) {
        out.ids[last] = id; // an empty range: the later rule wins
        if (last > 0 && out.ids[last - 1] === id) out.length--;
        return;
      }
      if (out.ids[last] === id) return;
    }
    out.push(pc, id);
  };
  let prevEnd = -1;
  for (let k = 0; k < order.length; k++) {
    const i = order[k];
    const begin = Math.max(fdeBegin[i], prevEnd);
    const next = k + 1 < order.length ? fdeBegin[order[k + 1]] : Infinity;
    const end = Math.min(fdeEnd[i], next);
    if (end <= begin) continue; // swallowed by the FDE before it, or empty after clipping
    const first = fdeFirst[i];
    const n = fdeCount[i];
    for (let j = 0; j < n; j++) {
      const rowStart = raw.pcs[first + j];
      const rowEnd = j + 1 < n ? raw.pcs[first + j + 1] : fdeEnd[i];
      const s = Math.max(rowStart, begin);
      const e = Math.min(rowEnd, end);
      if (e <= s) continue;
      const id = raw.ids[first + j];
      emit(s, id);
      const kind = CFA_KIND_NAMES[rules.rules[id].cfa] ?? 'unsupported';
      coveredByKind[kind] = (coveredByKind[kind] ?? 0) + (e - s);
      coveredBytes += e - s;
    }
    if (end < next) emit(end, 0);
    prevEnd = end;
  }
  const rows: UnwindRows = { arch, length: out.length, pcs: out.pcs.slice(0, out.length), ruleIds: out.ids.slice(0, out.length), rules: rules.rules };
  return {
    rows,
    stats: { cies: counts.cies, fdes: counts.fdes, skippedFdes: counts.skippedFdes, badFdes, rows: out.length, coveredBytes, coveredByKind },
  };
}

/** The rule in force at `pc`, or NO_FDE outside the table (a reference lookup for tests and tools). */
export function lookupRow(rows: UnwindRows, pc: number): UnwindRule {
  let lo = 0;
  let hi = rows.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (rows.pcs[mid] <= pc) lo = mid + 1;
    else hi = mid;
  }
  return lo === 0 ? rows.rules[0] : rows.rules[rows.ruleIds[lo - 1]];
}

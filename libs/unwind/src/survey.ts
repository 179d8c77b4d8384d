import { open, readdir, realpath, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { readFileUnwindTable, type NoTableReason } from './elf-unwind';
import { encodeKernelTable, kernelRuleSet, lookupKernelTable } from './kernel-table';
import { lookupRow, type UnwindRows } from './table';
import { ruleKey } from './rules';

/** What building unwind tables for many files gave: the coverage figure and every failure. */
export interface CoverageReport {
  files: number;
  tables: number;
  noTable: Partial<Record<NoTableReason, number>>;
  textBytes: number;
  coveredBytes: number;
  coveredByKind: Record<string, number>;
  fdes: number;
  badFdes: number;
  rows: number;
  /** Bytes of the kernel-format tables (u32 entries) of all files. */
  kernelBytes: number;
  /** Distinct rules over all files (the kernel's shared rule array). */
  distinctRules: number;
  /** Files whose .eh_frame_hdr FDE count differs from the FDEs found by scanning .eh_frame. */
  hdrMismatches: string[];
  /** Files where the kernel-format lookup disagreed with the row table. */
  lookupMismatches: string[];
  /** Unexpected exceptions (anything but a typed "no table" answer): must stay empty. */
  errors: string[];
  /** Files with the lowest coverage (share, path), worst first. */
  worst: Array<{ path: string; share: number; textBytes: number }>;
  ms: number;
}

const ELF_MAGIC = 0x464c457f;

async function isElf(path: string): Promise<boolean> {
  try {
    const fh = await open(path, 'r');
    try {
      const b = Buffer.alloc(4);
      const { bytesRead } = await fh.read(b, 0, 4, 0);
      return bytesRead === 4 && b.readUInt32LE(0) === ELF_MAGIC;
    } finally {
      await fh.close();
    }
  } catch {
    return false;
  }
}

/** Regular ELF files under `dirs` (recursively), each real file once. */
export async function listElfFiles(dirs: readonly string[]): Promise<string[]> {
  const seen = new Set<string>();
  const out: string[] = [];
  const walk = async (dir: string, depth: number): Promise<void> => {
    let entries;
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const p = join(dir, e.name);
      if (e.isDirectory()) {
        if (depth < 8) await walk(p, depth + 1);
        continue;
      }
      if (!e.isFile() && !e.isSymbolicLink()) continue;
      let real: string;
      try {
        real = await realpath(p);
        if (!(await stat(real)).isFile()) continue;
      } catch {
        continue;
      }
      if (seen.has(real)) continue;
      seen.add(real);
      if (await isElf(real)) out.push(real);
    }
  };
  for (const d of dirs) await walk(d, 0);
  return out.sort();
}

/** Checks the kernel encoding against the row table at every row start and a few points between. */
function kernelLookupAgrees(rows: UnwindRows, enc: Uint32Array, rules: ReadonlyArray<{ key: string }>): boolean {
  const step = Math.max(1, Math.floor(rows.length / 2000));
  for (let i = 0; i < rows.length; i += step) {
    for (const pc of [rows.pcs[i], rows.pcs[i] + 1, i + 1 < rows.length ? rows.pcs[i + 1] - 1 : rows.pcs[i]]) {
      const id = lookupKernelTable(enc, pc);
      const want = ruleKey(lookupRow(rows, pc));
      const got = id === undefined ? ruleKey(rows.rules[0]) : rules[id].key;
      if (want !== got) return false;
    }
  }
  return true;
}

/**
 * Builds the unwind table of every file, encodes it in the kernel layout and checks the
 * encoding, collecting coverage (share of executable section bytes covered by FDEs) and
 * failures. Never throws for a bad file: unexpected exceptions land in `errors`.
 */
export async function surveyUnwindTables(paths: readonly string[], onFile?: (path: string, i: number) => void): Promise<CoverageReport> {
  const t0 = performance.now();
  const global = kernelRuleSet();
  const ruleKeys: Array<{ key: string }> = [];
  const r: CoverageReport = {
    files: 0,
    tables: 0,
    noTable: {},
    textBytes: 0,
    coveredBytes: 0,
    coveredByKind: {},
    fdes: 0,
    badFdes: 0,
    rows: 0,
    kernelBytes: 0,
    distinctRules: 0,
    hdrMismatches: [],
    lookupMismatches: [],
    errors: [],
    worst: [],
    ms: 0,
  };
  const shares: Array<{ path: string; share: number; textBytes: number }> = [];
  for (let i = 0; i < paths.length; i++) {
    const path = paths[i];
    onFile?.(path, i);
    r.files++;
    try {
      const t = await readFileUnwindTable(path);
      if ('reason' in t) {
        r.noTable[t.reason] = (r.noTable[t.reason] ?? 0) + 1;
        continue;
      }
      r.tables++;
      const s = t.stats;
      r.textBytes += s.textBytes;
      r.coveredBytes += Math.min(s.coveredBytes, s.textBytes);
      r.fdes += s.fdes;
      r.badFdes += s.badFdes;
      r.rows += s.rows;
      for (const [k, v] of Object.entries(s.coveredByKind)) r.coveredByKind[k] = (r.coveredByKind[k] ?? 0) + v;
      if (s.hdrFdes !== undefined && s.hdrFdes !== s.fdes + s.skippedFdes)
        r.hdrMismatches.push(`${path}: hdr ${s.hdrFdes}, scanned ${s.fdes}+${s.skippedFdes} skipped`);
      const enc = encodeKernelTable(t.rows, (rule) => {
        const id = global.idOf(rule);
        ruleKeys[id] ??= { key: ruleKey(rule) };
        return id;
      });
      r.kernelBytes += enc.byteLength;
      if (!kernelLookupAgrees(t.rows, enc, ruleKeys)) r.lookupMismatches.push(path);
      if (s.textBytes > 0) shares.push({ path, share: Math.min(1, s.coveredBytes / s.textBytes), textBytes: s.textBytes });
    } catch (err) {
      r.errors.push(`${path}: ${(err as Error).stack ?? String(err)}`);
    }
  }
  r.distinctRules = global.size;
  r.worst = shares.sort((a, b) => a.share - b.share).slice(0, 10);
  r.ms = performance.now() - t0;
  return r;
}

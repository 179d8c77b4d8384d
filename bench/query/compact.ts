// Turns a kept fleet-1h dataset into compacted blocks with the real compactor (apps/compactor as
// its own process, as an operator runs it), on a copy of the work dir: compaction rewrites the
// manifest and the objects, and the level-0 dataset must stay reusable by later runs.
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ManifestLog } from '@firn/manifest';
import type { TenantId } from '@firn/tenancy';
import { cpuSeconds, peakRssBytes } from '../ingest/proc-stats';
import type { Stack } from './stack';

/** Levels `--compact` accepts: 1 = 5-minute blocks, exact timestamps; 2 = hourly blocks, 10 s buckets. */
export const MAX_COMPACT_LEVEL = 2;
const MARKER = 'blocks.json';
/** What the copy takes from the kept work dir (tokens are rewritten by every stack start). */
const COPIED = ['data', 'nats', 'fleet.json'];

export interface CompactionJobFacts {
  level: number;
  window: string;
  inputs: number;
  reason: string;
  seconds: number;
  rowsIn: number;
  rowsOut: number;
  bytesIn: number;
  bytesOut: number;
}

export interface CompactionFacts {
  level: number;
  /** Compactor settings this bench set; every other one is the compactor's default. */
  env: Record<string, string>;
  /** Valid segments per level before and after. */
  before: Record<number, number>;
  after: Record<number, number>;
  jobs: CompactionJobFacts[];
  /** From the compactor reporting ready until no segment below `level` was left in the manifest. */
  wallSec: number;
  /** Compactor process CPU over the same span, and its peak RSS since start. */
  cpuSec: number;
  peakRss: number;
}

/**
 * Compactor settings that make it write blocks of `level` and nothing above. The fleet slice lies
 * in the past, so every window is past its settle time and due by age: with the defaults the
 * planner (highest level first) takes all L0 segments of an hour straight into one L2 block; for
 * L1 the L2 triggers are pushed out of reach, leaving the default 5-minute L1 windows.
 */
export function compactorEnv(level: number): Record<string, string> {
  const env: Record<string, string> = { FIRN_COMPACTOR_ID: 'bench-query-compactor', FIRN_COMPACTOR_INTERVAL: '1s' };
  if (level === 1) {
    Object.assign(env, {
      FIRN_COMPACTOR_L2_MIN_SEGMENTS: String(2 ** 31),
      FIRN_COMPACTOR_L2_MIN_BYTES: String(2 ** 52),
      FIRN_COMPACTOR_L2_SETTLE: '100000d',
    });
  }
  return env;
}

/** Where the blocks of `level` are kept, next to the level-0 dataset of `workDir`. */
export function blocksDir(workDir: string, level: number): string {
  return join(workDir, `blocks-l${level}`);
}

/**
 * The compaction recorded in `dir` when a previous run finished compacting there; otherwise
 * (re)creates `dir` as a fresh copy of `workDir`'s level-0 dataset (nothing may run on either).
 */
export function prepareBlocksDir(workDir: string, dir: string, log: (msg: string) => void): CompactionFacts | undefined {
  const marker = join(dir, MARKER);
  if (existsSync(marker)) return JSON.parse(readFileSync(marker, 'utf8')) as CompactionFacts;
  if (existsSync(dir)) {
    log(`${dir} holds an unfinished compaction; copying the level-0 dataset again`);
    rmSync(dir, { recursive: true, force: true });
  }
  mkdirSync(dir, { recursive: true });
  const t0 = performance.now();
  for (const name of COPIED) cpSync(join(workDir, name), join(dir, name), { recursive: true, preserveTimestamps: true });
  log(`copied the level-0 dataset to ${dir} in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  return undefined;
}

function countByLevel(manifest: ManifestLog, tenant: TenantId): Record<number, number> {
  const out: Record<number, number> = {};
  for (const e of manifest.validSegments(tenant)) out[e.meta.level] = (out[e.meta.level] ?? 0) + 1;
  return out;
}

/** The compactor's "block published" log lines (it logs JSON, one object per line). */
export function jobsOfLog(text: string): CompactionJobFacts[] {
  const jobs: CompactionJobFacts[] = [];
  for (const line of text.split('\n')) {
    if (!line.includes('block published')) continue;
    try {
      const j = JSON.parse(line) as Record<string, unknown>;
      if (j.msg !== 'block published') continue;
      const num = (k: string): number => Number(j[k] ?? NaN);
      jobs.push({
        level: num('level'),
        window: String(j.window),
        inputs: num('inputs'),
        reason: String(j.reason),
        seconds: num('seconds'),
        rowsIn: num('rowsIn'),
        rowsOut: num('rowsOut'),
        bytesIn: num('bytesIn'),
        bytesOut: num('bytesOut'),
      });
    } catch {
      // Not one of the component's JSON lines (e.g. a Node warning).
    }
  }
  return jobs;
}

/**
 * Runs the compactor on `stack` until the manifest holds no segment of `tenant` below `level`,
 * then stops it and records the facts in `dir`'s marker so a rerun reuses the blocks.
 */
export async function compactDataset(opts: {
  stack: Stack;
  dir: string;
  tenant: TenantId;
  level: number;
  deadlineMs: number;
  log: (msg: string) => void;
}): Promise<CompactionFacts> {
  const { stack, tenant, level, log } = opts;
  const manifest = await ManifestLog.open({ bus: stack.bus, store: stack.store });
  try {
    await manifest.syncToLatest();
    const before = countByLevel(manifest, tenant);
    const env = compactorEnv(level);
    log(`compacting to L${level}: ${JSON.stringify(before)} valid segments per level; compactor settings ${JSON.stringify(env)}`);
    // The compactor logs each job at info; the stack's other apps stay at warn.
    const app = await stack.startApp('compactor', { env: { ...env, FIRN_LOG_LEVEL: 'info' } });
    try {
      const c0 = cpuSeconds(app.pid);
      const t0 = performance.now();
      let after = before;
      let lastLog = 0;
      for (;;) {
        await manifest.syncToLatest();
        after = countByLevel(manifest, tenant);
        if (Object.keys(after).every((l) => Number(l) >= level)) break;
        const errors = app.proc
          .logTail(1024 * 1024)
          .split('\n')
          .filter((l) => /"level":(5|6)0/.test(l));
        if (errors.length > 0) throw new Error(`the compactor logged an error: ${errors[0].slice(0, 500)}`);
        if (Date.now() > opts.deadlineMs) throw new Error(`compaction not done by the deadline; segments per level ${JSON.stringify(after)}`);
        if (performance.now() - lastLog > 10_000) {
          lastLog = performance.now();
          log(`  compacting: ${JSON.stringify(after)} valid segments per level after ${((performance.now() - t0) / 1000).toFixed(0)} s`);
        }
        await new Promise((r) => setTimeout(r, 250));
      }
      const facts: CompactionFacts = {
        level,
        env,
        before,
        after,
        jobs: [],
        wallSec: (performance.now() - t0) / 1000,
        cpuSec: cpuSeconds(app.pid) - c0,
        peakRss: peakRssBytes(app.pid),
      };
      // A job is logged just after its block shows in the manifest; the log goes with the process.
      const blocks = after[level] ?? 0;
      for (let i = 0; i < 40; i++) {
        facts.jobs = jobsOfLog(readFileSync(app.proc.logFile, 'utf8'));
        if (facts.jobs.length >= blocks) break;
        await new Promise((r) => setTimeout(r, 250));
      }
      writeFileSync(join(opts.dir, MARKER), JSON.stringify(facts, null, 2));
      log(
        `compacted in ${facts.wallSec.toFixed(1)} s (compactor CPU ${facts.cpuSec.toFixed(1)} s, peak RSS ${(facts.peakRss / 2 ** 20).toFixed(0)} MiB): ${facts.jobs.length} job(s), ${JSON.stringify(after)} valid segments per level`,
      );
      return facts;
    } finally {
      await app.proc.stop();
    }
  } finally {
    await manifest.close();
  }
}

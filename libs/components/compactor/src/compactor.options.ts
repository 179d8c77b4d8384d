import { COMPACTOR_STEPS, DEFAULT_LEVELS, type CompactorStep, type LevelPolicy } from '@firn/compaction';

export interface CompactorOptions {
  /** Name of this process in leases and manifest deltas; must differ between replicas. */
  compactorId: string;
  /** Pause between planning passes. */
  intervalMs: number;
  levels: LevelPolicy[];
  /** Unreferenced objects are deleted this long after they stopped being referenced (and were written). */
  graceMs: number;
  gcIntervalMs: number;
  leaseTtlMs: number;
  /** Retention of every tenant when the process has no per-tenant overrides (TENANT_LIMITS); 0 = keep forever. */
  retentionMs: number;
  /** Lease bucket (tests use their own). */
  leaseBucket: string;
  /** Test hook: SIGKILL this process at the given step of its first job. */
  crashAt?: CompactorStep;
}

export const COMPACTOR_OPTIONS = Symbol('firn.compactor-options');

export const DEFAULT_COMPACTOR_OPTIONS: Omit<CompactorOptions, 'compactorId'> = {
  intervalMs: 15_000,
  levels: DEFAULT_LEVELS.map((l) => ({ ...l })),
  graceMs: 60 * 60_000,
  gcIntervalMs: 5 * 60_000,
  leaseTtlMs: 5 * 60_000,
  retentionMs: 0,
  leaseBucket: 'FIRN_COMPACTOR_LEASES',
};

export { COMPACTOR_STEPS };

import { hostname } from 'node:os';
import { z } from 'zod';
import { parseDuration } from '@firn/config';
import { positiveInt, setting, type ConfigOf } from '@firn/config';
import { COMPACTOR_STEPS, DEFAULT_COMPACTOR_OPTIONS, type CompactorOptions } from './compactor.options';

const duration = z.string().transform((s, ctx) => {
  try {
    return parseDuration(s);
  } catch {
    ctx.addIssue({ code: 'custom', message: 'must be a duration like 30d, 1h, 90s, 500ms or a number of ms' });
    return z.NEVER;
  }
});

function fmt(ms: number): string {
  for (const [unit, size] of [['d', 86_400_000], ['h', 3_600_000], ['m', 60_000], ['s', 1000]] as const) {
    if (ms >= size && ms % size === 0) return `${ms / size}${unit}`;
  }
  return ms === 0 ? '0' : `${ms}ms`;
}

const LEVEL = {
  window: (l: number) => `Time window of one L${l} block per tenant (a multiple of the level below).`,
  minSegments: (l: number) => `Compact an open L${l} window once it holds this many ${l === 1 ? 'L0 segments' : `L${l - 1} blocks`}...`,
  minBytes: () => '...or this many bytes of them...',
  settle: (l: number) => `...and any L${l} window (with 2+ inputs) this long after it ended.`,
  bucket: (l: number) => `Downsampling in L${l}: timestamps floored to this bucket, equal rows summed (0 = exact timestamps).`,
};

/** Per-tenant retention: the compactor deletes expired data, queriers clip ranges to it. */
export function retentionSettings() {
  const d = DEFAULT_COMPACTOR_OPTIONS;
  return {
    retention: setting({ env: 'FIRN_RETENTION', flag: 'retention', schema: duration, default: '0', description: 'Default data retention per tenant (e.g. 30d); 0 = keep forever.' }),
    retentionOverridesFile: setting({ env: 'FIRN_RETENTION_OVERRIDES_FILE', flag: 'retention-overrides-file', schema: z.string(), default: '', description: 'YAML/JSON file of per-tenant retention ({default, tenants: {id: 7d}}), re-read periodically.' }),
    retentionReload: setting({ env: 'FIRN_RETENTION_RELOAD', flag: 'retention-reload', schema: duration, default: fmt(d.retentionReloadMs), description: 'How often the retention overrides file is re-read.' }),
  };
}

/** Retention options for a FileRetention. */
export function retentionOptionsFrom(c: { retention: number; retentionOverridesFile: string; retentionReload: number }): { defaultMs: number; file?: string; reloadMs: number } {
  return { defaultMs: c.retention, file: c.retentionOverridesFile || undefined, reloadMs: Math.max(1, c.retentionReload) };
}

/** Compactor settings, shared by the compactor and (if wired) the all-in-one. */
export function compactorSettings() {
  const d = DEFAULT_COMPACTOR_OPTIONS;
  return {
    compactorId: setting({ env: 'FIRN_COMPACTOR_ID', flag: 'compactor-id', schema: z.string(), default: '', description: 'Name of this compactor in leases and manifest deltas (empty = hostname-pid).' }),
    compactorInterval: setting({ env: 'FIRN_COMPACTOR_INTERVAL', flag: 'compactor-interval', schema: duration, default: fmt(d.intervalMs), description: 'Pause between planning passes.' }),
    l1Window: setting({ env: 'FIRN_COMPACTOR_L1_WINDOW', flag: 'compactor-l1-window', schema: duration, default: fmt(d.levels[0].windowMs), description: LEVEL.window(1) }),
    l1MinSegments: setting({ env: 'FIRN_COMPACTOR_L1_MIN_SEGMENTS', flag: 'compactor-l1-min-segments', schema: positiveInt, default: String(d.levels[0].minSegments), description: LEVEL.minSegments(1) }),
    l1MinBytes: setting({ env: 'FIRN_COMPACTOR_L1_MIN_BYTES', flag: 'compactor-l1-min-bytes', schema: positiveInt, default: String(d.levels[0].minBytes), description: LEVEL.minBytes() }),
    l1Settle: setting({ env: 'FIRN_COMPACTOR_L1_SETTLE', flag: 'compactor-l1-settle', schema: duration, default: fmt(d.levels[0].settleMs), description: LEVEL.settle(1) }),
    l1Bucket: setting({ env: 'FIRN_COMPACTOR_L1_BUCKET', flag: 'compactor-l1-bucket', schema: duration, default: fmt(d.levels[0].bucketMs), description: LEVEL.bucket(1) }),
    l2Window: setting({ env: 'FIRN_COMPACTOR_L2_WINDOW', flag: 'compactor-l2-window', schema: duration, default: fmt(d.levels[1].windowMs), description: LEVEL.window(2) }),
    l2MinSegments: setting({ env: 'FIRN_COMPACTOR_L2_MIN_SEGMENTS', flag: 'compactor-l2-min-segments', schema: positiveInt, default: String(d.levels[1].minSegments), description: LEVEL.minSegments(2) }),
    l2MinBytes: setting({ env: 'FIRN_COMPACTOR_L2_MIN_BYTES', flag: 'compactor-l2-min-bytes', schema: positiveInt, default: String(d.levels[1].minBytes), description: LEVEL.minBytes() }),
    l2Settle: setting({ env: 'FIRN_COMPACTOR_L2_SETTLE', flag: 'compactor-l2-settle', schema: duration, default: fmt(d.levels[1].settleMs), description: LEVEL.settle(2) }),
    l2Bucket: setting({ env: 'FIRN_COMPACTOR_L2_BUCKET', flag: 'compactor-l2-bucket', schema: duration, default: fmt(d.levels[1].bucketMs), description: LEVEL.bucket(2) }),
    compactorGrace: setting({ env: 'FIRN_COMPACTOR_GRACE', flag: 'compactor-grace', schema: duration, default: fmt(d.graceMs), description: 'Replaced, expired and orphaned objects are deleted this long after they stopped being referenced; keep it above the query timeout.' }),
    compactorGcInterval: setting({ env: 'FIRN_COMPACTOR_GC_INTERVAL', flag: 'compactor-gc-interval', schema: duration, default: fmt(d.gcIntervalMs), description: 'How often to scan object storage for unreferenced segment objects.' }),
    compactorLeaseTtl: setting({ env: 'FIRN_COMPACTOR_LEASE_TTL', flag: 'compactor-lease-ttl', schema: duration, default: fmt(d.leaseTtlMs), description: 'A compactor that stops renewing its lease on a window loses it after this long.' }),
    ...retentionSettings(),
    compactorCrashAt: setting({ env: 'FIRN_COMPACTOR_CRASH_AT', flag: 'compactor-crash-at', schema: z.enum(['', ...COMPACTOR_STEPS]), default: '', description: 'Fault injection for tests only: SIGKILL the process at this step of its first job.' }),
  };
}

type CompactorConfig = ConfigOf<ReturnType<typeof compactorSettings>>;

export function compactorOptionsFrom(c: CompactorConfig): CompactorOptions {
  return {
    ...DEFAULT_COMPACTOR_OPTIONS,
    compactorId: c.compactorId || `${hostname()}-${process.pid}`,
    intervalMs: Math.max(1, c.compactorInterval),
    levels: [
      { level: 1, windowMs: c.l1Window, minSegments: c.l1MinSegments, minBytes: c.l1MinBytes, settleMs: c.l1Settle, bucketMs: c.l1Bucket },
      { level: 2, windowMs: c.l2Window, minSegments: c.l2MinSegments, minBytes: c.l2MinBytes, settleMs: c.l2Settle, bucketMs: c.l2Bucket },
    ],
    graceMs: c.compactorGrace,
    gcIntervalMs: Math.max(1, c.compactorGcInterval),
    leaseTtlMs: Math.max(1, c.compactorLeaseTtl),
    retentionMs: c.retention,
    retentionOverridesFile: c.retentionOverridesFile,
    retentionReloadMs: Math.max(1, c.retentionReload),
    crashAt: c.compactorCrashAt === '' ? undefined : c.compactorCrashAt,
  };
}

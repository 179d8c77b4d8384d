import { hostname } from 'node:os';
import { z } from 'zod';
import { duration as durationSchema, formatDuration, positiveInt, setting, type ConfigOf } from '@firn/config';
import { overridesSettings, retentionSettings } from '@firn/limits';
import { COMPACTOR_STEPS, DEFAULT_COMPACTOR_OPTIONS, type CompactorOptions } from './compactor.options';

const duration = durationSchema();
const fmt = formatDuration;

const LEVEL = {
  window: (l: number) => `Time window of one L${l} block per tenant (a multiple of the level below).`,
  minSegments: (l: number) => `Compact an open L${l} window once it holds this many ${l === 1 ? 'L0 segments' : `L${l - 1} blocks`}...`,
  minBytes: () => '...or this many bytes of them...',
  settle: (l: number) => `...and any L${l} window (with 2+ inputs) this long after it ended.`,
  bucket: (l: number) => `Downsampling in L${l}: timestamps floored to this bucket, equal rows summed (0 = exact timestamps).`,
};

/** Compactor settings, shared by the compactor and (if wired) the all-in-one. */
export function compactorSettings() {
  const d = DEFAULT_COMPACTOR_OPTIONS;
  return {
    compactorId: setting({
      env: 'FIRN_COMPACTOR_ID',
      flag: 'compactor-id',
      schema: z.string(),
      default: '',
      description: 'Name of this compactor in leases and manifest deltas (empty = hostname-pid).',
    }),
    compactorInterval: setting({
      env: 'FIRN_COMPACTOR_INTERVAL',
      flag: 'compactor-interval',
      schema: duration,
      default: fmt(d.intervalMs),
      description: 'Pause between planning passes.',
    }),
    l1Window: setting({
      env: 'FIRN_COMPACTOR_L1_WINDOW',
      flag: 'compactor-l1-window',
      schema: duration,
      default: fmt(d.levels[0].windowMs),
      description: LEVEL.window(1),
    }),
    l1MinSegments: setting({
      env: 'FIRN_COMPACTOR_L1_MIN_SEGMENTS',
      flag: 'compactor-l1-min-segments',
      schema: positiveInt,
      default: String(d.levels[0].minSegments),
      description: LEVEL.minSegments(1),
    }),
    l1MinBytes: setting({
      env: 'FIRN_COMPACTOR_L1_MIN_BYTES',
      flag: 'compactor-l1-min-bytes',
      schema: positiveInt,
      default: String(d.levels[0].minBytes),
      description: LEVEL.minBytes(),
    }),
    l1Settle: setting({
      env: 'FIRN_COMPACTOR_L1_SETTLE',
      flag: 'compactor-l1-settle',
      schema: duration,
      default: fmt(d.levels[0].settleMs),
      description: LEVEL.settle(1),
    }),
    l1Bucket: setting({
      env: 'FIRN_COMPACTOR_L1_BUCKET',
      flag: 'compactor-l1-bucket',
      schema: duration,
      default: fmt(d.levels[0].bucketMs),
      description: LEVEL.bucket(1),
    }),
    l2Window: setting({
      env: 'FIRN_COMPACTOR_L2_WINDOW',
      flag: 'compactor-l2-window',
      schema: duration,
      default: fmt(d.levels[1].windowMs),
      description: LEVEL.window(2),
    }),
    l2MinSegments: setting({
      env: 'FIRN_COMPACTOR_L2_MIN_SEGMENTS',
      flag: 'compactor-l2-min-segments',
      schema: positiveInt,
      default: String(d.levels[1].minSegments),
      description: LEVEL.minSegments(2),
    }),
    l2MinBytes: setting({
      env: 'FIRN_COMPACTOR_L2_MIN_BYTES',
      flag: 'compactor-l2-min-bytes',
      schema: positiveInt,
      default: String(d.levels[1].minBytes),
      description: LEVEL.minBytes(),
    }),
    l2Settle: setting({
      env: 'FIRN_COMPACTOR_L2_SETTLE',
      flag: 'compactor-l2-settle',
      schema: duration,
      default: fmt(d.levels[1].settleMs),
      description: LEVEL.settle(2),
    }),
    l2Bucket: setting({
      env: 'FIRN_COMPACTOR_L2_BUCKET',
      flag: 'compactor-l2-bucket',
      schema: duration,
      default: fmt(d.levels[1].bucketMs),
      description: LEVEL.bucket(2),
    }),
    compactorGrace: setting({
      env: 'FIRN_COMPACTOR_GRACE',
      flag: 'compactor-grace',
      schema: duration,
      default: fmt(d.graceMs),
      description: 'Replaced, expired and orphaned objects are deleted this long after they stopped being referenced; keep it above the query timeout.',
    }),
    compactorGcInterval: setting({
      env: 'FIRN_COMPACTOR_GC_INTERVAL',
      flag: 'compactor-gc-interval',
      schema: duration,
      default: fmt(d.gcIntervalMs),
      description: 'How often to scan object storage for unreferenced segment objects.',
    }),
    compactorLeaseTtl: setting({
      env: 'FIRN_COMPACTOR_LEASE_TTL',
      flag: 'compactor-lease-ttl',
      schema: duration,
      default: fmt(d.leaseTtlMs),
      description: 'A compactor that stops renewing its lease on a window loses it after this long.',
    }),
    // Retention is a per-tenant override (FIRN_RETENTION, `retention` in the overrides file).
    ...overridesSettings(),
    ...retentionSettings(),
    compactorCrashAt: setting({
      env: 'FIRN_COMPACTOR_CRASH_AT',
      flag: 'compactor-crash-at',
      schema: z.enum(['', ...COMPACTOR_STEPS]),
      default: '',
      description: 'Fault injection for tests only: SIGKILL the process at this step of its first job.',
    }),
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
    crashAt: c.compactorCrashAt === '' ? undefined : c.compactorCrashAt,
  };
}

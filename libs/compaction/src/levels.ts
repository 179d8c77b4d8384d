import { FirnError } from '@firn/errors';

/**
 * How segments of lower levels become one block of `level`. Time is cut into windows of
 * `windowMs` aligned to the epoch; a segment belongs to the window holding its min time.
 */
export interface LevelPolicy {
  /** 1, 2, ...: the level of the blocks this policy writes. */
  level: number;
  /** Window per block; a multiple of the previous level's window so windows nest. */
  windowMs: number;
  /** Compact an open window once it holds this many lower-level segments... */
  minSegments: number;
  /** ...or this many bytes of them... */
  minBytes: number;
  /** ...and any window (with ≥ 2 inputs) once it ended this long ago. */
  settleMs: number;
  /**
   * Downsampling: timestamps are floored to this bucket and rows sharing (profile type, series,
   * stack, bucket) are summed. 0 = keep exact timestamps. Totals are exact either way.
   */
  bucketMs: number;
}

const MINUTE = 60_000;
const MiB = 1024 * 1024;

/** L1: 5-minute blocks, exact timestamps. L2: hourly blocks, 10 s buckets. */
export const DEFAULT_LEVELS: readonly LevelPolicy[] = [
  { level: 1, windowMs: 5 * MINUTE, minSegments: 30, minBytes: 64 * MiB, settleMs: 2 * MINUTE, bucketMs: 0 },
  { level: 2, windowMs: 60 * MINUTE, minSegments: 12, minBytes: 512 * MiB, settleMs: 10 * MINUTE, bucketMs: 10_000 },
];

function bad(message: string): FirnError {
  return FirnError.invalidArgument(message);
}

/** Checks a level list: levels 1..n in order, nesting windows, buckets dividing windows. */
export function validateLevels(levels: readonly LevelPolicy[]): LevelPolicy[] {
  if (levels.length === 0) throw bad('compaction needs at least one level');
  return levels.map((p, i) => {
    if (p.level !== i + 1) throw bad(`compaction levels must be 1..n in order; position ${i} has level ${p.level}`);
    for (const k of ['windowMs', 'minSegments', 'minBytes'] as const) {
      if (!Number.isSafeInteger(p[k]) || p[k] < 1) throw bad(`level ${p.level}: ${k} must be a positive integer, got ${p[k]}`);
    }
    for (const k of ['settleMs', 'bucketMs'] as const) {
      if (!Number.isSafeInteger(p[k]) || p[k] < 0) throw bad(`level ${p.level}: ${k} must be a non-negative integer, got ${p[k]}`);
    }
    const prev = levels[i - 1];
    if (prev && p.windowMs % prev.windowMs !== 0) {
      throw bad(`level ${p.level}: window ${p.windowMs} ms must be a multiple of level ${prev.level}'s ${prev.windowMs} ms so windows nest`);
    }
    if (p.bucketMs > 0 && p.windowMs % p.bucketMs !== 0) throw bad(`level ${p.level}: bucket ${p.bucketMs} ms must divide the window ${p.windowMs} ms`);
    return { ...p };
  });
}

/** Start of the window of `windowMs` holding `timeMs` (floor, also for negative times). */
export function windowStart(timeMs: number, windowMs: number): number {
  return Math.floor(timeMs / windowMs) * windowMs;
}

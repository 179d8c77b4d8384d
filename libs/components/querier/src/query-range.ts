import { FirnError } from '@firn/errors';

/**
 * The one range rule of every public query API: `end` before `start` is INVALID_ARGUMENT; for
 * profile data (not label metadata) a range longer than `maxRangeMs` is too, naming the limit.
 * Public ranges are inclusive; the engine's are [start, end).
 */
export function checkedRange(startMs: number, endMsInclusive: number, maxRangeMs?: number): { startMs: number; endMs: number } {
  if (endMsInclusive < startMs) {
    throw FirnError.invalidArgument(`end (${new Date(endMsInclusive).toISOString()}) is before start (${new Date(startMs).toISOString()})`);
  }
  if (maxRangeMs !== undefined && endMsInclusive - startMs > maxRangeMs) {
    throw new FirnError('invalid_argument', `query range of ${Math.round((endMsInclusive - startMs) / 3600_000)} h is longer than the maximum of ${Math.round(maxRangeMs / 3600_000)} h`, {
      details: { limit: 'max_query_range' },
    });
  }
  return { startMs, endMs: endMsInclusive + 1 };
}

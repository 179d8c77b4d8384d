import { FirnError } from '@firn/errors';

const MAX_TIME_MS = 8.64e15;

/**
 * The one range rule of every public query API: `end` before `start` is INVALID_ARGUMENT; for
 * profile data (not label metadata) a range longer than `maxRangeMs` is too, naming the limit.
 * Public ranges are inclusive; the engine's are [start, end).
 */
export function checkedRange(startMs: number, endMsInclusive: number, maxRangeMs?: number): { startMs: number; endMs: number } {
  for (const [name, v] of [
    ['start', startMs],
    ['end', endMsInclusive],
  ] as const) {
    // Beyond ±8.64e15 ms a JS Date cannot represent the time: surely not a real query.
    if (!Number.isFinite(v) || Math.abs(v) > MAX_TIME_MS) throw FirnError.invalidArgument(`${name} (${v} ms) is outside the representable time range`);
  }
  if (endMsInclusive < startMs) {
    throw FirnError.invalidArgument(`end (${new Date(endMsInclusive).toISOString()}) is before start (${new Date(startMs).toISOString()})`);
  }
  if (maxRangeMs !== undefined && endMsInclusive - startMs > maxRangeMs) {
    throw new FirnError(
      'invalid_argument',
      `query range of ${Math.round((endMsInclusive - startMs) / 3600_000)} h is longer than the maximum of ${Math.round(maxRangeMs / 3600_000)} h`,
      {
        details: { limit: 'max_query_range' },
      },
    );
  }
  return { startMs, endMs: endMsInclusive + 1 };
}

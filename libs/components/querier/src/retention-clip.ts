/**
 * Clips a query range to a retention, so rows of a block that is only partly expired are never
 * returned (the compactor removes blocks once they are wholly expired). With a step, the start
 * moves by whole steps so bucket boundaries stay where the caller put them. A range wholly past
 * retention keeps its last millisecond (still a valid range; its rows are expired and being
 * deleted), so callers need no special case.
 */
export function clipToRetention<T extends { startMs: number; endMs: number }>(r: T, retentionMs: number, nowMs: number, stepMs = 1): T {
  if (!(retentionMs > 0)) return r;
  const cutoff = nowMs - retentionMs;
  if (r.startMs >= cutoff) return r;
  const startMs = Math.min(r.startMs + Math.ceil((cutoff - r.startMs) / stepMs) * stepMs, r.endMs - 1);
  return startMs > r.startMs ? { ...r, startMs } : r;
}

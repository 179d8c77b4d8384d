import { FirnError } from '@firn/errors';
import { validateLabels, type SampleBatch } from '@firn/profiles';
import type { TenantLimits } from './tenant-limits';

/** Before this, a timestamp is surely a unit mistake (seconds sent as ms, or 0). */
const EARLIEST_MS = Date.UTC(2000, 0, 1);

/**
 * Checks a decoded batch against the tenant's shape limits: series per request, labels per
 * series (count, name and value length), and the ingestion time window. Throws
 * invalid_argument naming the limit (like any other bad input: retrying will not help).
 */
export function checkBatchLimits(batch: Pick<SampleBatch, 'length' | 'series' | 'timestampMs'>, l: TenantLimits, nowMs: number): void {
  if (batch.series.length > l.maxSeriesPerRequest) {
    throw FirnError.invalidArgument(`request has ${batch.series.length} series, more than the limit of ${l.maxSeriesPerRequest}`, {
      limit: 'max_series_per_request',
    });
  }
  const labelLimits = { maxLabels: l.maxLabelNames, maxNameLength: l.maxLabelNameLength, maxValueLength: l.maxLabelValueLength };
  for (const s of batch.series) validateLabels(s, labelLimits);
  const lo = l.ingestPastWindowMs > 0 ? Math.max(EARLIEST_MS, nowMs - l.ingestPastWindowMs) : EARLIEST_MS;
  const hi = nowMs + l.ingestFutureWindowMs;
  const ts = batch.timestampMs;
  for (let i = 0; i < batch.length; i++) {
    const t = ts[i];
    if (!(t >= lo && t <= hi)) {
      const what =
        t > hi
          ? `more than ${Math.round(l.ingestFutureWindowMs / 1000)} s in the future`
          : l.ingestPastWindowMs > 0 && t >= EARLIEST_MS
            ? `older than ${Math.round(l.ingestPastWindowMs / 3600_000)} h`
            : 'before the year 2000 (seconds sent as milliseconds?)';
      throw FirnError.invalidArgument(`sample timestamp ${showTime(t)} is ${what}`, { limit: 'ingest_time_window' });
    }
  }
}

function showTime(t: number): string {
  return Number.isFinite(t) && Math.abs(t) <= 8.64e15 ? new Date(t).toISOString() : `${t} ms`;
}

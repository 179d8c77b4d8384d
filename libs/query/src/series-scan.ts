import type { Label } from '@firn/profiles';
import { FirnError } from '@firn/errors';
import { SampleColumn, seriesKeyOf } from '@firn/segments';
import type { ObjectStore } from '@firn/storage';
import { halves, int64At, requireColumn } from './arrow-columns';
import type { ScanQuery } from './segment-scan';
import type { SegmentMeta } from './segment-objects';
import { labelReaders, scanSegmentRows } from './segment-rows';

export interface SeriesQuery extends ScanQuery {
  /** Bucket width; buckets start at startMs + k × stepMs. */
  stepMs: number;
  /**
   * Labels that survive the sum (Prometheus `sum by (...)`). Undefined keeps every label (one
   * series per stored series, Parca QueryRange); [] sums everything into one series.
   */
  sumBy?: readonly string[];
}

export interface SeriesPoint {
  /** Σ value of the rows in the bucket. */
  value: number;
  /** Rows (one per series, stack and timestamp) in the bucket. */
  count: number;
  /** Σ duration of the distinct profiles (stored series, timestamp) in the bucket. */
  durationNs: number;
}

/** seriesKey (`seriesKeyOf(labels)`, labels after sum_by) → bucket start ms → point. */
export type SeriesBuckets = Map<string, Map<number, SeriesPoint>>;

/** The labels of a series key produced by scanSeries. */
export function seriesLabels(key: string): Label[] {
  return JSON.parse(key) as Label[];
}

/** The label order of series keys (scan and wire must agree, or equal series would not merge). */
export function byName(a: Label, b: Label): number {
  return a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0;
}

/** Row i's labels that have a value, in series-key order. */
export function rowLabels(readers: ReadonlyArray<readonly [string, (i: number) => string]>, i: number): Label[] {
  const labels: Label[] = [];
  for (const [n, r] of readers) {
    const v = r(i);
    if (v !== '') labels.push([n, v]);
  }
  return labels.sort(byName);
}

/** One series in columns, as peers exchange it (all arrays have the same length). */
export interface SeriesColumns {
  labels: Label[];
  bucketMs: number[];
  values: number[];
  counts: number[];
  durationNs: number[];
}

/** Series buckets as columns, for the wire; `seriesFromColumns` inverts it. */
export function seriesToColumns(buckets: SeriesBuckets): SeriesColumns[] {
  return [...buckets].map(([key, points]) => {
    const c: SeriesColumns = { labels: seriesLabels(key), bucketMs: [], values: [], counts: [], durationNs: [] };
    for (const [t, p] of points) {
      c.bucketMs.push(t);
      c.values.push(p.value);
      c.counts.push(p.count);
      c.durationNs.push(p.durationNs);
    }
    return c;
  });
}

/** Series buckets from columns (a peer's answer); invalid_argument when the columns disagree in length. */
export function seriesFromColumns(series: readonly SeriesColumns[]): SeriesBuckets {
  const out: SeriesBuckets = new Map();
  for (const c of series) {
    const n = c.bucketMs.length;
    if (c.values.length !== n || c.counts.length !== n || c.durationNs.length !== n) {
      throw FirnError.invalidArgument(
        `series columns differ in length (${n} buckets, ${c.values.length} values, ${c.counts.length} counts, ${c.durationNs.length} durations)`,
      );
    }
    const labels = [...c.labels].sort(byName);
    const points = new Map<number, SeriesPoint>();
    for (let i = 0; i < n; i++) points.set(c.bucketMs[i], { value: c.values[i], count: c.counts[i], durationNs: c.durationNs[i] });
    mergeSeries(out, new Map([[seriesKeyOf(labels), points]]));
  }
  return out;
}

/** Adds `from` into `into` (for merging segment results or querier partials). */
export function mergeSeries(into: SeriesBuckets, from: SeriesBuckets): SeriesBuckets {
  for (const [key, points] of from) {
    let target = into.get(key);
    if (!target) into.set(key, (target = new Map()));
    for (const [t, p] of points) {
      const q = target.get(t);
      if (q) {
        q.value += p.value;
        q.count += p.count;
        q.durationNs += p.durationNs;
      } else {
        target.set(t, { ...p });
      }
    }
  }
  return into;
}

/**
 * Sums one segment's matching rows per (series after sum_by, step bucket). Reads timestamp,
 * series_id, value, duration, profile_type and the label columns the matchers and sum_by need
 * (every label column when sumBy is undefined).
 */
export async function scanSeries(store: ObjectStore, seg: SegmentMeta, q: SeriesQuery, opts: { signal?: AbortSignal } = {}): Promise<SeriesBuckets> {
  const out: SeriesBuckets = new Map();
  const keyOfSeries = new Map<number, Map<number, SeriesPoint>>();
  const sumBy = q.sumBy ? [...new Set(q.sumBy)].sort() : undefined;
  let lastSeries = -1;
  let lastTs = Number.NaN;
  let lastPoints: Map<number, SeriesPoint> | undefined;
  let lastBucket = Number.NaN;
  let lastPoint: SeriesPoint | undefined;
  // Timestamps whose duration was counted, per stored series: compacted blocks sort a series'
  // rows by stack, then timestamp (firn.sort), so one profile's rows need not be adjacent.
  const counted = new Map<number, Set<number>>();
  await scanSegmentRows(
    store,
    seg,
    q,
    { columns: [SampleColumn.seriesId, SampleColumn.value, SampleColumn.timestamp, SampleColumn.duration], labels: sumBy ?? 'all' },
    ({ batch, rows }) => {
      const what = 'samples object';
      const series = requireColumn(batch, SampleColumn.seriesId, what).values as Uint32Array;
      // Int64 columns as 32-bit halves: a BigInt per read was most of this loop's cost and garbage.
      const value = halves(requireColumn(batch, SampleColumn.value, what).values as BigInt64Array);
      const ts = halves(requireColumn(batch, SampleColumn.timestamp, what).values as BigInt64Array);
      const dur = halves(requireColumn(batch, SampleColumn.duration, what).values as BigInt64Array);
      const readers = labelReaders(batch, sumBy);
      for (const i of rows) {
        const sid = series[i];
        let points = keyOfSeries.get(sid);
        if (!points) {
          const key = seriesKeyOf(rowLabels(readers, i));
          points = out.get(key);
          if (!points) out.set(key, (points = new Map()));
          keyOfSeries.set(sid, points);
        }
        const t = int64At(ts, i);
        const bucket = q.startMs + Math.floor((t - q.startMs) / q.stepMs) * q.stepMs;
        // Rows of a series come in time order in a flush's segment: mostly the same point again.
        let p = points === lastPoints && bucket === lastBucket ? lastPoint : points.get(bucket);
        if (!p) points.set(bucket, (p = { value: 0, count: 0, durationNs: 0 }));
        lastPoints = points;
        lastBucket = bucket;
        lastPoint = p;
        p.value += int64At(value, i);
        p.count++;
        if (sid !== lastSeries || t !== lastTs) {
          let seen = counted.get(sid);
          if (!seen) counted.set(sid, (seen = new Set()));
          if (!seen.has(t)) {
            seen.add(t);
            p.durationNs += int64At(dur, i);
          }
          lastSeries = sid;
          lastTs = t;
        }
      }
    },
    opts.signal,
  );
  return out;
}

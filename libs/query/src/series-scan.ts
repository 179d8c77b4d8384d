import type { Label } from '@firn/profiles';
import { SampleColumn, seriesKeyOf } from '@firn/segments';
import type { ObjectStore } from '@firn/storage';
import { requireColumn } from './arrow-columns';
import type { ScanQuery } from './segment-scan';
import type { SegmentMeta } from './segment-objects';
import { labelReader, scanSegmentRows } from './segment-rows';

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
  await scanSegmentRows(
    store,
    seg,
    q,
    { columns: [SampleColumn.seriesId, SampleColumn.value, SampleColumn.timestamp, SampleColumn.duration], labels: sumBy ?? 'all' },
    ({ batch, rows }) => {
      const what = 'samples object';
      const series = requireColumn(batch, SampleColumn.seriesId, what).values as Uint32Array;
      const value = requireColumn(batch, SampleColumn.value, what).values as BigInt64Array;
      const ts = requireColumn(batch, SampleColumn.timestamp, what).values as BigInt64Array;
      const dur = requireColumn(batch, SampleColumn.duration, what).values as BigInt64Array;
      const names = sumBy ?? batch.schema.fields.map((f) => f.name).filter((n) => n.startsWith('labels.')).map((n) => n.slice('labels.'.length));
      const readers = names.map((n) => [n, labelReader(batch, n)] as const);
      for (const i of rows) {
        const sid = series[i];
        let points = keyOfSeries.get(sid);
        if (!points) {
          const labels: Label[] = [];
          for (const [n, r] of readers) {
            const v = r(i);
            if (v !== '') labels.push([n, v]);
          }
          labels.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
          const key = seriesKeyOf(labels);
          points = out.get(key);
          if (!points) out.set(key, (points = new Map()));
          keyOfSeries.set(sid, points);
        }
        const t = Number(ts[i]);
        const bucket = q.startMs + Math.floor((t - q.startMs) / q.stepMs) * q.stepMs;
        let p = points.get(bucket);
        if (!p) points.set(bucket, (p = { value: 0, count: 0, durationNs: 0 }));
        p.value += Number(value[i]);
        p.count++;
        // Rows are sorted by series then timestamp, so one profile's rows are adjacent.
        if (sid !== lastSeries || t !== lastTs) {
          p.durationNs += Number(dur[i]);
          lastSeries = sid;
          lastTs = t;
        }
      }
    },
    opts.signal,
  );
  return out;
}

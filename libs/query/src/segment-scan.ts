import type { LabelMatcher } from '@firn/manifest';
import { SampleColumn } from '@firn/segments';
import type { ObjectStore } from '@firn/storage';
import { throwIfAborted } from './abort';
import { halves, int64At, requireColumn } from './arrow-columns';
import { StackAccumulator, type PartialAggregate } from './merge-stacks';
import type { SegmentMeta } from './segment-objects';
import { labelReader, scanSegmentRows } from './segment-rows';
import { readStacksById, type KnownFrames } from './stack-table';

export interface ScanQuery {
  /** Exact profile type id (formatted). */
  profileType: string;
  matchers: readonly LabelMatcher[];
  /** [startMs, endMs) */
  startMs: number;
  endMs: number;
  /** Span profiles: only rows of these span ids (16 lowercase hex digits). */
  spanIds?: readonly string[];
}

export interface ScanOptions {
  /** Sum per (values of these labels, stack) instead of per stack. */
  groupBy?: readonly string[];
  signal?: AbortSignal;
  /**
   * Frames of stacks the caller already has (by key): those stacks' frames are neither fetched
   * nor decoded, and the partial reuses the returned arrays.
   */
  knownFrames?: KnownFrames;
}

export const STRIDE = 4_294_967_296;

/**
 * A pseudo label for groupBy: groups rows by their sampling period (in the profile type's period
 * unit, as a decimal string), so a caller can turn sample counts into exact CPU time
 * (count × period per group) from one scan, even when agents sample at different rates.
 */
export const PERIOD_GROUP = '__period__';

/** Grows by doubling; indexed by stack_id (dense per segment). */
export class DenseSums {
  sums = new Float64Array(1024);

  add(id: number, v: number): void {
    if (id >= this.sums.length) {
      let cap = this.sums.length * 2;
      while (cap <= id) cap *= 2;
      const next = new Float64Array(cap);
      next.set(this.sums);
      this.sums = next;
    }
    this.sums[id] += v;
  }

  /** The ungrouped SegmentSums: the stack_ids whose sum is not 0, ascending. */
  toSegmentSums(): SegmentSums {
    const used: number[] = [];
    const sums = this.sums;
    for (let id = 0; id < sums.length; id++) if (sums[id] !== 0) used.push(id);
    return { ids: Uint32Array.from(used), dense: sums, groups: [] };
  }
}

/** One segment's sums by local stack_id (and group), before stacks are resolved. */
export interface SegmentSums {
  /** Stack ids that occurred, ascending. */
  ids: Uint32Array;
  /** Ungrouped: sums[stack_id]. */
  dense?: Float64Array;
  /** Grouped: (group × 2^32 + stack_id) → sum; group indexes into `groups`. */
  cells?: Map<number, number>;
  /** Grouped: values of groupBy per group ('' = absent). */
  groups: string[][];
}

/**
 * Sums the values of one segment's matching rows per stack_id (or per group and stack_id).
 * Reads profile_type, timestamp (each only when the segment needs filtering on it), the label
 * columns the matchers (and groupBy) name, series_id (when grouping), period (when grouping by
 * PERIOD_GROUP), stack_id and value.
 */
export async function sumSegment(store: ObjectStore, seg: SegmentMeta, q: ScanQuery, groupBy: readonly string[], signal?: AbortSignal): Promise<SegmentSums> {
  const grouped = groupBy.length > 0;
  const periodAt = groupBy.indexOf(PERIOD_GROUP);
  const dense = new DenseSums();
  const cells = new Map<number, number>();
  const groups: string[][] = [];
  const groupIdx = new Map<string, number>();
  const groupOfSeries = new Map<number, number>();
  // With the period among the groups a series' rows may fall into several groups.
  const groupOfSeriesPeriod = new Map<number, Map<bigint, number>>();
  const columns: string[] = grouped ? [SampleColumn.stackId, SampleColumn.value, SampleColumn.seriesId] : [SampleColumn.stackId, SampleColumn.value];
  if (periodAt >= 0) columns.push(SampleColumn.period);

  await scanSegmentRows(
    store,
    seg,
    q,
    { columns, labels: groupBy.filter((n) => n !== PERIOD_GROUP) },
    ({ batch, rows }) => {
      const stack = requireColumn(batch, SampleColumn.stackId, 'samples object').values as Uint32Array;
      // Read as int32 halves: an element of a BigInt64Array is a new BigInt (an allocation per row).
      const value = halves(requireColumn(batch, SampleColumn.value, 'samples object').values as BigInt64Array);
      if (!grouped) {
        for (const i of rows) dense.add(stack[i], int64At(value, i));
        return;
      }
      const series = requireColumn(batch, SampleColumn.seriesId, 'samples object').values as Uint32Array;
      const period = periodAt >= 0 ? (requireColumn(batch, SampleColumn.period, 'samples object').values as BigInt64Array) : undefined;
      const readers = groupBy.map((n) => (n === PERIOD_GROUP ? undefined : labelReader(batch, n)));
      const groupOf = (i: number): number => {
        const vals = readers.map((r) => (r ? r(i) : String(period?.[i] ?? 0n)));
        const k = vals.join('\u0000');
        let g = groupIdx.get(k);
        if (g === undefined) {
          g = groups.push(vals) - 1;
          groupIdx.set(k, g);
        }
        return g;
      };
      for (const i of rows) {
        let g: number | undefined;
        if (period) {
          let byPeriod = groupOfSeriesPeriod.get(series[i]);
          if (!byPeriod) groupOfSeriesPeriod.set(series[i], (byPeriod = new Map()));
          g = byPeriod.get(period[i]);
          if (g === undefined) byPeriod.set(period[i], (g = groupOf(i)));
        } else {
          g = groupOfSeries.get(series[i]);
          if (g === undefined) groupOfSeries.set(series[i], (g = groupOf(i)));
        }
        const k = g * STRIDE + stack[i];
        cells.set(k, (cells.get(k) ?? 0) + int64At(value, i));
      }
    },
    signal,
  );

  if (grouped) {
    const seen = new Set<number>();
    for (const k of cells.keys()) seen.add(k % STRIDE);
    return { ids: Uint32Array.from(seen).sort(), cells, groups };
  }
  return dense.toSegmentSums();
}

/**
 * Sums the values of one segment's matching rows per stack (or per group and stack), then reads
 * the frames of only the stacks that occurred (see sumSegment for the columns read).
 */
export async function scanSegment(store: ObjectStore, seg: SegmentMeta, q: ScanQuery, opts: ScanOptions = {}): Promise<PartialAggregate> {
  const acc = new StackAccumulator(opts.groupBy ?? []);
  const s = await sumSegment(store, seg, q, acc.groupBy, opts.signal);
  if (s.ids.length === 0) return acc.toPartial();
  throwIfAborted(opts.signal);
  const stacks = await readStacksById(store, seg, s.ids, opts.signal, opts.knownFrames);
  const stackIdx = new Map<number, number>();
  for (const id of s.ids) {
    const st = stacks.get(id)!;
    stackIdx.set(id, acc.addStack(st.key, st.frames));
  }
  if (s.cells) {
    const g = s.groups.map((vals) => acc.addGroup(vals));
    for (const [k, v] of s.cells) acc.add(stackIdx.get(k % STRIDE)!, v, g[Math.floor(k / STRIDE)]);
  } else if (s.dense) {
    for (const id of s.ids) acc.add(stackIdx.get(id)!, s.dense[id]);
  }
  return acc.toPartial();
}

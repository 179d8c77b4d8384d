import type { LabelMatcher } from '@firn/manifest';
import { SampleColumn } from '@firn/segments';
import type { ObjectStore } from '@firn/storage';
import { throwIfAborted } from './abort';
import { requireColumn } from './arrow-columns';
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

const STRIDE = 4_294_967_296;

/** Grows by doubling; indexed by stack_id (dense per segment). */
class DenseSums {
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
}

/**
 * Sums the values of one segment's matching rows per stack (or per group and stack), then reads
 * the frames of only the stacks that occurred. Reads profile_type, timestamp, the label columns the
 * matchers (and groupBy) name, series_id (when grouping), stack_id and value: nothing else.
 */
export async function scanSegment(store: ObjectStore, seg: SegmentMeta, q: ScanQuery, opts: ScanOptions = {}): Promise<PartialAggregate> {
  const groupBy = opts.groupBy ?? [];
  const acc = new StackAccumulator(groupBy);
  const grouped = groupBy.length > 0;
  const dense = new DenseSums();
  // Grouped: cell (group, stack_id) → sum; a segment's series map to groups through series_id.
  const cellSums = new Map<number, number>();
  const groupOfSeries = new Map<number, number>();

  await scanSegmentRows(
    store,
    seg,
    q,
    { columns: grouped ? [SampleColumn.stackId, SampleColumn.value, SampleColumn.seriesId] : [SampleColumn.stackId, SampleColumn.value], labels: groupBy },
    ({ batch, rows }) => {
      const stack = requireColumn(batch, SampleColumn.stackId, 'samples object').values as Uint32Array;
      const value = requireColumn(batch, SampleColumn.value, 'samples object').values as BigInt64Array;
      if (!grouped) {
        for (const i of rows) dense.add(stack[i], Number(value[i]));
        return;
      }
      const series = requireColumn(batch, SampleColumn.seriesId, 'samples object').values as Uint32Array;
      const readers = groupBy.map((n) => labelReader(batch, n));
      for (const i of rows) {
        let g = groupOfSeries.get(series[i]);
        if (g === undefined) {
          g = acc.addGroup(readers.map((r) => r(i)));
          groupOfSeries.set(series[i], g);
        }
        const k = g * STRIDE + stack[i];
        cellSums.set(k, (cellSums.get(k) ?? 0) + Number(value[i]));
      }
    },
    opts.signal,
  );

  const used: number[] = [];
  if (grouped) {
    const seen = new Set<number>();
    for (const k of cellSums.keys()) seen.add(k % STRIDE);
    used.push(...seen);
    used.sort((a, b) => a - b);
  } else {
    dense.sums.forEach((v, id) => {
      if (v !== 0) used.push(id);
    });
  }
  if (used.length === 0) return acc.toPartial();
  throwIfAborted(opts.signal);
  const stacks = await readStacksById(store, seg, Uint32Array.from(used), opts.signal, opts.knownFrames);
  const stackIdx = new Map<number, number>();
  for (const id of used) {
    const s = stacks.get(id)!;
    stackIdx.set(id, acc.addStack(s.key, s.frames));
  }
  if (grouped) {
    for (const [k, v] of cellSums) acc.add(stackIdx.get(k % STRIDE)!, v, Math.floor(k / STRIDE));
  } else {
    for (const id of used) acc.add(stackIdx.get(id)!, dense.sums[id]);
  }
  return acc.toPartial();
}

import { FirnError } from '@firn/errors';
import type { Frame } from '@firn/profiles';
import type { StackProfile } from '@firn/reports';
import { StackAccumulator, type PartialAggregate, type Side } from './merge-stacks';
import { rememberFrameNumbers, type StackCatalog } from './stack-catalog';
import { STRIDE, type SegmentSums } from './segment-scan';

function grown(a: Float64Array, n: number): Float64Array {
  if (a.length >= n) return a;
  const b = new Float64Array(Math.max(n, a.length * 2));
  b.set(a);
  return b;
}

/**
 * A query's running sums, by catalog stack id: segment sums are folded in with integer look-ups
 * only (no stack keys, no frames). Grouped sums are kept by (group, catalog id) and handed to a
 * StackAccumulator at the end, once every stack's frames are in the catalog (see `stackIds`).
 * Ends as a StackProfile or a PartialAggregate.
 */
export class QuerySums {
  private values: Float64Array = new Float64Array(1024);
  private base: Float64Array | undefined;
  private seen = new Uint8Array(1024);
  private readonly grouped: StackAccumulator | undefined;
  /** Grouped: (accumulator group × 2^32 + catalog id) → sum, per side. */
  private readonly cells = new Map<number, number>();
  private readonly baseCells = new Map<number, number>();
  private finished: StackAccumulator | undefined;

  constructor(
    private readonly catalog: StackCatalog,
    readonly groupBy: readonly string[] = [],
  ) {
    if (groupBy.length > 0) this.grouped = new StackAccumulator(groupBy);
  }

  /** Folds in one segment's sums; `map` is the segment's stack_id → catalog id. */
  add(s: SegmentSums, map: Int32Array, side: Side = 'value'): void {
    if (this.grouped) return this.addGrouped(s, map, side);
    if (!s.dense) return;
    const n = this.catalog.size;
    if (this.seen.length < n) {
      const seen = new Uint8Array(Math.max(n, this.seen.length * 2));
      seen.set(this.seen);
      this.seen = seen;
    }
    let target: Float64Array;
    if (side === 'value') target = this.values = grown(this.values, n);
    else target = this.base = grown(this.base ?? new Float64Array(0), n);
    const dense = s.dense;
    const ids = s.ids;
    for (let i = 0; i < ids.length; i++) {
      const gid = map[ids[i]];
      target[gid] += dense[ids[i]];
      this.seen[gid] = 1;
    }
  }

  private addGrouped(s: SegmentSums, map: Int32Array, side: Side): void {
    const acc = this.grouped!;
    if (!s.cells) return;
    const cells = side === 'value' ? this.cells : this.baseCells;
    const g = s.groups.map((vals) => acc.addGroup(vals));
    for (const [k, v] of s.cells) {
      const key = g[Math.floor(k / STRIDE)] * STRIDE + map[k % STRIDE];
      cells.set(key, (cells.get(key) ?? 0) + v);
    }
  }

  /** Catalog ids of every stack summed so far, ascending: the stacks whose frames the result needs. */
  stackIds(): Uint32Array {
    if (this.grouped) {
      const ids = new Set<number>();
      for (const cells of [this.cells, this.baseCells]) for (const k of cells.keys()) ids.add(k % STRIDE);
      return Uint32Array.from(ids).sort();
    }
    const out: number[] = [];
    const n = Math.min(this.seen.length, this.catalog.size);
    for (let i = 0; i < n; i++) if (this.seen[i] === 1) out.push(i);
    return Uint32Array.from(out);
  }

  /** The grouped sums as a StackAccumulator (frames from the catalog, which must hold them by now). */
  private accumulated(): StackAccumulator {
    if (this.finished) return this.finished;
    const acc = (this.finished = this.grouped!);
    const idx = new Map<number, number>();
    const stackOf = (gid: number): number => {
      let i = idx.get(gid);
      if (i === undefined) idx.set(gid, (i = acc.addStack(this.catalog.keys[gid], this.framesOf(gid))));
      return i;
    };
    for (const [side, cells] of [
      ['value', this.cells],
      ['base', this.baseCells],
    ] as const) {
      for (const [k, v] of cells) acc.add(stackOf(k % STRIDE), v, Math.floor(k / STRIDE), side);
    }
    return acc;
  }

  private framesOf(gid: number): Frame[] {
    const f = this.catalog.frames[gid];
    if (!f) throw FirnError.internal(`stack ${this.catalog.keys[gid]} has no frames (fillFrames was not run)`);
    return f;
  }

  /** Catalog ids of the stacks that occurred, in stack-key order. */
  private order(): number[] {
    const out: number[] = [];
    const n = Math.min(this.seen.length, this.catalog.size);
    for (let i = 0; i < n; i++) if (this.seen[i] === 1) out.push(i);
    return this.catalog.sortedByKey(out);
  }

  toStackProfile(profileType: string): StackProfile {
    if (this.grouped) return this.accumulated().toStackProfile(profileType);
    const order = this.order();
    const values = Float64Array.from(order, (i) => this.values[i] ?? 0);
    let total = 0;
    for (const v of values) total += v;
    const stacks = order.map((i) => this.framesOf(i));
    rememberFrameNumbers(stacks, this.catalog.framesNumbered(order));
    const out: StackProfile = { profileType, stacks, values, total };
    if (this.base) {
      const base = this.base;
      out.base = Float64Array.from(order, (i) => base[i] ?? 0);
    }
    return out;
  }

  toPartial(): PartialAggregate {
    if (this.grouped) return this.accumulated().toPartial();
    const order = this.order();
    const n = order.length;
    const out: PartialAggregate = {
      groupBy: [],
      groups: n > 0 ? [[]] : [],
      stacks: order.map((i) => ({ key: this.catalog.keys[i], frames: this.framesOf(i) })),
      cellGroup: new Uint32Array(n),
      cellStack: Uint32Array.from(order, (_, i) => i),
      values: Float64Array.from(order, (i) => this.values[i] ?? 0),
    };
    if (this.base) {
      const base = this.base;
      out.base = Float64Array.from(order, (i) => base[i] ?? 0);
    }
    return out;
  }
}

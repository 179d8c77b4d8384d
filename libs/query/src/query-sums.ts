import type { StackProfile } from '@firn/reports';
import { compareStrings } from '@firn/segments';
import { StackAccumulator, type PartialAggregate, type Side } from './merge-stacks';
import type { StackCatalog } from './stack-catalog';
import { STRIDE, type SegmentSums } from './segment-scan';

function grown(a: Float64Array, n: number): Float64Array {
  if (a.length >= n) return a;
  const b = new Float64Array(Math.max(n, a.length * 2));
  b.set(a);
  return b;
}

/**
 * A query's running sums, by catalog stack id: segment sums are folded in with integer look-ups
 * only (no stack keys, no frames). Grouped sums go through a StackAccumulator, each catalog
 * stack interned into it once. Ends as a StackProfile or a PartialAggregate.
 */
export class QuerySums {
  private values: Float64Array = new Float64Array(1024);
  private base: Float64Array | undefined;
  private seen = new Uint8Array(1024);
  private readonly grouped: StackAccumulator | undefined;
  /** Grouped: catalog id → accumulator stack index + 1 (0 = not interned yet). */
  private accIdx = new Int32Array(0);

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
    if (this.accIdx.length < this.catalog.size) {
      const next = new Int32Array(Math.max(this.catalog.size, this.accIdx.length * 2));
      next.set(this.accIdx);
      this.accIdx = next;
    }
    const g = s.groups.map((vals) => acc.addGroup(vals));
    for (const [k, v] of s.cells) {
      const gid = map[k % STRIDE];
      let idx = this.accIdx[gid] - 1;
      if (idx < 0) {
        idx = acc.addStack(this.catalog.keys[gid], this.catalog.frames[gid] ?? []);
        this.accIdx[gid] = idx + 1;
      }
      acc.add(idx, v, g[Math.floor(k / STRIDE)], side);
    }
  }

  /** Catalog ids of the stacks that occurred, in stack-key order. */
  private order(): number[] {
    const out: number[] = [];
    const n = Math.min(this.seen.length, this.catalog.size);
    for (let i = 0; i < n; i++) if (this.seen[i] === 1) out.push(i);
    const keys = this.catalog.keys;
    return out.sort((a, b) => compareStrings(keys[a], keys[b]));
  }

  toStackProfile(profileType: string): StackProfile {
    if (this.grouped) return this.grouped.toStackProfile(profileType);
    const order = this.order();
    const values = Float64Array.from(order, (i) => this.values[i] ?? 0);
    let total = 0;
    for (const v of values) total += v;
    const out: StackProfile = { profileType, stacks: order.map((i) => this.catalog.frames[i] ?? []), values, total };
    if (this.base) {
      const base = this.base;
      out.base = Float64Array.from(order, (i) => base[i] ?? 0);
    }
    return out;
  }

  toPartial(): PartialAggregate {
    if (this.grouped) return this.grouped.toPartial();
    const order = this.order();
    const n = order.length;
    const out: PartialAggregate = {
      groupBy: [],
      groups: n > 0 ? [[]] : [],
      stacks: order.map((i) => ({ key: this.catalog.keys[i], frames: this.catalog.frames[i] ?? [] })),
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

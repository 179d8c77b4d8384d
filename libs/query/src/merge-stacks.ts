import { FirnError } from '@firn/errors';
import type { Frame, Label } from '@firn/profiles';
import type { StackProfile } from '@firn/reports';
import { compareStrings } from '@firn/segments';

/** One distinct stack of a partial aggregate: its global key and its frames (leaf first). */
export interface PartialStack {
  key: string;
  frames: Frame[];
}

/**
 * What one querier hands another: sums per (group, stack), each stack's frames once. Cells are
 * parallel arrays; `groups[i]` holds the values of `groupBy` for group i ('' = label absent).
 * `base` is present for diffs (the comparison side). Produced by `StackAccumulator.toPartial`,
 * which orders groups, stacks and cells canonically so equal aggregates compare equal.
 */
export interface PartialAggregate {
  groupBy: string[];
  groups: string[][];
  stacks: PartialStack[];
  cellGroup: Uint32Array;
  cellStack: Uint32Array;
  values: Float64Array;
  base?: Float64Array;
}

export type Side = 'value' | 'base';

// Cell map key: group * 2^32 + stack stays an exact integer below 2^53 for < 2^21 groups.
const GROUP_STRIDE = 4_294_967_296;
const MAX_GROUPS = 2 ** 21;

function compareGroups(a: readonly string[], b: readonly string[]): number {
  for (let i = 0; i < a.length && i < b.length; i++) {
    const c = compareStrings(a[i], b[i]);
    if (c !== 0) return c;
  }
  return a.length - b.length;
}

function sameNames(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((n, i) => n === b[i]);
}

/**
 * Sums values by (group, stack key), keeping each stack's frames once. The workhorse of every
 * merge: segment scans fill one, queriers merge partials into one, reports read the result.
 */
export class StackAccumulator {
  readonly groupBy: readonly string[];
  private readonly stackIdx = new Map<string, number>();
  private readonly stackList: PartialStack[] = [];
  private readonly groupIdx = new Map<string, number>();
  private readonly groupList: string[][] = [];
  private readonly cellIdx = new Map<number, number>();
  private cellGroup = new Uint32Array(64);
  private cellStack = new Uint32Array(64);
  private values = new Float64Array(64);
  private base: Float64Array | undefined;
  private cells = 0;

  constructor(groupBy: readonly string[] = []) {
    this.groupBy = [...groupBy];
  }

  /** Cells (group, stack pairs) so far. */
  get size(): number {
    return this.cells;
  }

  get stackCount(): number {
    return this.stackList.length;
  }

  get hasBase(): boolean {
    return this.base !== undefined;
  }

  /** Frames of a stack already held, by key (lets scans skip decoding stacks seen before). */
  framesOf(key: string): Frame[] | undefined {
    const i = this.stackIdx.get(key);
    return i === undefined ? undefined : this.stackList[i].frames;
  }

  /** Interns a stack; `frames` is only evaluated (when a function) for a key not seen before. */
  addStack(key: string, frames: Frame[] | (() => Frame[])): number {
    let i = this.stackIdx.get(key);
    if (i === undefined) {
      i = this.stackList.length;
      this.stackList.push({ key, frames: typeof frames === 'function' ? frames() : frames });
      this.stackIdx.set(key, i);
    }
    return i;
  }

  /** Interns a group: one value per `groupBy` name, '' when the label is absent. */
  addGroup(values: readonly string[]): number {
    if (values.length !== this.groupBy.length) {
      throw FirnError.invalidArgument(`group has ${values.length} values, expected ${this.groupBy.length} (${this.groupBy.join(', ')})`);
    }
    const k = values.join('\u0000');
    let i = this.groupIdx.get(k);
    if (i === undefined) {
      i = this.groupList.length;
      if (i >= MAX_GROUPS) throw new FirnError('resource_exhausted', `query has more than ${MAX_GROUPS} groups`, { details: { limit: 'max_groups' } });
      this.groupList.push([...values]);
      this.groupIdx.set(k, i);
    }
    return i;
  }

  /** Adds `value` to the cell (group, stack) on one side; indexes come from addGroup / addStack. */
  add(stack: number, value: number, group = 0, side: Side = 'value'): void {
    if (this.groupBy.length === 0 && group === 0 && this.groupList.length === 0) this.addGroup([]);
    const k = group * GROUP_STRIDE + stack;
    let c = this.cellIdx.get(k);
    if (c === undefined) {
      c = this.newCell(group, stack);
      this.cellIdx.set(k, c);
    }
    if (side === 'value') this.values[c] += value;
    else this.ensureBase()[c] += value;
  }

  /**
   * Adds every cell of `p`. With side 'base', p's values land on the base side (p is the
   * comparison selection of a diff); otherwise values and base keep their sides.
   */
  addPartial(p: PartialAggregate, side: Side = 'value'): void {
    if (!sameNames(p.groupBy, this.groupBy)) {
      throw FirnError.invalidArgument(`cannot merge partials grouped by [${p.groupBy.join(', ')}] into [${this.groupBy.join(', ')}]`);
    }
    checkPartial(p);
    const g = p.groups.map((vals) => this.addGroup(vals));
    const s = p.stacks.map((st) => this.addStack(st.key, st.frames));
    for (let i = 0; i < p.values.length; i++) {
      const group = g[p.cellGroup[i]];
      const stack = s[p.cellStack[i]];
      if (side === 'base') {
        this.add(stack, p.values[i], group, 'base');
      } else {
        this.add(stack, p.values[i], group, 'value');
        if (p.base) this.add(stack, p.base[i], group, 'base');
      }
    }
  }

  /** Sum over all cells of one side. */
  total(side: Side = 'value'): number {
    const arr = side === 'value' ? this.values : this.base;
    let t = 0;
    if (arr) for (let i = 0; i < this.cells; i++) t += arr[i];
    return t;
  }

  /** The canonical serializable form: groups, stacks (by key) and cells (by group, stack) sorted. */
  toPartial(): PartialAggregate {
    const gOrder = this.groupList.map((_, i) => i).sort((a, b) => compareGroups(this.groupList[a], this.groupList[b]));
    const gRank = new Uint32Array(gOrder.length);
    gOrder.forEach((old, rank) => (gRank[old] = rank));
    const sOrder = this.stackList.map((_, i) => i).sort((a, b) => compareStrings(this.stackList[a].key, this.stackList[b].key));
    const sRank = new Uint32Array(sOrder.length);
    sOrder.forEach((old, rank) => (sRank[old] = rank));
    const n = this.cells;
    const order = Array.from({ length: n }, (_, i) => i).sort(
      (a, b) => gRank[this.cellGroup[a]] - gRank[this.cellGroup[b]] || sRank[this.cellStack[a]] - sRank[this.cellStack[b]],
    );
    const out: PartialAggregate = {
      groupBy: [...this.groupBy],
      groups: gOrder.map((i) => [...this.groupList[i]]),
      stacks: sOrder.map((i) => this.stackList[i]),
      cellGroup: new Uint32Array(n),
      cellStack: new Uint32Array(n),
      values: new Float64Array(n),
    };
    if (this.base) out.base = new Float64Array(n);
    order.forEach((c, i) => {
      out.cellGroup[i] = gRank[this.cellGroup[c]];
      out.cellStack[i] = sRank[this.cellStack[c]];
      out.values[i] = this.values[c];
      if (out.base && this.base) out.base[i] = this.base[c];
    });
    return out;
  }

  /** One merged profile over all groups; stacks in key order (deterministic across merge orders). */
  toStackProfile(profileType: string): StackProfile {
    return this.profileOf(profileType, () => true);
  }

  /** One profile per group (for group_by), groups in canonical order; labels omit '' values. */
  toGroupedStackProfiles(profileType: string): Array<{ labels: Label[]; profile: StackProfile }> {
    const order = this.groupList.map((_, i) => i).sort((a, b) => compareGroups(this.groupList[a], this.groupList[b]));
    return order.map((g) => ({
      labels: this.groupBy.map((n, i): Label => [n, this.groupList[g][i]]).filter(([, v]) => v !== ''),
      profile: this.profileOf(profileType, (group) => group === g),
    }));
  }

  private profileOf(profileType: string, inGroup: (g: number) => boolean): StackProfile {
    const values = new Float64Array(this.stackList.length);
    const base = this.base ? new Float64Array(this.stackList.length) : undefined;
    const used = new Uint8Array(this.stackList.length);
    for (let c = 0; c < this.cells; c++) {
      if (!inGroup(this.cellGroup[c])) continue;
      const s = this.cellStack[c];
      used[s] = 1;
      values[s] += this.values[c];
      if (base && this.base) base[s] += this.base[c];
    }
    const order = this.stackList
      .map((_, i) => i)
      .filter((i) => used[i] === 1)
      .sort((a, b) => compareStrings(this.stackList[a].key, this.stackList[b].key));
    const out: StackProfile = {
      profileType,
      stacks: order.map((i) => this.stackList[i].frames),
      values: Float64Array.from(order, (i) => values[i]),
      total: 0,
    };
    if (base) out.base = Float64Array.from(order, (i) => base[i]);
    let total = 0;
    for (const v of out.values) total += v;
    out.total = total;
    return out;
  }

  private newCell(group: number, stack: number): number {
    if (this.cells === this.values.length) {
      const cap = this.cells * 2;
      this.cellGroup = grow(this.cellGroup, new Uint32Array(cap));
      this.cellStack = grow(this.cellStack, new Uint32Array(cap));
      this.values = grow(this.values, new Float64Array(cap));
      if (this.base) this.base = grow(this.base, new Float64Array(cap));
    }
    const c = this.cells++;
    this.cellGroup[c] = group;
    this.cellStack[c] = stack;
    return c;
  }

  private ensureBase(): Float64Array {
    this.base ??= new Float64Array(this.values.length);
    return this.base;
  }
}

function grow<T extends Uint32Array | Float64Array>(from: T, to: T): T {
  to.set(from);
  return to;
}

/** Throws invalid_argument when the arrays of `p` disagree (a corrupt or hand-made partial). */
export function checkPartial(p: PartialAggregate): void {
  const n = p.values.length;
  if (p.cellGroup.length !== n || p.cellStack.length !== n || (p.base && p.base.length !== n)) {
    throw FirnError.invalidArgument('partial aggregate has cell arrays of different lengths');
  }
  for (const g of p.groups) {
    if (g.length !== p.groupBy.length) throw FirnError.invalidArgument('partial aggregate has a group of the wrong width');
  }
  for (let i = 0; i < n; i++) {
    if (p.cellGroup[i] >= p.groups.length || p.cellStack[i] >= p.stacks.length) {
      throw FirnError.invalidArgument(`partial aggregate cell ${i} points outside its groups or stacks`);
    }
  }
}

export function emptyPartial(groupBy: readonly string[] = []): PartialAggregate {
  return new StackAccumulator(groupBy).toPartial();
}

/** Sum of two partial aggregates (commutative and associative; the result is canonical). */
export function merge(a: PartialAggregate, b: PartialAggregate): PartialAggregate {
  const acc = new StackAccumulator(a.groupBy);
  acc.addPartial(a);
  acc.addPartial(b);
  return acc.toPartial();
}

import { FirnError } from '@firn/errors';
import { compareLabelSets, compareStrings, seriesKeyOf } from './label-order';
import type { Frame, SampleBatch } from '@firn/profiles';
import { isValidLabelName } from './segment-schema';
import { internedStacksOf, isSpanId, stackKey, type InternedStacks } from '@firn/profiles';

/**
 * All batches of one segment as one sorted, de-duplicated row set with dense segment-local ids.
 * Dictionaries are sorted (profile types and series in code-point order, stacks by key or by
 * frames, see StackOrder) and hold only entries some row uses, so ids follow the sort order.
 */
export interface MergedRows {
  profileTypes: string[];
  /** Index = series_id. */
  series: Array<Array<[string, string]>>;
  /** Index = stack_id. */
  stacks: MergedStack[];
  /**
   * Present when some stacks carry `frameIds`: every such id is below it (ids of one frame
   * interner's generation, see InternedStacks), so a writer can index a plain array by them.
   */
  frameIdLimit?: number;
  length: number;
  profileType: Uint32Array;
  seriesId: Uint32Array;
  stackId: Uint32Array;
  value: Float64Array;
  timestampMs: Float64Array;
  durationNs: Float64Array;
  periodNs: Float64Array;
  /**
   * Span profiles: span ids in code-point order, index 0 = '' (no span), and each row's index;
   * present only when some row has a span.
   */
  spans?: string[];
  spanId?: Uint32Array;
}

export interface MergedStack {
  key: string;
  frames: Frame[];
  /** The frames' ids in the interner that decoded the stack (`frameIds[i]` is `frames[i]`'s), when known. */
  frameIds?: Int32Array;
}

/**
 * Row order inside a (profile type, series): `time` = (timestamp, stack) — what an ingester
 * flush writes; `stack` = (stack, timestamp) — equal stack ids form runs and timestamps within a
 * run are small ascending deltas, which compacts far better (see libs/compaction README).
 */
export type RowOrder = 'time' | 'stack';

/**
 * Order of stack ids: `key` = by stack_key (a hash: scattered); `frames` = by frames root first,
 * so stacks sharing a call path get neighbouring ids and neighbouring rows in stacks.parquet.
 */
export type StackOrder = 'key' | 'frames';

export interface MergeBatchesOptions {
  rowOrder?: RowOrder;
  stackOrder?: StackOrder;
}

function compareFramesRootFirst(a: MergedStack, b: MergedStack): number {
  const fa = a.frames;
  const fb = b.frames;
  for (let i = fa.length - 1, j = fb.length - 1; i >= 0 && j >= 0; i--, j--) {
    const x = fa[i];
    const y = fb[j];
    if (x.buildId !== y.buildId) return compareStrings(x.buildId, y.buildId);
    if (x.address !== y.address) return x.address < y.address ? -1 : 1;
    if (x.functionName !== y.functionName) return compareStrings(x.functionName, y.functionName);
  }
  if (fa.length !== fb.length) return fa.length - fb.length;
  return a.key < b.key ? -1 : a.key > b.key ? 1 : 0;
}

/** Int64 columns are written from doubles; beyond this the conversion would be wrong. */
const INT64_LIMIT = 2 ** 63;

function bad(message: string): FirnError {
  return FirnError.invalidArgument(message);
}

const ROW_COLUMNS = ['profileType', 'seriesIdx', 'stack', 'value', 'timestampMs', 'durationNs', 'periodNs'] as const;
const ARRAY_TYPES = {
  profileType: Uint32Array,
  seriesIdx: Uint32Array,
  stack: Uint32Array,
  value: Float64Array,
  timestampMs: Float64Array,
  durationNs: Float64Array,
  periodNs: Float64Array,
} as const;

function checkShape(b: SampleBatch, bi: number): void {
  if (b === null || typeof b !== 'object') throw bad(`batch ${bi} is not a SampleBatch`);
  if (!Number.isSafeInteger(b.length) || b.length < 0) throw bad(`batch ${bi}: length must be a non-negative integer, got ${b.length}`);
  if (!Array.isArray(b.profileTypes) || !Array.isArray(b.series) || !Array.isArray(b.stacks)) {
    throw bad(`batch ${bi}: profileTypes, series and stacks must be arrays`);
  }
  for (const col of ROW_COLUMNS) {
    const arr = b[col];
    if (!(arr instanceof ARRAY_TYPES[col])) throw bad(`batch ${bi}: ${col} must be a ${ARRAY_TYPES[col].name}`);
    if (arr.length !== b.length) throw bad(`batch ${bi}: ${col} has ${arr.length} entries, expected length ${b.length}`);
  }
}

function checkSpans(b: SampleBatch, bi: number): string[] {
  const spans = b.spans as unknown;
  if (!Array.isArray(spans) || spans[0] !== '') throw bad(`batch ${bi}: spans must be an array starting with '' (no span)`);
  if (!(b.span instanceof Uint32Array) || b.span.length !== b.length) throw bad(`batch ${bi}: span must be a Uint32Array of length ${b.length}`);
  for (let i = 1; i < spans.length; i++) {
    if (typeof spans[i] !== 'string' || !isSpanId(spans[i] as string)) throw bad(`batch ${bi}: span ${i} is not 16 lowercase hex digits`);
  }
  return spans as string[];
}

function checkProfileType(pt: unknown, bi: number): string {
  if (typeof pt !== 'string' || pt.length === 0) throw bad(`batch ${bi}: profile type must be a non-empty string`);
  return pt;
}

function checkSeries(labels: unknown, bi: number, si: number): Array<[string, string]> {
  if (!Array.isArray(labels)) throw bad(`batch ${bi}: series ${si} must be an array of [name, value] pairs`);
  let prev: string | undefined;
  for (const pair of labels as unknown[]) {
    if (!Array.isArray(pair) || pair.length !== 2 || typeof pair[0] !== 'string' || typeof pair[1] !== 'string') {
      throw bad(`batch ${bi}: series ${si} has a label that is not a [name, value] string pair`);
    }
    const name = pair[0];
    if (!isValidLabelName(name)) throw bad(`batch ${bi}: series ${si} has invalid label name ${JSON.stringify(name)}`);
    if (prev !== undefined && compareStrings(prev, name) >= 0) {
      throw bad(`batch ${bi}: series ${si} labels must be sorted by name without duplicates (${JSON.stringify(prev)} then ${JSON.stringify(name)})`);
    }
    prev = name;
  }
  return labels as Array<[string, string]>;
}

function isInt64(v: number): boolean {
  return Number.isInteger(v) && Math.abs(v) < INT64_LIMIT;
}

function checkInteger(v: number, what: string, bi: number, row: number): void {
  if (!isInt64(v)) {
    throw bad(`batch ${bi} row ${row}: ${what} must be an integer within int64, got ${v}`);
  }
}

/** rank[id] = position of item id when the items are sorted with cmp. */
function ranks<T>(items: readonly T[], cmp: (a: T, b: T) => number): Uint32Array {
  const order = items.map((_, i) => i).sort((a, b) => cmp(items[a], items[b]));
  const rank = new Uint32Array(items.length);
  order.forEach((id, r) => (rank[id] = r));
  return rank;
}

/** Dense ids for the ranks that are used, in rank order; returns rank → id and the kept ranks. */
function compact(used: Uint8Array): { idOfRank: Uint32Array; ranks: number[] } {
  const idOfRank = new Uint32Array(used.length);
  const kept: number[] = [];
  for (let r = 0; r < used.length; r++) {
    if (used[r]) {
      idOfRank[r] = kept.length;
      kept.push(r);
    }
  }
  return { idOfRank, ranks: kept };
}

/**
 * A segment's stacks as the batches add them: found by interner stack id (batches decoded by one
 * interner within one generation, see InternedStacks: those keep their frame ids for the stacks
 * table too), else by array identity, else by content key. The interner's ids already tell
 * equal stacks apart, so the map by key is built only once a stack comes the other way.
 */
class SegmentStacks {
  readonly list: MergedStack[] = [];
  private readonly byKey = new Map<string, number>();
  /** Whether byKey holds every stack of the list. */
  private keyed = false;
  private readonly byArray = new Map<readonly Frame[], number>();
  /** The interner and generation of the first decoded batch: only batches of both use their ids. */
  private space: InternedStacks | undefined;
  private byInterned: Int32Array | undefined;

  /** Interner stack ids of `b`'s stacks, when they share the segment's id space. */
  internedIdsOf(b: SampleBatch): Int32Array | undefined {
    const ins = internedStacksOf(b);
    if (!ins) return undefined;
    this.space ??= ins;
    if (ins.interner !== this.space.interner || ins.generation !== this.space.generation) return undefined;
    this.byInterned ??= new Int32Array(ins.interner.stackCount).fill(-1);
    return ins.stackIds;
  }

  /** Segment stack id of interner stack `interId`, whose frames are `frames`. */
  idOfInterned(interId: number, frames: Frame[]): number {
    const ids = this.byInterned as Int32Array;
    let id = ids[interId];
    if (id >= 0) return id;
    id = this.keyed ? this.idOfKey(frames) : this.add(stackKey(frames), frames);
    ids[interId] = id;
    this.list[id].frameIds ??= (this.space as InternedStacks).interner.stackFrameIds(interId);
    return id;
  }

  /** Segment stack id of a stack found by its array (decoded batches share them) or its content. */
  idOfArray(frames: Frame[]): number {
    let id = this.byArray.get(frames);
    if (id === undefined) {
      if (!this.keyed) {
        this.list.forEach((s, i) => this.byKey.set(s.key, i));
        this.keyed = true;
      }
      id = this.idOfKey(frames);
      this.byArray.set(frames, id);
    }
    return id;
  }

  /** `{ frameIdLimit }` for MergedRows when some stack carries interner frame ids. */
  frameIdLimit(): { frameIdLimit?: number } {
    return this.space ? { frameIdLimit: this.space.interner.frameCount } : {};
  }

  private idOfKey(frames: Frame[]): number {
    const key = stackKey(frames);
    return this.byKey.get(key) ?? this.add(key, frames);
  }

  private add(key: string, frames: Frame[]): number {
    const id = this.list.push({ key, frames }) - 1;
    if (this.keyed) this.byKey.set(key, id);
    return id;
  }
}

/**
 * Concatenates batches, re-mapping their dictionaries onto segment-wide ones (stacks by content
 * key), drops zero values, sums rows with equal (profile type, series, stack, timestamp), and
 * sorts by (profile type, series labels, timestamp, stack id) — or (…, stack id, timestamp) with
 * rowOrder `stack`; stack ids follow `stackOrder`. Summing keeps exactly-once totals;
 * duration and period of merged rows are the maxima of the parts.
 */
export function mergeBatches(batches: readonly SampleBatch[], opts: MergeBatchesOptions = {}): MergedRows {
  const { rowOrder = 'time', stackOrder: stackIdOrder = 'key' } = opts;
  if (!Array.isArray(batches) || batches.length === 0) {
    throw bad('a segment needs at least one SampleBatch, got none');
  }
  let total = 0;
  batches.forEach((b, bi) => {
    checkShape(b, bi);
    total += b.length;
  });

  const ptIds = new Map<string, number>();
  const ptNames: string[] = [];
  const seriesIds = new Map<string, number>();
  const seriesList: Array<Array<[string, string]>> = [];
  const stacks = new SegmentStacks();

  const pt = new Uint32Array(total);
  const se = new Uint32Array(total);
  const st = new Uint32Array(total);
  const val = new Float64Array(total);
  const ts = new Float64Array(total);
  const dur = new Float64Array(total);
  const per = new Float64Array(total);
  // Span ids: '' (no span) is id 0; a batch without spans leaves every row at 0.
  const spanIds = new Map<string, number>([['', 0]]);
  const spanList: string[] = [''];
  const sp = new Uint32Array(total);
  let n = 0;

  for (let bi = 0; bi < batches.length; bi++) {
    const b = batches[bi];
    const ptMap = new Int32Array(b.profileTypes.length).fill(-1);
    const seMap = new Int32Array(b.series.length).fill(-1);
    const stMap = new Int32Array(b.stacks.length).fill(-1);
    const internedIds = stacks.internedIdsOf(b);
    const spMap =
      b.spans && b.span
        ? checkSpans(b, bi).map((id) => {
            let g = spanIds.get(id);
            if (g === undefined) {
              g = spanList.push(id) - 1;
              spanIds.set(id, g);
            }
            return g;
          })
        : undefined;
    // Columns in locals: the loop reads no property of the batch per row.
    const { value, profileType, seriesIdx, stack, timestampMs, durationNs, periodNs } = b;
    for (let i = 0; i < b.length; i++) {
      const v = value[i];
      if (!isInt64(v)) checkInteger(v, 'value', bi, i);
      if (v === 0) continue;
      const p = profileType[i];
      const s = seriesIdx[i];
      const k = stack[i];
      if (p >= ptMap.length) throw bad(`batch ${bi} row ${i}: profileType ${p} is out of range (${ptMap.length} profile types)`);
      if (s >= seMap.length) throw bad(`batch ${bi} row ${i}: seriesIdx ${s} is out of range (${seMap.length} series)`);
      if (k >= stMap.length) throw bad(`batch ${bi} row ${i}: stack ${k} is out of range (${stMap.length} stacks)`);
      if (ptMap[p] < 0) {
        const name = checkProfileType(b.profileTypes[p], bi);
        let id = ptIds.get(name);
        if (id === undefined) {
          id = ptNames.push(name) - 1;
          ptIds.set(name, id);
        }
        ptMap[p] = id;
      }
      if (seMap[s] < 0) {
        const labels = checkSeries(b.series[s], bi, s);
        const key = seriesKeyOf(labels);
        let id = seriesIds.get(key);
        if (id === undefined) {
          id = seriesList.push(labels.map(([ln, lv]) => [ln, lv] as [string, string])) - 1;
          seriesIds.set(key, id);
        }
        seMap[s] = id;
      }
      if (stMap[k] < 0) {
        const interId = internedIds ? internedIds[k] : -1;
        if (interId >= 0) {
          stMap[k] = stacks.idOfInterned(interId, b.stacks[k]);
        } else {
          const frames = b.stacks[k];
          if (!Array.isArray(frames)) throw bad(`batch ${bi}: stack ${k} must be an array of frames`);
          stMap[k] = stacks.idOfArray(frames);
        }
      }
      const t = timestampMs[i];
      const d = durationNs[i];
      const q = periodNs[i];
      if (!isInt64(t)) checkInteger(t, 'timestampMs', bi, i);
      if (!isInt64(d)) checkInteger(d, 'durationNs', bi, i);
      if (!isInt64(q)) checkInteger(q, 'periodNs', bi, i);
      pt[n] = ptMap[p];
      se[n] = seMap[s];
      st[n] = stMap[k];
      val[n] = v;
      ts[n] = t;
      dur[n] = d;
      per[n] = q;
      if (spMap) {
        const k = (b.span as Uint32Array)[i];
        if (k >= spMap.length) throw bad(`batch ${bi} row ${i}: span ${k} is out of range (${spMap.length} spans)`);
        sp[n] = spMap[k];
      }
      n++;
    }
  }

  const ptRank = ranks(ptNames, compareStrings);
  const seRank = ranks(seriesList, compareLabelSets);
  const stackList = stacks.list;
  const stRank = ranks(stackList, stackIdOrder === 'frames' ? compareFramesRootFirst : (a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  // '' sorts first, so "no span" keeps id 0 in the sorted dictionary too.
  const spRank = ranks(spanList, compareStrings);
  const hasSpans = spanList.length > 1;

  // One numeric group key per row keeps the comparator to three subtractions.
  const group = new Float64Array(n);
  const stackOrder = new Uint32Array(n);
  for (let i = 0; i < n; i++) {
    group[i] = ptRank[pt[i]] * seriesList.length + seRank[se[i]];
    stackOrder[i] = stRank[st[i]];
  }
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  if (rowOrder === 'stack') order.sort((a, b) => group[a] - group[b] || stackOrder[a] - stackOrder[b] || ts[a] - ts[b] || spRank[sp[a]] - spRank[sp[b]]);
  else order.sort((a, b) => group[a] - group[b] || ts[a] - ts[b] || stackOrder[a] - stackOrder[b] || spRank[sp[a]] - spRank[sp[b]]);

  const out = {
    pt: new Uint32Array(n),
    se: new Uint32Array(n),
    st: new Uint32Array(n),
    val: new Float64Array(n),
    ts: new Float64Array(n),
    dur: new Float64Array(n),
    per: new Float64Array(n),
    sp: new Uint32Array(n),
  };
  const usedPt = new Uint8Array(ptNames.length);
  const usedSe = new Uint8Array(seriesList.length);
  const usedSt = new Uint8Array(stackList.length);
  let m = 0;
  for (let j = 0; j < n;) {
    const first = order[j];
    let sum = val[first];
    let d = dur[first];
    let q = per[first];
    let k = j + 1;
    while (k < n) {
      const r = order[k];
      if (group[r] !== group[first] || ts[r] !== ts[first] || stackOrder[r] !== stackOrder[first] || sp[r] !== sp[first]) break;
      sum += val[r];
      if (dur[r] > d) d = dur[r];
      if (per[r] > q) q = per[r];
      k++;
    }
    j = k;
    if (sum === 0) continue;
    if (Math.abs(sum) >= INT64_LIMIT) throw bad(`summed value ${sum} overflows int64`);
    // Ranks for now; turned into dense ids below (rank order = id order, so the sort survives).
    out.pt[m] = ptRank[pt[first]];
    out.se[m] = seRank[se[first]];
    out.st[m] = stackOrder[first];
    out.val[m] = sum;
    out.ts[m] = ts[first];
    out.dur[m] = d;
    out.per[m] = q;
    out.sp[m] = spRank[sp[first]];
    usedPt[out.pt[m]] = 1;
    usedSe[out.se[m]] = 1;
    usedSt[out.st[m]] = 1;
    m++;
  }

  const ptC = compact(usedPt);
  const seC = compact(usedSe);
  const stC = compact(usedSt);
  for (let i = 0; i < m; i++) {
    out.pt[i] = ptC.idOfRank[out.pt[i]];
    out.se[i] = seC.idOfRank[out.se[i]];
    out.st[i] = stC.idOfRank[out.st[i]];
  }
  const byRank = <T>(items: readonly T[], rank: Uint32Array): T[] => {
    const sorted = new Array<T>(items.length);
    items.forEach((item, id) => (sorted[rank[id]] = item));
    return sorted;
  };
  const ptSorted = byRank(ptNames, ptRank);
  const seSorted = byRank(seriesList, seRank);
  const stSorted = byRank(stackList, stRank);
  const spans = hasSpans ? { spans: byRank(spanList, spRank), spanId: out.sp.subarray(0, m) } : {};

  return {
    ...spans,
    profileTypes: ptC.ranks.map((r) => ptSorted[r]),
    series: seC.ranks.map((r) => seSorted[r]),
    stacks: stC.ranks.map((r) => stSorted[r]),
    ...stacks.frameIdLimit(),
    length: m,
    profileType: out.pt.subarray(0, m),
    seriesId: out.se.subarray(0, m),
    stackId: out.st.subarray(0, m),
    value: out.val.subarray(0, m),
    timestampMs: out.ts.subarray(0, m),
    durationNs: out.dur.subarray(0, m),
    periodNs: out.per.subarray(0, m),
  };
}

import { ErrorCode, isFirnError } from '@firn/errors';
import type { Label } from '@firn/profiles';
import { compileMatchers, type CompiledMatcher } from '@firn/manifest';
import { decodeSeriesRollup, SampleColumn, SeriesPointsBuilder, seriesKeyOf, type SeriesRollup } from '@firn/segments';
import type { ObjectStore } from '@firn/storage';
import type { RecordBatch } from 'apache-arrow';
import { halves, int64At, requireColumn, stringsOf } from './arrow-columns';
import { segmentObjects, type SegmentMeta } from './segment-objects';
import { DenseSums, type SegmentSums } from './segment-scan';
import { labelReaders, scanSegmentRows } from './segment-rows';
import { byName, rowLabels, type SeriesBuckets, type SeriesQuery } from './series-scan';

/** One stored series of a segment: which points are its own is in the table's `starts`. */
export interface TableSeries {
  profileType: string;
  /** The series' labels with a value among the table's `labelsRead`, sorted by name. */
  labels: Label[];
  /** The series key of all its labels, once a query without sum_by has read the table. */
  key?: string;
}

/**
 * A segment's samples reduced to one point per (stored series, timestamp): everything a series
 * query (QueryRange, SelectSeries) reads, since it filters only by profile type, labels and time.
 * Points need only series_id, timestamp, value and duration; label columns are read when a query
 * first needs them (its sum_by and matcher names, or all of them), so a dashboard's first query
 * reads what a row scan would. A fleet's rows mostly carry their own timestamp, so points are
 * nearly as many as rows: they are kept in flat columns of the smallest exact types, series k
 * owning points starts[k] .. starts[k + 1] - 1 in time order.
 */
export interface SeriesTable {
  readonly series: readonly TableSeries[];
  readonly starts: Uint32Array;
  /** Timestamps as ms after `tsBase`. */
  readonly tsOff: Int32Array | Float64Array;
  readonly tsBase: number;
  /** Σ value of the rows at the timestamp (Uint32 when every sum fits). */
  readonly value: Uint32Array | Float64Array;
  /** Rows (one per stack) at the timestamp; undefined when every point is one row. */
  readonly rows?: Uint16Array | Uint32Array;
  /** Duration of the profile at the timestamp (its first row's, as scanSeries counts it)... */
  readonly durationNs?: Float64Array;
  /** ...or, where durationEach[k] is not NaN, the one duration of every point of series k. */
  readonly durationEach: Float64Array;
  /** Rough heap cost, for the cache's budget (grows as labels are read). */
  bytes: number;
  /** Label names read into `series[].labels`; 'all' once every label column was. */
  labelsRead: Set<string> | 'all';
  /** profile type → series_id → index in `series`. */
  readonly ids: ReadonlyMap<string, ReadonlyMap<number, number>>;
  /** Read from the segment's series rollup, or built from its rows (no rollup, or a bad one). */
  readonly source: 'rollup' | 'rows';
  /** Why the segment's rollup was not used, when it exists but could not be read. */
  readonly rollupError?: string;
  /**
   * The segment's stack sums per series, once flame graph queries over all of it needed them
   * (see KeptOptions); null when its ids are not dense (its queries scan rows).
   */
  stackSums?: SegmentStackSums | null;
  /**
   * The segment's rows (stack_id and value) in the table's point order, once flame graphs cut
   * the segment (their ranges covered only part of it; see KeptOptions); null when the rows do
   * not match the table's points (its queries scan rows).
   */
  stackRows?: SegmentStackRows | null;
}

/**
 * A segment's values summed per (profile type, series_id, stack_id) over its whole time range:
 * what a flame graph query covering the segment sums (per stack, over the series its matchers
 * accept), without decoding a row. Built once from the segment's rows, or from its kept stack
 * rows when it has them.
 */
export interface SegmentStackSums {
  /** profile type → series_id → the series' stack_ids (ascending) and their sums. */
  readonly byType: ReadonlyMap<string, ReadonlyMap<number, { stacks: Uint32Array; values: Float64Array }>>;
  readonly bytes: number;
}

/**
 * A segment's rows reduced to what a flame graph over part of its time range sums: per row its
 * stack_id and value, ordered like the table's points (series, then time), so the rows of a time
 * range are those of the points `seriesFromTable` would pick. Built once from the segment's rows.
 */
export interface SegmentStackRows {
  /** In the smallest exact types: a block's stacks and a row's sample count mostly fit 16 bits. */
  readonly stack: Uint16Array | Uint32Array;
  readonly value: Uint16Array | Uint32Array | Float64Array;
  /** Rows of point p: first[p] .. first[p + 1] - 1; undefined when every point is one row (row p). */
  readonly first?: Uint32Array;
  readonly bytes: number;
}

/** Label names a series query needs: its sum_by and matchers' names, or every one without sum_by. */
export function labelsNeeded(q: SeriesQuery): string[] | 'all' {
  return q.sumBy ? [...new Set([...q.sumBy, ...q.matchers.map((m) => m.name)])] : 'all';
}

function missingLabels(t: SeriesTable, need: string[] | 'all'): string[] | 'all' | undefined {
  const read = t.labelsRead;
  if (read === 'all') return undefined;
  if (need === 'all') return 'all';
  const missing = need.filter((n) => !read.has(n));
  return missing.length > 0 ? missing : undefined;
}

/** A series' object, its labels array and its share of the id maps. */
const SERIES_OVERHEAD_BYTES = 160;

const what = 'samples object';

/**
 * The profile type of each row: from the manifest when the segment holds one (the column is then
 * not read), else from the profile_type column.
 */
function profileTypeColumn(seg: SegmentMeta): { columns: string[]; reader: (batch: RecordBatch) => (i: number) => string } {
  if (seg.profileTypes.length === 1) {
    const only = seg.profileTypes[0];
    return { columns: [], reader: () => () => only };
  }
  return { columns: [SampleColumn.profileType], reader: (batch) => stringsOf(requireColumn(batch, SampleColumn.profileType, what)) };
}

/** A table over a decoded rollup: every label of every series is there at once. */
function tableOfRollup(r: SeriesRollup): SeriesTable {
  const ids = new Map<string, Map<number, number>>();
  const series = r.profileTypes.map((profileType, k): TableSeries => {
    let ofType = ids.get(profileType);
    if (!ofType) ids.set(profileType, (ofType = new Map()));
    ofType.set(r.seriesIds[k], k);
    return { profileType, labels: [...r.labels[k]].sort(byName) };
  });
  const bytes = r.bytes + series.length * SERIES_OVERHEAD_BYTES + series.reduce((b, t) => b + labelBytes(t.labels), 0);
  const { starts, tsOff, tsBase, value, rows, durationNs, durationEach } = r;
  return { series, starts, tsOff, tsBase, value, rows, durationNs, durationEach, bytes, labelsRead: 'all', ids, source: 'rollup' };
}

/**
 * The segment's series table from its series rollup (one GET, no row decoded). Undefined when the
 * segment has none (written before rollups); `{ error }` when it has one that cannot be read.
 */
async function readRollupTable(store: ObjectStore, seg: SegmentMeta): Promise<SeriesTable | { error: string } | undefined> {
  let bytes: Buffer;
  try {
    bytes = await store.get(segmentObjects(seg).series);
  } catch (err) {
    if (isFirnError(err, ErrorCode.NotFound)) return undefined;
    throw err;
  }
  try {
    return tableOfRollup(decodeSeriesRollup(bytes));
  } catch (err) {
    return { error: (err as Error).message };
  }
}

/**
 * Reads a segment's series table: from its series rollup when it has one, else from its rows
 * (series_id, timestamp, value, duration, profile_type when the segment holds several, and the
 * label columns `labels` names).
 */
export async function readSeriesTable(store: ObjectStore, seg: SegmentMeta, labels: string[] | 'all', signal?: AbortSignal): Promise<SeriesTable> {
  const rollup = await readRollupTable(store, seg);
  if (rollup && 'source' in rollup) return rollup;
  signal?.throwIfAborted();
  const table = await scanSeriesTable(store, seg, labels, signal);
  return rollup ? { ...table, rollupError: rollup.error } : table;
}

/** A segment's series table built from its rows. */
async function scanSeriesTable(store: ObjectStore, seg: SegmentMeta, labels: string[] | 'all', signal?: AbortSignal): Promise<SeriesTable> {
  // series_id names a label set; one label set may hold several profile types. A series here is
  // a (profile type, series_id) pair, numbered in order of first appearance.
  const ids = new Map<string, Map<number, number>>();
  const found: Array<{ profileType: string; labels: Label[] }> = [];
  const points = new SeriesPointsBuilder(Math.min(Number(seg.rows), 1 << 20));
  const types = profileTypeColumn(seg);
  let lastSid = -1;
  let lastType = '';
  let last = -1;
  await scanSegmentRows(
    store,
    seg,
    { matchers: [], startMs: -Infinity, endMs: Infinity },
    { columns: [SampleColumn.seriesId, SampleColumn.value, SampleColumn.timestamp, SampleColumn.duration, ...types.columns], labels },
    ({ batch, rows }) => {
      const series = requireColumn(batch, SampleColumn.seriesId, what).values as Uint32Array;
      const value = halves(requireColumn(batch, SampleColumn.value, what).values as BigInt64Array);
      const ts = halves(requireColumn(batch, SampleColumn.timestamp, what).values as BigInt64Array);
      const dur = halves(requireColumn(batch, SampleColumn.duration, what).values as BigInt64Array);
      const profileType = types.reader(batch);
      const readers = labelReaders(batch);
      for (const i of rows) {
        const sid = series[i];
        const type = profileType(i);
        if (sid !== lastSid || type !== lastType) {
          let ofType = ids.get(type);
          if (!ofType) ids.set(type, (ofType = new Map()));
          let id = ofType.get(sid);
          if (id === undefined) {
            id = found.push({ profileType: type, labels: rowLabels(readers, i) }) - 1;
            ofType.set(sid, id);
          }
          lastSid = sid;
          lastType = type;
          last = id;
        }
        points.add(last, int64At(ts, i), int64At(value, i), int64At(dur, i));
      }
    },
    signal,
  );
  const columns = points.finish(found.length);
  const series = found.map(({ profileType, labels: got }): TableSeries => ({ profileType, labels: got }));
  const bytes = columns.bytes + series.length * SERIES_OVERHEAD_BYTES + series.reduce((b, t) => b + labelBytes(t.labels), 0);
  return { series, ...columns, bytes, labelsRead: labels === 'all' ? 'all' : new Set(labels), ids, source: 'rows' };
}

function labelBytes(labels: readonly Label[]): number {
  let b = 0;
  for (const [name, v] of labels) b += 2 * (name.length + v.length) + 64;
  return b;
}

/**
 * Reads the label columns `names` into a table's series (series_id, and profile_type when the
 * segment holds several, plus those columns: no value or time column). Returns the bytes added.
 */
export async function readTableLabels(
  store: ObjectStore,
  seg: SegmentMeta,
  table: SeriesTable,
  names: string[] | 'all',
  signal?: AbortSignal,
): Promise<number> {
  const types = profileTypeColumn(seg);
  const done = new Uint8Array(table.series.length);
  const before = table.series.reduce((b, t) => b + labelBytes(t.labels), 0);
  const read = table.labelsRead;
  await scanSegmentRows(
    store,
    seg,
    { matchers: [], startMs: -Infinity, endMs: Infinity },
    { columns: [SampleColumn.seriesId, ...types.columns], labels: names },
    ({ batch, rows }) => {
      const series = requireColumn(batch, SampleColumn.seriesId, what).values as Uint32Array;
      const profileType = types.reader(batch);
      // Names already read stay as they are.
      const readers = labelReaders(batch).filter(([n]) => read === 'all' || !read.has(n));
      for (const i of rows) {
        const id = table.ids.get(profileType(i))?.get(series[i]);
        if (id === undefined || done[id] === 1) continue;
        done[id] = 1;
        const s = table.series[id];
        // Two queries may fill the same names at once: the second adds nothing.
        const more = rowLabels(readers, i).filter(([n]) => !s.labels.some(([m]) => m === n));
        if (more.length > 0) s.labels = [...s.labels, ...more].sort(byName);
      }
    },
    signal,
  );
  if (names === 'all') table.labelsRead = 'all';
  else if (read !== 'all') for (const n of names) read.add(n);
  const added = table.series.reduce((b, t) => b + labelBytes(t.labels), 0) - before;
  table.bytes += added;
  return added;
}

/** First index in [lo, hi) of `ts` (ascending there) holding a value ≥ t; hi when none. */
function lowerBound(ts: Int32Array | Float64Array, lo: number, hi: number, t: number): number {
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (ts[mid] < t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** sum_by values (in sum_by's order, undefined = label absent) → series key: one level per name. */
type KeyTrie = Map<string | undefined, KeyTrie | string>;

/**
 * The series key of `s` after sum_by. With sum_by, the key depends only on the values of its
 * labels, so a query computes it once per distinct combination (in `prepared.keys`, shared by all
 * of its tables) rather than once per series per table; without, it is remembered on the series.
 */
function keyOf(s: TableSeries, prepared: PreparedSeriesQuery): string {
  const { sumBy } = prepared;
  if (!sumBy) return (s.key ??= seriesKeyOf(s.labels));
  const { labels } = s;
  let node = prepared.keys;
  for (let i = 0; i < sumBy.length - 1; i++) {
    const v = labelValue(labels, sumBy[i]);
    let next = node.get(v) as KeyTrie | undefined;
    if (!next) node.set(v, (next = new Map()));
    node = next;
  }
  const last = sumBy.length === 0 ? undefined : labelValue(labels, sumBy[sumBy.length - 1]);
  let key = node.get(last) as string | undefined;
  if (key === undefined) node.set(last, (key = seriesKeyOf(labels.filter(([n]) => sumBy.includes(n)))));
  return key;
}

function labelValue(labels: readonly Label[], name: string): string | undefined {
  for (const [n, v] of labels) if (n === name) return v;
  return undefined;
}

/** Whether a series with these labels passes every matcher (an absent label reads as ''). */
function acceptsLabels(matchers: readonly CompiledMatcher[], labels: readonly Label[]): boolean {
  return matchers.every((m) => m.accepts(labelValue(labels, m.name) ?? ''));
}

/** What seriesFromTable derives from a query once, for all of its segments (regexes compiled once). */
export interface PreparedSeriesQuery {
  matchers: CompiledMatcher[];
  /** sum_by's names, distinct and sorted; undefined = keep every label. */
  sumBy?: readonly string[];
  /** Series keys by sum_by values, filled as the query's tables are read. */
  keys: KeyTrie;
}

export function prepareSeriesQuery(q: SeriesQuery): PreparedSeriesQuery {
  return { matchers: compileMatchers(q.matchers), sumBy: q.sumBy && [...new Set(q.sumBy)].sort(), keys: new Map() };
}

/**
 * The answer of scanSeries (same buckets, sums, row counts and durations) computed from a
 * segment's series table instead of its rows, added into `out` (a query's tables share one: no
 * per-table maps to merge afterwards).
 */
export function seriesFromTable(
  table: SeriesTable,
  q: SeriesQuery,
  prepared: PreparedSeriesQuery = prepareSeriesQuery(q),
  out: SeriesBuckets = new Map(),
): SeriesBuckets {
  const { matchers } = prepared;
  const { startMs, endMs, stepMs } = q;
  const { series, starts, tsOff, tsBase, value, rows, durationNs, durationEach } = table;
  for (let k = 0; k < series.length; k++) {
    const s = series[k];
    if (s.profileType !== q.profileType) continue;
    if (!acceptsLabels(matchers, s.labels)) continue;
    let i = lowerBound(tsOff, starts[k], starts[k + 1], startMs - tsBase);
    const to = lowerBound(tsOff, i, starts[k + 1], endMs - tsBase);
    if (i >= to) continue;
    const key = keyOf(s, prepared);
    let points = out.get(key);
    if (!points) out.set(key, (points = new Map()));
    const each = durationEach[k];
    // One bucket at a time: sum its points in locals, then touch the map once.
    while (i < to) {
      const bucket = startMs + Math.floor((tsBase + tsOff[i] - startMs) / stepMs) * stepMs;
      const next = bucket + stepMs - tsBase;
      const from = i;
      let v = 0;
      for (; i < to && tsOff[i] < next; i++) v += value[i];
      let c = i - from;
      if (rows) {
        c = 0;
        for (let j = from; j < i; j++) c += rows[j];
      }
      let d = (i - from) * each;
      if (Number.isNaN(each) && durationNs) {
        d = 0;
        for (let j = from; j < i; j++) d += durationNs[j];
      }
      const p = points.get(bucket);
      if (p) {
        p.value += v;
        p.count += c;
        p.durationNs += d;
      } else {
        points.set(bucket, { value: v, count: c, durationNs: d });
      }
    }
  }
  return out;
}

/** Per (series, stack) cell: a stack_id and a sum, plus a share of its series' arrays. */
const STACK_SUM_BYTES = 12;

/** Growable columns of (profile type index, series_id, stack_id, value) rows. */
class CellRows {
  n = 0;
  type = new Uint16Array(1024);
  series = new Uint32Array(1024);
  stack = new Uint32Array(1024);
  value = new Float64Array(1024);

  push(t: number, sid: number, st: number, v: number): void {
    if (this.n === this.series.length) {
      const cap = this.n * 2;
      const type = new Uint16Array(cap);
      const series = new Uint32Array(cap);
      const stack = new Uint32Array(cap);
      const value = new Float64Array(cap);
      type.set(this.type);
      series.set(this.series);
      stack.set(this.stack);
      value.set(this.value);
      Object.assign(this, { type, series, stack, value });
    }
    this.type[this.n] = t;
    this.series[this.n] = sid;
    this.stack[this.n] = st;
    this.value[this.n] = v;
    this.n++;
  }
}

/**
 * Reads stack_id, value, series_id (and profile_type when the segment holds several) of every row
 * and sums them per (profile type, series, stack) with typed arrays only: rows are bucketed by
 * (profile type, series) with a counting sort, then each bucket is summed into a dense scratch
 * array indexed by stack_id.
 */
async function readStackSums(store: ObjectStore, seg: SegmentMeta, signal?: AbortSignal): Promise<SegmentStackSums | null> {
  const pt = profileTypeColumn(seg);
  const types: string[] = [];
  const typeIdx = new Map<string, number>();
  const rows = new CellRows();
  let maxSeries = 0;
  let maxStack = 0;
  await scanSegmentRows(
    store,
    seg,
    { matchers: [], startMs: -Infinity, endMs: Infinity },
    { columns: [SampleColumn.stackId, SampleColumn.value, SampleColumn.seriesId, ...pt.columns] },
    ({ batch, rows: selected }) => {
      const stack = requireColumn(batch, SampleColumn.stackId, what).values as Uint32Array;
      const series = requireColumn(batch, SampleColumn.seriesId, what).values as Uint32Array;
      const value = halves(requireColumn(batch, SampleColumn.value, what).values as BigInt64Array);
      const typeOf = pt.reader(batch);
      let last: string | undefined;
      let t = 0;
      for (const i of selected) {
        const name = typeOf(i);
        if (name !== last) {
          last = name;
          let k = typeIdx.get(name);
          if (k === undefined) typeIdx.set(name, (k = types.push(name) - 1));
          t = k;
        }
        if (series[i] > maxSeries) maxSeries = series[i];
        if (stack[i] > maxStack) maxStack = stack[i];
        rows.push(t, series[i], stack[i], int64At(value, i));
      }
    },
    signal,
  );
  const n = rows.n;
  if (sparseIds(maxSeries, maxStack, n)) return null;
  const span = maxSeries + 1;
  // Counting sort of the rows by group = type × span + series.
  const groups = types.length * span;
  const start = new Uint32Array(groups + 1);
  for (let r = 0; r < n; r++) start[rows.type[r] * span + rows.series[r] + 1]++;
  for (let g = 0; g < groups; g++) start[g + 1] += start[g];
  const order = new Uint32Array(n);
  const next = start.slice(0, groups);
  for (let r = 0; r < n; r++) order[next[rows.type[r] * span + rows.series[r]]++] = r;
  const sums = new StackSumsBuilder(maxStack);
  for (let g = 0; g < groups; g++) {
    if (start[g] < start[g + 1]) sums.add(types[Math.floor(g / span)], g % span, rows.stack, rows.value, start[g], start[g + 1], order);
  }
  return sums.done();
}

/**
 * Firn writes series_id and stack_id densely (indexes into the segment's series and stacks); a
 * segment with sparse ids gets no stack sums (its dense scratch would be too large), and its
 * queries scan rows as before.
 */
function sparseIds(maxSeries: number, maxStack: number, rows: number): boolean {
  return maxSeries > 4 * rows + 1024 || maxStack > 4 * rows + 1024;
}

/** Builds a SegmentStackSums one (profile type, series) at a time, through one dense scratch. */
class StackSumsBuilder {
  private readonly scratch: Float64Array;
  private readonly seen: Uint8Array;
  private readonly touched: Uint32Array;
  private readonly byType = new Map<string, Map<number, { stacks: Uint32Array; values: Float64Array }>>();
  private bytes = 0;

  constructor(maxStack: number) {
    this.scratch = new Float64Array(maxStack + 1);
    this.seen = new Uint8Array(maxStack + 1);
    this.touched = new Uint32Array(maxStack + 1);
  }

  /**
   * The series' cells: value[r] summed per stack[r] for the rows r = at[j] (or j without `at`),
   * j in [from, to), kept as the stacks touched (ascending) and their sums.
   */
  add(type: string, sid: number, stack: ArrayLike<number>, value: ArrayLike<number>, from: number, to: number, at?: Uint32Array): void {
    const { scratch, seen, touched } = this;
    let k = 0;
    for (let j = from; j < to; j++) {
      const r = at ? at[j] : j;
      const st = stack[r];
      if (seen[st] === 0) {
        seen[st] = 1;
        touched[k++] = st;
      }
      scratch[st] += value[r];
    }
    const stacks = touched.slice(0, k).sort();
    const values = new Float64Array(k);
    for (let j = 0; j < k; j++) {
      values[j] = scratch[stacks[j]];
      scratch[stacks[j]] = 0;
      seen[stacks[j]] = 0;
    }
    let perSeries = this.byType.get(type);
    if (!perSeries) this.byType.set(type, (perSeries = new Map()));
    perSeries.set(sid, { stacks, values });
    this.bytes += k * STACK_SUM_BYTES + SERIES_OVERHEAD_BYTES;
  }

  done(): SegmentStackSums {
    return { byType: this.byType, bytes: this.bytes };
  }
}

/**
 * The segment's stack sums added up from its kept stack rows, with no object read: the rows of
 * series k are those of its points, so each series' rows are summed per stack_id as
 * readStackSums sums them (the same result, the same null for sparse ids).
 */
function stackSumsFromRows(table: SeriesTable, rows: SegmentStackRows): SegmentStackSums | null {
  const { starts } = table;
  const { stack, value, first } = rows;
  let maxSeries = 0;
  let maxStack = 0;
  for (const ids of table.ids.values()) for (const sid of ids.keys()) if (sid > maxSeries) maxSeries = sid;
  for (const st of stack) if (st > maxStack) maxStack = st;
  if (sparseIds(maxSeries, maxStack, stack.length)) return null;
  const sums = new StackSumsBuilder(maxStack);
  for (const [type, ids] of table.ids) {
    for (const [sid, k] of ids) {
      const from = first ? first[starts[k]] : starts[k];
      const to = first ? first[starts[k + 1]] : starts[k + 1];
      if (from < to) sums.add(type, sid, stack, value, from, to);
    }
  }
  return sums.done();
}

/**
 * What sumSegment answers for an ungrouped query without span ids covering the whole segment,
 * from its stack sums: the sums of the series of `profileType` whose labels `matchers` accept.
 */
export function segmentSumsOf(table: SeriesTable, sums: SegmentStackSums, profileType: string, matchers: readonly CompiledMatcher[]): SegmentSums {
  const ofType = sums.byType.get(profileType);
  const ids = table.ids.get(profileType);
  const dense = new DenseSums();
  if (ofType && ids) {
    for (const [sid, k] of ids) {
      const labels = table.series[k].labels;
      if (!acceptsLabels(matchers, labels)) continue;
      const cells = ofType.get(sid);
      if (!cells) continue;
      for (let j = 0; j < cells.stacks.length; j++) dense.add(cells.stacks[j], cells.values[j]);
    }
  }
  return dense.toSegmentSums();
}

/** Per row, at most: a stack_id, a value, and a share of its point's row offset. */
const STACK_ROW_BYTES = 12;

/**
 * Reads stack_id, value, series_id and timestamp (and profile_type when the segment holds several)
 * of every row and places each among the rows of its point in `table`. Null when a row has no
 * point there, or the points' row counts do not add up to the rows read (a rollup that disagrees
 * with its segment): such a segment's queries scan rows.
 */
async function readStackRows(store: ObjectStore, seg: SegmentMeta, table: SeriesTable, signal?: AbortSignal): Promise<SegmentStackRows | null> {
  const { starts, tsOff, tsBase, rows: perPoint } = table;
  const points = tsOff.length;
  let first: Uint32Array | undefined;
  if (perPoint) {
    first = new Uint32Array(points + 1);
    for (let p = 0; p < points; p++) first[p + 1] = first[p] + perPoint[p];
  }
  const total = first ? first[points] : points;
  const placed = new Uint32Array(points);
  const stack = new Uint32Array(total);
  const value = new Float64Array(total);
  const pt = profileTypeColumn(seg);
  let fits = true;
  let lastType: string | undefined;
  let ofType: ReadonlyMap<number, number> | undefined;
  let lastSid = -1;
  let k = -1;
  let p = -1;
  await scanSegmentRows(
    store,
    seg,
    { matchers: [], startMs: -Infinity, endMs: Infinity },
    { columns: [SampleColumn.stackId, SampleColumn.value, SampleColumn.seriesId, SampleColumn.timestamp, ...pt.columns] },
    ({ batch, rows: selected }) => {
      if (!fits) return;
      const stacks = requireColumn(batch, SampleColumn.stackId, what).values as Uint32Array;
      const series = requireColumn(batch, SampleColumn.seriesId, what).values as Uint32Array;
      const values = halves(requireColumn(batch, SampleColumn.value, what).values as BigInt64Array);
      const ts = halves(requireColumn(batch, SampleColumn.timestamp, what).values as BigInt64Array);
      const typeOf = pt.reader(batch);
      for (const i of selected) {
        const type = typeOf(i);
        if (type !== lastType || series[i] !== lastSid) {
          if (type !== lastType) ofType = table.ids.get(type);
          lastType = type;
          lastSid = series[i];
          k = ofType?.get(lastSid) ?? -1;
          p = -1;
        }
        if (k < 0) return void (fits = false);
        const t = int64At(ts, i) - tsBase;
        // Rows of a series come in time order (flushes) or in runs of time order (blocks, by stack).
        if (p < 0 || tsOff[p] !== t) p = p >= 0 && p + 1 < starts[k + 1] && tsOff[p + 1] === t ? p + 1 : lowerBound(tsOff, starts[k], starts[k + 1], t);
        if (p >= starts[k + 1] || tsOff[p] !== t) return void (fits = false);
        const at = first ? first[p] + placed[p] : p + placed[p];
        if (at >= (first ? first[p + 1] : p + 1)) return void (fits = false);
        placed[p]++;
        stack[at] = stacks[i];
        value[at] = int64At(values, i);
      }
    },
    signal,
  );
  if (!fits) return null;
  for (let q = 0; q < points; q++) if (placed[q] !== (perPoint ? perPoint[q] : 1)) return null;
  const stacks = stack.every((v) => v < 2 ** 16) ? Uint16Array.from(stack) : stack;
  const values = smallestExact(value);
  return { stack: stacks, value: values, first, bytes: stacks.byteLength + values.byteLength + (first?.byteLength ?? 0) };
}

/** `v` in Uint16 or Uint32 when every value is an integer that fits, else as it is. */
function smallestExact(v: Float64Array): Uint16Array | Uint32Array | Float64Array {
  let max = 0;
  for (const x of v) {
    if (!Number.isInteger(x) || x < 0) return v;
    if (x > max) max = x;
  }
  return max < 2 ** 16 ? Uint16Array.from(v) : max < 2 ** 32 ? Uint32Array.from(v) : v;
}

/**
 * What sumSegment answers for an ungrouped query without span ids over [startMs, endMs), from a
 * segment's stack rows: the rows in range of the series of `profileType` whose labels `matchers` accept.
 */
export function rangeSumsOf(
  table: SeriesTable,
  rows: SegmentStackRows,
  profileType: string,
  matchers: readonly CompiledMatcher[],
  startMs: number,
  endMs: number,
): SegmentSums {
  const { series, starts, tsOff, tsBase } = table;
  const { stack, value, first } = rows;
  const dense = new DenseSums();
  for (let k = 0; k < series.length; k++) {
    const s = series[k];
    if (s.profileType !== profileType || !acceptsLabels(matchers, s.labels)) continue;
    const from = lowerBound(tsOff, starts[k], starts[k + 1], startMs - tsBase);
    const to = lowerBound(tsOff, from, starts[k + 1], endMs - tsBase);
    const end = first ? first[to] : to;
    for (let r = first ? first[from] : from; r < end; r++) dense.add(stack[r], value[r]);
  }
  return dense.toSegmentSums();
}

/** Bytes a new table is expected to take per stored row (Int32 time, Uint32 value, spare). */
const EXPECTED_BYTES_PER_ROW = 10;
/** Entries used more recently than this are not evicted to make room: see SeriesTableCache. */
export const DEFAULT_SERIES_TABLE_PROTECT_MS = 60_000;

/** What a cached table may carry besides its points, each read from the segment's rows on demand. */
interface KeptWithTable {
  stackSums: SegmentStackSums;
  stackRows: SegmentStackRows;
}

/** Bytes reserved per stored row before reading each (what a dense segment takes). */
const KEPT_BYTES_PER_ROW: Record<keyof KeptWithTable, number> = { stackSums: STACK_SUM_BYTES, stackRows: STACK_ROW_BYTES };

interface Entry {
  table: SeriesTable;
  usedAt: number;
}

/**
 * When a query builds a segment's stack sums or rows it finds missing: 'always' (a query over
 * every series, which reads every row anyway), or 'again', the second time any query asks for
 * them (a label-filtered one reads only its own rows the first time: a segment queried once
 * is not worth a full read, one queried again likely will be again, such as a dashboard's).
 */
interface KeptOptions {
  build: 'always' | 'again';
  signal?: AbortSignal;
}

/** Segments remembered as asked for once (the set is cleared when full: a few extra scans, no more). */
const MAX_ASKED = 65_536;

/**
 * Series tables of recently queried segments, bounded by bytes. Keyed by the segment's samples
 * object key, which starts with its tenant's prefix, so tenants never share an entry; segments are
 * immutable, so an entry never goes stale.
 *
 * Room for a new table is made by dropping the least recently used entries, but only those unused
 * for `protectMs`: a query over more segments than fit would otherwise evict its own first tables
 * while reading its last ones, and every refresh of it would miss everything (the LRU scan
 * problem). Instead it keeps what fits and scans the rest (`table` returns undefined: building a
 * table costs more than scanning rows once, so one that cannot be kept is not built).
 */
export class SeriesTableCache {
  private readonly entries = new Map<string, Entry>();
  private readonly reading = new Map<string, Promise<SeriesTable>>();
  /** Stack sums and stack rows being read, by `${field} ${samples key}`. */
  private readonly building = new Map<string, Promise<SegmentStackSums | SegmentStackRows | null>>();
  /** `${field} ${samples key}` of what a label-filtered query asked for once and did not build. */
  private readonly asked = new Set<string>();
  private held = 0;
  hits = 0;
  misses = 0;
  /** Tables read from a segment's rollup, and built from its rows. */
  fromRollup = 0;
  fromRows = 0;
  /** Rollups that exist but could not be read (their segment's rows were used). */
  rollupErrors = 0;

  constructor(
    readonly maxBytes: number,
    private readonly protectMs = DEFAULT_SERIES_TABLE_PROTECT_MS,
    private readonly now: () => number = Date.now,
  ) {}

  get bytes(): number {
    return this.held;
  }

  get size(): number {
    return this.entries.size;
  }

  /**
   * The segment's table with at least the labels `q` needs: read (and kept) when not cached; a
   * cached table missing some label columns reads just those. Queries that miss the same segment
   * at once (a dashboard's panels) share one read. Undefined when a new table would not fit:
   * the caller scans rows.
   */
  async table(store: ObjectStore, seg: SegmentMeta, q: SeriesQuery, signal?: AbortSignal): Promise<SeriesTable | undefined> {
    const key = segmentObjects(seg).samples;
    const need = labelsNeeded(q);
    const hit = this.entries.get(key);
    let table: SeriesTable | undefined;
    if (hit) {
      this.entries.delete(key);
      hit.usedAt = this.now();
      this.entries.set(key, hit);
      this.hits++;
      table = hit.table;
    } else {
      table = await this.read(key, store, seg, need, signal);
      if (!table) return undefined;
    }
    const missing = missingLabels(table, need);
    if (missing) {
      const added = await readTableLabels(store, seg, table, missing, signal);
      if (this.entries.get(key)?.table === table) this.held += added;
    }
    return table;
  }

  /**
   * Reads the segment's table into the cache ahead of any query (a querier's start): 'cached'
   * when it is there already, 'full' when it would not fit beside what the cache holds. A
   * preloaded table never evicts another, and until a query uses it, it is the first to go when
   * a query's table needs room. Only labels a rollup brings are read: a table built from rows
   * gets its label columns when a query needs them.
   */
  async preload(store: ObjectStore, seg: SegmentMeta, signal?: AbortSignal): Promise<'read' | 'cached' | 'full'> {
    const key = segmentObjects(seg).samples;
    if (this.entries.has(key) || this.reading.has(key)) return 'cached';
    if (this.held + Number(seg.rows) * EXPECTED_BYTES_PER_ROW > this.maxBytes) return 'full';
    const reading = readSeriesTable(store, seg, [], signal);
    this.reading.set(key, reading);
    try {
      const t = await reading;
      this.count(t);
      if (this.entries.has(key)) return 'cached';
      if (this.held + t.bytes > this.maxBytes) return 'full';
      // Idle since the epoch: evictable at once, as no query has used it yet.
      this.entries.set(key, { table: t, usedAt: 0 });
      this.held += t.bytes;
      return 'read';
    } finally {
      if (this.reading.get(key) === reading) this.reading.delete(key);
    }
  }

  /**
   * The segment's table (with the labels `q`'s matchers name) and its stack sums, read from the
   * segment's rows once (or added up from its kept stack rows) and kept with the table, counted
   * in its bytes. Undefined when the table or its sums would not fit, or `opts.build` says not
   * yet: the caller scans rows. Queries that miss the same sums at once share one read.
   */
  async stackSums(
    store: ObjectStore,
    seg: SegmentMeta,
    q: SeriesQuery,
    opts: KeptOptions,
  ): Promise<{ table: SeriesTable; sums: SegmentStackSums } | undefined> {
    const got = await this.withKept('stackSums', store, seg, q, opts);
    return got && { table: got.table, sums: got.kept };
  }

  /** The same for the segment's stack rows (what a range cutting the segment sums). */
  async stackRows(
    store: ObjectStore,
    seg: SegmentMeta,
    q: SeriesQuery,
    opts: KeptOptions,
  ): Promise<{ table: SeriesTable; rows: SegmentStackRows } | undefined> {
    const got = await this.withKept('stackRows', store, seg, q, opts);
    return got && { table: got.table, rows: got.kept };
  }

  private async withKept<F extends keyof KeptWithTable>(
    field: F,
    store: ObjectStore,
    seg: SegmentMeta,
    q: SeriesQuery,
    opts: KeptOptions,
  ): Promise<{ table: SeriesTable; kept: KeptWithTable[F] } | undefined> {
    const key = segmentObjects(seg).samples;
    const cached = this.entries.get(key)?.table;
    if (!cached?.[field] && opts.build === 'again' && !this.askedBefore(`${field} ${key}`)) return undefined;
    const table = await this.table(store, seg, q, opts.signal);
    if (!table || this.entries.get(key)?.table !== table) return undefined;
    const have = table[field] as KeptWithTable[F] | null | undefined;
    if (have !== undefined) return have ? { table, kept: have } : undefined;
    // Building costs more than a row scan: only when they are likely to be kept.
    if (!this.makeRoom(Number(seg.rows) * KEPT_BYTES_PER_ROW[field])) return undefined;
    const kept = await this.build(field, key, store, seg, table, (bytes) => this.makeRoom(bytes), opts.signal);
    return kept ? { table, kept } : undefined;
  }

  /** Whether `id` was asked for before (since the set was last cleared); remembers it if not. */
  private askedBefore(id: string): boolean {
    if (this.asked.has(id)) return true;
    if (this.asked.size >= MAX_ASKED) this.asked.clear();
    this.asked.add(id);
    return false;
  }

  /**
   * Before ready, with preload: the stack sums of a preloaded segment's table (not marking it
   * used), so the first flame graph over recent data decodes no row. 'full' when they would
   * not fit; 'none' when the segment has no table in the cache (or no dense ids).
   */
  async preloadStackSums(store: ObjectStore, seg: SegmentMeta, signal?: AbortSignal): Promise<'read' | 'cached' | 'full' | 'none'> {
    const key = segmentObjects(seg).samples;
    const table = this.entries.get(key)?.table;
    if (!table) return 'none';
    if (table.stackSums !== undefined) return table.stackSums ? 'cached' : 'none';
    const fits = (bytes: number): boolean => this.held + bytes <= this.maxBytes;
    if (!fits(Number(seg.rows) * STACK_SUM_BYTES)) return 'full';
    const sums = await this.build('stackSums', key, store, seg, table, fits, signal);
    if (!sums) return 'none';
    return table.stackSums === sums ? 'read' : 'full';
  }

  /**
   * Reads a table's stack sums or stack rows and keeps them with it if `room(bytes)` says they
   * fit (a query may evict idle tables for them, a preload may not); unkept ones still answer the
   * caller.
   */
  private async build<F extends keyof KeptWithTable>(
    field: F,
    key: string,
    store: ObjectStore,
    seg: SegmentMeta,
    table: SeriesTable,
    room: (bytes: number) => boolean,
    signal?: AbortSignal,
  ): Promise<KeptWithTable[F] | null> {
    const id = `${field} ${key}`;
    const shared = this.building.get(id) as Promise<KeptWithTable[F] | null> | undefined;
    // The reader's own query may be cancelled: then read for this one.
    const done = shared && (await shared.catch(() => undefined));
    if (done !== undefined) return done;
    // Stack sums add up from kept stack rows without a read.
    const rows = field === 'stackSums' ? table.stackRows : undefined;
    const reading = (
      field === 'stackRows'
        ? readStackRows(store, seg, table, signal)
        : rows
          ? Promise.resolve(stackSumsFromRows(table, rows))
          : readStackSums(store, seg, signal)
    ) as Promise<KeptWithTable[F] | null>;
    this.building.set(id, reading);
    try {
      const kept = await reading;
      if (this.entries.get(key)?.table === table && table[field] === undefined && (kept === null || room(kept.bytes))) {
        Object.assign(table, { [field]: kept });
        const added = kept?.bytes ?? 0;
        table.bytes += added;
        this.held += added;
      }
      return kept;
    } finally {
      if (this.building.get(id) === reading) this.building.delete(id);
    }
  }

  /** The cached table of a segment, if any, without counting a hit or marking it used. */
  peek(seg: SegmentMeta): SeriesTable | undefined {
    return this.entries.get(segmentObjects(seg).samples)?.table;
  }

  private count(t: SeriesTable): void {
    if (t.source === 'rollup') this.fromRollup++;
    else this.fromRows++;
    if (t.rollupError) this.rollupErrors++;
  }

  private async read(key: string, store: ObjectStore, seg: SegmentMeta, need: string[] | 'all', signal?: AbortSignal): Promise<SeriesTable | undefined> {
    const shared = this.reading.get(key);
    if (shared) {
      // The reader's own query may be cancelled: then read for this one.
      const t = await shared.catch(() => undefined);
      if (t) return t;
    }
    this.misses++;
    if (!this.makeRoom(Number(seg.rows) * EXPECTED_BYTES_PER_ROW)) {
      // No room to keep it: a rollup still answers for less than a row scan; rows are scanned
      // by the caller without building a table.
      const t = await readRollupTable(store, seg);
      if (t && 'source' in t) {
        this.fromRollup++;
        return t;
      }
      if (t) this.rollupErrors++;
      return undefined;
    }
    const reading = readSeriesTable(store, seg, need, signal);
    this.reading.set(key, reading);
    try {
      const t = await reading;
      this.count(t);
      if (!this.entries.has(key) && this.makeRoom(t.bytes)) {
        this.entries.set(key, { table: t, usedAt: this.now() });
        this.held += t.bytes;
      }
      return t;
    } finally {
      if (this.reading.get(key) === reading) this.reading.delete(key);
    }
  }

  /**
   * Whether `bytes` more fit, after dropping least recently used entries idle for protectMs
   * (preloaded ones, never used, count as idle wherever they are in the order).
   */
  private makeRoom(bytes: number): boolean {
    if (bytes > this.maxBytes) return false;
    const idleBefore = this.now() - this.protectMs;
    for (const [k, e] of this.entries) {
      if (this.held + bytes <= this.maxBytes) break;
      if (e.usedAt > idleBefore) continue;
      this.entries.delete(k);
      this.held -= e.table.bytes;
    }
    return this.held + bytes <= this.maxBytes;
  }
}

import { Field, Float64, Int32, List, makeData, tableFromIPC, tableToIPC, Uint16, Uint32, type Data, type RecordBatch, type Table } from 'apache-arrow';
import { gunzipSync, gzipSync } from 'node:zlib';
import { FirnError } from '@firn/errors';
import type { Label } from '@firn/profiles';
import { column, dictionaryData, tableOf, uint32Data } from './arrow-data';
import { compareStrings } from './label-order';
import type { MergedRows } from './merge-batches';
import { labelColumnName, labelNameOfColumn, SCHEMA_METADATA_KEY } from './segment-schema';

/**
 * A segment's series rollup (`series.arrow.gz`, next to its Parquet objects): its samples summed per
 * (profile type, series, timestamp), with each series' labels. It holds everything a series query
 * (QueryRange, SelectSeries) reads, so a querier answers one from this small object instead of
 * decoding every row of samples.parquet. Written with the segment (buildSegment); a segment
 * written before rollups existed has none, and readers fall back to its rows.
 *
 * Layout: gzip-compressed Arrow IPC file, one row per series in (profile type, series_id) order: `profile_type`,
 * `series_id`, `labels.<name>` (dictionary strings, null = absent), and its points as list
 * columns sharing one offsets array: `ts` (ms after the schema's `firn.ts_base`), `value`,
 * `rows` (rows summed into the point, only when some point sums several) and `duration`
 * (only when some series' durations vary; else `duration_each` holds its one duration).
 */
export const SERIES_ROLLUP_SCHEMA_ID = 'firn.series.v1';
const TS_BASE_METADATA_KEY = 'firn.ts_base';
/** Uncompressed size a reader accepts (a rollup is ≈ 10 bytes per row; segments hold far fewer than 50 M rows). */
const MAX_ROLLUP_BYTES = 512 * 2 ** 20;

export const SeriesRollupColumn = {
  profileType: 'profile_type',
  seriesId: 'series_id',
  ts: 'ts',
  value: 'value',
  rows: 'rows',
  duration: 'duration',
  durationEach: 'duration_each',
} as const;

/** A segment's points per (profile type, series), in flat columns of the smallest exact types. */
export interface SeriesPoints {
  /** Series k owns points starts[k] .. starts[k + 1] - 1, in time order. */
  starts: Uint32Array;
  /** Timestamps as ms after `tsBase`. */
  tsOff: Int32Array | Float64Array;
  tsBase: number;
  /** Σ value of the rows at the timestamp (Uint32 when every sum fits). */
  value: Uint32Array | Float64Array;
  /** Rows (one per stack) at the timestamp; undefined when every point is one row. */
  rows?: Uint16Array | Uint32Array;
  /** Duration of the profile at the timestamp (its first row's)... */
  durationNs?: Float64Array;
  /** ...or, where durationEach[k] is not NaN, the one duration of every point of series k. */
  durationEach: Float64Array;
  /** Bytes of the columns above. */
  bytes: number;
}

export interface SeriesRollup extends SeriesPoints {
  /** Per series. */
  profileTypes: string[];
  seriesIds: Uint32Array;
  /** Per series: its labels with a value, sorted by name. */
  labels: Label[][];
}

/**
 * Points as rows arrive, in flat columns (one allocation per segment, not per series): a row at
 * the same (series, timestamp) as the point before adds to it, any other row appends a point. Rows
 * usually come grouped by series and in time order; otherwise `finish` sorts them.
 */
export class SeriesPointsBuilder {
  private n = 0;
  private series: Uint32Array;
  private ts: Float64Array;
  private value: Float64Array;
  private rows: Uint32Array;
  private dur: Float64Array;
  /** False once a point arrived out of (series, timestamp) order. */
  private ordered = true;

  constructor(capacity: number) {
    const cap = Math.max(16, capacity);
    this.series = new Uint32Array(cap);
    this.ts = new Float64Array(cap);
    this.value = new Float64Array(cap);
    this.rows = new Uint32Array(cap);
    this.dur = new Float64Array(cap);
  }

  add(series: number, t: number, v: number, durationNs: number): void {
    const n = this.n;
    if (n > 0 && this.series[n - 1] === series) {
      const last = this.ts[n - 1];
      if (last === t) {
        this.value[n - 1] += v;
        this.rows[n - 1]++;
        return;
      }
      if (t < last) this.ordered = false;
    } else if (n > 0 && series < this.series[n - 1]) {
      this.ordered = false;
    }
    if (n === this.ts.length) this.grow();
    this.series[n] = series;
    this.ts[n] = t;
    this.value[n] = v;
    this.rows[n] = 1;
    this.dur[n] = durationNs;
    this.n = n + 1;
  }

  /**
   * The points ordered by (series, timestamp) with equal ones merged (duration: the first row's),
   * in the smallest exact column types.
   */
  finish(seriesCount: number): SeriesPoints {
    let { n, series, ts, value, rows, dur } = this;
    if (!this.ordered) {
      // A stable order keeps, among equal (series, timestamp), the row that came first.
      const order = Array.from({ length: n }, (_, k) => k).sort((a, b) => series[a] - series[b] || ts[a] - ts[b] || a - b);
      const s2 = new Uint32Array(n);
      const t2 = new Float64Array(n);
      const v2 = new Float64Array(n);
      const r2 = new Uint32Array(n);
      const d2 = new Float64Array(n);
      let m = 0;
      for (const k of order) {
        if (m > 0 && s2[m - 1] === series[k] && t2[m - 1] === ts[k]) {
          v2[m - 1] += value[k];
          r2[m - 1] += rows[k];
          continue;
        }
        s2[m] = series[k];
        t2[m] = ts[k];
        v2[m] = value[k];
        r2[m] = rows[k];
        d2[m] = dur[k];
        m++;
      }
      [n, series, ts, value, rows, dur] = [m, s2, t2, v2, r2, d2];
    }
    const starts = new Uint32Array(seriesCount + 1);
    for (let k = 0; k < n; k++) starts[series[k] + 1]++;
    for (let k = 0; k < seriesCount; k++) starts[k + 1] += starts[k];
    // compactPoints copies what it keeps: views are enough here.
    return compactPoints({ ts: ts.subarray(0, n), value: value.subarray(0, n), rows: rows.subarray(0, n), dur: dur.subarray(0, n), starts });
  }

  private grow(): void {
    const cap = this.ts.length * 2;
    const more = <T extends Float64Array | Uint32Array>(a: T, b: T): T => (b.set(a), b);
    this.series = more(this.series, new Uint32Array(cap));
    this.ts = more(this.ts, new Float64Array(cap));
    this.value = more(this.value, new Float64Array(cap));
    this.rows = more(this.rows, new Uint32Array(cap));
    this.dur = more(this.dur, new Float64Array(cap));
  }
}

const UINT32_LIMIT = 2 ** 32;

/** Finished points in the smallest exact column types (`starts` is kept, the rest copied). */
function compactPoints(p: { ts: Float64Array; value: Float64Array; rows: Uint32Array; dur: Float64Array; starts: Uint32Array }): SeriesPoints {
  const n = p.ts.length;
  let minTs = Infinity;
  let maxTs = -Infinity;
  let valuesFit = true;
  let maxRows = 0;
  for (let k = 0; k < n; k++) {
    const t = p.ts[k];
    if (t < minTs) minTs = t;
    if (t > maxTs) maxTs = t;
    const v = p.value[k];
    if (valuesFit && !(v >= 0 && v < UINT32_LIMIT && Number.isInteger(v))) valuesFit = false;
    if (p.rows[k] > maxRows) maxRows = p.rows[k];
  }
  const tsBase = n > 0 ? minTs : 0;
  const tsOff = n === 0 || maxTs - tsBase < 2 ** 31 ? new Int32Array(n) : new Float64Array(n);
  for (let k = 0; k < n; k++) tsOff[k] = p.ts[k] - tsBase;
  const value = valuesFit ? Uint32Array.from(p.value) : p.value.slice();
  const rows = maxRows <= 1 ? undefined : maxRows < 65_536 ? Uint16Array.from(p.rows) : p.rows.slice();
  // Durations: one number per series when constant (an agent's window), else the column.
  const seriesCount = p.starts.length - 1;
  const durationEach = new Float64Array(seriesCount);
  let varies = false;
  for (let s = 0; s < seriesCount; s++) {
    const [from, to] = [p.starts[s], p.starts[s + 1]];
    const d = from < to ? p.dur[from] : 0;
    durationEach[s] = d;
    for (let k = from + 1; k < to; k++) {
      if (p.dur[k] !== d) {
        durationEach[s] = Number.NaN;
        varies = true;
        break;
      }
    }
  }
  const durationNs = varies ? p.dur.slice() : undefined;
  const columns = { starts: p.starts, tsOff, tsBase, value, rows, durationNs, durationEach };
  return { ...columns, bytes: pointsBytes(columns) };
}

function pointsBytes(p: Omit<SeriesPoints, 'bytes' | 'tsBase'>): number {
  return (
    p.tsOff.byteLength + p.value.byteLength + (p.rows?.byteLength ?? 0) + (p.durationNs?.byteLength ?? 0) + p.durationEach.byteLength + p.starts.byteLength
  );
}

/**
 * Rows `from .. to - 1` (one series) in (timestamp, row) order. Sorts packed keys natively when
 * (time span × rows) fits a double exactly, which is every real segment; else by comparison.
 */
function timeOrder(ts: Float64Array, from: number, to: number): Uint32Array {
  const n = to - from;
  const order = new Uint32Array(n);
  let min = Infinity;
  let max = -Infinity;
  for (let i = from; i < to; i++) {
    if (ts[i] < min) min = ts[i];
    if (ts[i] > max) max = ts[i];
  }
  if ((max - min + 1) * n < Number.MAX_SAFE_INTEGER) {
    const keys = new Float64Array(n);
    for (let i = 0; i < n; i++) keys[i] = (ts[from + i] - min) * n + i;
    keys.sort();
    for (let i = 0; i < n; i++) order[i] = keys[i] % n;
    return order;
  }
  const idx = Array.from({ length: n }, (_, i) => i).sort((a, b) => ts[from + a] - ts[from + b] || a - b);
  order.set(idx);
  return order;
}

/**
 * The rollup of a flush's or merge's rows. buildSegment sorts them by profile type and series, so
 * each series is one run of rows; a series seen again later still gets one entry (its points are
 * then sorted once at the end).
 */
export function seriesRollupOf(m: MergedRows): SeriesRollup {
  const points = new SeriesPointsBuilder(m.length);
  const profileTypes: string[] = [];
  const seriesIds: number[] = [];
  const labels: Label[][] = [];
  const indexOf = new Map<number, number>(); // profile type × series_id → index
  for (let from = 0; from < m.length;) {
    const pt = m.profileType[from];
    const sid = m.seriesId[from];
    let to = from + 1;
    let sorted = true;
    for (; to < m.length && m.seriesId[to] === sid && m.profileType[to] === pt; to++) if (m.timestampMs[to] < m.timestampMs[to - 1]) sorted = false;
    const id = pt * 2 ** 32 + sid;
    let k = indexOf.get(id);
    if (k === undefined) {
      k = profileTypes.push(m.profileTypes[pt]) - 1;
      indexOf.set(id, k);
      seriesIds.push(sid);
      labels.push(m.series[sid].filter(([, v]) => v !== '').sort(([a], [b]) => compareStrings(a, b)));
    }
    if (sorted) {
      for (let i = from; i < to; i++) points.add(k, m.timestampMs[i], m.value[i], m.durationNs[i]);
    } else {
      for (const j of timeOrder(m.timestampMs, from, to)) points.add(k, m.timestampMs[from + j], m.value[from + j], m.durationNs[from + j]);
    }
    from = to;
  }
  return { ...points.finish(profileTypes.length), profileTypes, seriesIds: Uint32Array.from(seriesIds), labels };
}

function listOf(name: string, offsets: Int32Array, values: Data): ReturnType<typeof column> {
  const type = new List(new Field('item', values.type, false));
  return column(name, makeData({ type, length: offsets.length - 1, nullCount: 0, valueOffsets: offsets, child: values }));
}

/** A flat numeric column of the typed array's own type. */
function numbers(values: Int32Array | Uint16Array | Uint32Array | Float64Array): Data {
  const length = values.length;
  if (values instanceof Int32Array) return makeData({ type: new Int32(), length, nullCount: 0, data: values });
  if (values instanceof Uint16Array) return makeData({ type: new Uint16(), length, nullCount: 0, data: values });
  if (values instanceof Uint32Array) return makeData({ type: new Uint32(), length, nullCount: 0, data: values });
  return makeData({ type: new Float64(), length, nullCount: 0, data: values });
}

function dictionaryColumn(values: readonly string[], name: string, nullable: boolean): ReturnType<typeof column> {
  const dict = [...new Set(values.filter((v) => v !== ''))].sort(compareStrings);
  const at = new Map(dict.map((v, i) => [v, i]));
  return column(
    name,
    dictionaryData(
      dict,
      Int32Array.from(values, (v) => at.get(v) ?? -1),
    ),
    nullable,
  );
}

/**
 * The rollup as gzip-compressed Arrow IPC (see SERIES_ROLLUP_SCHEMA_ID for the layout). Level 1:
 * on fleet data 3.2× smaller for ≈ 2-3 % of buildSegment's time (with the summing), ≈ 4 ms per MB to gunzip.
 */
export function encodeSeriesRollup(r: SeriesRollup): Uint8Array {
  const n = r.profileTypes.length;
  const names = [...new Set(r.labels.flatMap((ls) => ls.map(([name]) => name)))].sort(compareStrings);
  const offsets = new Int32Array(r.starts.buffer, r.starts.byteOffset, r.starts.length);
  const columns = [
    dictionaryColumn(r.profileTypes, SeriesRollupColumn.profileType, false),
    column(SeriesRollupColumn.seriesId, uint32Data(r.seriesIds)),
    ...names.map((name) =>
      dictionaryColumn(
        r.labels.map((ls) => ls.find(([m]) => m === name)?.[1] ?? ''),
        labelColumnName(name),
        true,
      ),
    ),
    listOf(SeriesRollupColumn.ts, offsets, numbers(r.tsOff)),
    listOf(SeriesRollupColumn.value, offsets, numbers(r.value)),
    column(SeriesRollupColumn.durationEach, numbers(r.durationEach)),
  ];
  if (r.rows) columns.push(listOf(SeriesRollupColumn.rows, offsets, numbers(r.rows)));
  if (r.durationNs) columns.push(listOf(SeriesRollupColumn.duration, offsets, numbers(r.durationNs)));
  const table = tableOf(columns, { [SCHEMA_METADATA_KEY]: SERIES_ROLLUP_SCHEMA_ID, [TS_BASE_METADATA_KEY]: String(r.tsBase) }, n);
  return gzipSync(tableToIPC(table, 'file'), { level: 1 });
}

function invalid(what: string): FirnError {
  return FirnError.invalidArgument(`series rollup: ${what}`);
}

/** The child values of a list column, checked against the series' offsets. */
function listValues(batch: RecordBatch, name: string, starts: Uint32Array, required: true): Data['values'];
function listValues(batch: RecordBatch, name: string, starts: Uint32Array, required: false): Data['values'] | undefined;
function listValues(batch: RecordBatch, name: string, starts: Uint32Array, required: boolean): Data['values'] | undefined {
  const col = batch.getChild(name);
  if (!col) {
    if (required) throw invalid(`no ${name} column`);
    return undefined;
  }
  const data = col.data[0];
  // Buffers read from IPC may run past their data (padding): only the first n + 1 offsets count.
  const offsets = data.valueOffsets as Int32Array;
  const values = data.children[0]?.values;
  const n = starts[starts.length - 1];
  if (!values || values.length < n || offsets.length < starts.length || !starts.every((o, k) => offsets[k] === o)) {
    throw invalid(`${name} column does not hold the series' ${n} points`);
  }
  return values.length === n ? values : values.subarray(0, n);
}

/**
 * Reads a rollup written by encodeSeriesRollup. Throws invalid_argument for bytes that are not
 * one (a caller treats that segment as having none).
 */
export function decodeSeriesRollup(gz: Uint8Array): SeriesRollup {
  let table: Table;
  try {
    table = tableFromIPC(gunzipSync(gz, { maxOutputLength: MAX_ROLLUP_BYTES }));
  } catch (err) {
    throw invalid(`not gzip-compressed Arrow IPC within ${MAX_ROLLUP_BYTES} bytes (${(err as Error).message})`);
  }
  if (table.schema.metadata.get(SCHEMA_METADATA_KEY) !== SERIES_ROLLUP_SCHEMA_ID) throw invalid(`schema is not ${SERIES_ROLLUP_SCHEMA_ID}`);
  const tsBase = Number(table.schema.metadata.get(TS_BASE_METADATA_KEY));
  if (!Number.isFinite(tsBase)) throw invalid(`${TS_BASE_METADATA_KEY} is not a number`);
  if (table.batches.length !== 1) throw invalid(`expected one record batch, got ${table.batches.length}`);
  const batch = table.batches[0];
  const n = batch.numRows;
  const tsCol = batch.getChild(SeriesRollupColumn.ts);
  if (!tsCol) throw invalid(`no ${SeriesRollupColumn.ts} column`);
  const offsets = tsCol.data[0].valueOffsets as Int32Array | undefined;
  if (!(offsets instanceof Int32Array) || offsets.length < n + 1) throw invalid(`${SeriesRollupColumn.ts} is not a list column of ${n} series`);
  const starts = new Uint32Array(offsets.buffer, offsets.byteOffset, n + 1);
  for (let k = 0; k < n; k++) if (starts[k + 1] < starts[k]) throw invalid('series offsets are not ascending');
  if (n > 0 && (starts[0] !== 0 || starts[n] > 2 ** 31)) throw invalid('series offsets do not start at 0');
  const tsOff = listValues(batch, SeriesRollupColumn.ts, starts, true) as Int32Array | Float64Array;
  const value = listValues(batch, SeriesRollupColumn.value, starts, true) as Uint32Array | Float64Array;
  const rows = listValues(batch, SeriesRollupColumn.rows, starts, false) as Uint16Array | Uint32Array | undefined;
  const durationNs = listValues(batch, SeriesRollupColumn.duration, starts, false) as Float64Array | undefined;
  const typed = (ok: boolean, name: string) => {
    if (!ok) throw invalid(`${name} column has an unexpected value type`);
  };
  typed(tsOff instanceof Int32Array || tsOff instanceof Float64Array, SeriesRollupColumn.ts);
  typed(value instanceof Uint32Array || value instanceof Float64Array, SeriesRollupColumn.value);
  typed(rows === undefined || rows instanceof Uint16Array || rows instanceof Uint32Array, SeriesRollupColumn.rows);
  typed(durationNs === undefined || durationNs instanceof Float64Array, SeriesRollupColumn.duration);
  const eachValues = batch.getChild(SeriesRollupColumn.durationEach)?.data[0].values as Float64Array | undefined;
  const idValues = batch.getChild(SeriesRollupColumn.seriesId)?.data[0].values as Uint32Array | undefined;
  const types = batch.getChild(SeriesRollupColumn.profileType);
  if (!(eachValues instanceof Float64Array) || eachValues.length < n || !(idValues instanceof Uint32Array) || idValues.length < n || !types) {
    throw invalid('a series column is missing');
  }
  const durationEach = eachValues.subarray(0, n);
  if (!durationNs && durationEach.some((d) => Number.isNaN(d))) throw invalid(`a series' durations vary but there is no ${SeriesRollupColumn.duration} column`);
  const profileTypes: string[] = [];
  for (let k = 0; k < n; k++) {
    const t = types.get(k) as string | null;
    if (typeof t !== 'string' || t === '') throw invalid(`series ${k} has no profile type`);
    profileTypes.push(t);
  }
  const labels: Label[][] = Array.from({ length: n }, () => []);
  for (const f of batch.schema.fields) {
    const name = labelNameOfColumn(f.name);
    if (name === undefined) continue;
    const col = batch.getChild(f.name);
    for (let k = 0; k < n; k++) {
      const v = col?.get(k) as string | null;
      if (typeof v === 'string' && v !== '') labels[k].push([name, v]);
    }
  }
  for (const ls of labels) ls.sort(([a], [b]) => compareStrings(a, b));
  const columns = { starts, tsOff, tsBase, value, rows, durationNs, durationEach };
  return { ...columns, bytes: pointsBytes(columns), profileTypes, seriesIds: idValues.subarray(0, n), labels };
}

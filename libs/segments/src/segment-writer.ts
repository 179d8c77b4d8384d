import { Field, List, makeData, Struct, Uint32, type Data, type Dictionary, type Int32, type Table, type Utf8 } from 'apache-arrow';
import { FirnError } from '@firn/errors';
import { boolData, column, dictionaryData, int64DataFromDoubles, StringDictionaryBuilder, tableOf, uint32Data, uint64Data, utf8Data } from './arrow-data';
import { compareStrings } from './label-order';
import { mergeBatches, type MergedRows, type RowOrder, type StackOrder } from './merge-batches';
import { writeParquetTable } from './parquet';
import { encodeSeriesRollup, seriesRollupOf } from './series-rollup';
import type { Frame, SampleBatch } from '@firn/profiles';
import {
  FrameField,
  framesListType,
  labelColumnName,
  SAMPLES_SCHEMA_ID,
  SampleColumn,
  SAMPLES_SORT,
  SCHEMA_METADATA_KEY,
  SORT_METADATA_KEY,
  STACK_ORDER_METADATA_KEY,
  STACKS_SCHEMA_ID,
  STACKS_V1_SCHEMA_ID,
  StackColumn,
} from './segment-schema';

export const DEFAULT_ROW_GROUP_ROWS = 65_536;
export const DEFAULT_MAX_LABEL_VALUES_IN_SUMMARY = 256;

export interface BuildSegmentOptions {
  /** Rows per Parquet row group (both objects). Default 65536. */
  rowGroupRows?: number;
  /** Distinct values kept per label name in the summary before it is marked truncated. Default 256. */
  maxLabelValuesInSummary?: number;
  /**
   * Row order inside a (profile type, series): `time` (default; an ingester flush) or `stack`
   * (compacted blocks: stack_id runs, delta-encoded). Recorded as `firn.sort` in samples.parquet.
   */
  rowOrder?: RowOrder;
  /** Order of stack ids: `key` (default) or `frames` (root first). Recorded as `firn.stack_order`. */
  stackOrder?: StackOrder;
  /**
   * Layout of stacks.parquet: `v2` (default; frame ids into one table of distinct frames) or
   * `v1` (every stack's frames in full, as segments written before v2 hold them). v1 is written
   * only to test that readers still read such segments.
   */
  stacksLayout?: 'v1' | 'v2';
}

export interface LabelSummary {
  name: string;
  /** Distinct values in code-point order; the first `maxLabelValuesInSummary` when truncated. */
  values: string[];
  truncated: boolean;
}

/** What the manifest needs to know about a segment without opening it. */
export interface SegmentStats {
  minTimeMs: number;
  maxTimeMs: number;
  profileTypes: string[];
  labels: LabelSummary[];
  rows: number;
  /** Σ value over rows whose sample unit is `count`, plus 1 per row of any other unit. */
  samples: number;
  /** Size of both Parquet objects. */
  bytes: number;
}

export interface BuiltSegment {
  samples: Uint8Array;
  stacks: Uint8Array;
  /** The series rollup (series.arrow.gz): what series queries read instead of the samples' rows. */
  series: Uint8Array;
  meta: SegmentStats;
}

function positiveInt(v: number | undefined, dflt: number, name: string): number {
  if (v === undefined) return dflt;
  if (!Number.isSafeInteger(v) || v < 1) throw FirnError.invalidArgument(`${name} must be a positive integer, got ${v}`);
  return v;
}

/**
 * Turns the sample batches of one flush into the two Parquet objects and the series rollup of a segment (see README for
 * the layout) and the manifest statistics. Throws invalid_argument for malformed batches and when
 * no non-zero row is left.
 */
export function buildSegment(batches: SampleBatch[], opts: BuildSegmentOptions = {}): BuiltSegment {
  const rowGroupRows = positiveInt(opts.rowGroupRows, DEFAULT_ROW_GROUP_ROWS, 'rowGroupRows');
  const maxValues = positiveInt(opts.maxLabelValuesInSummary, DEFAULT_MAX_LABEL_VALUES_IN_SUMMARY, 'maxLabelValuesInSummary');
  const rowOrder = opts.rowOrder ?? 'time';
  const stackOrder = opts.stackOrder ?? 'key';
  const merged = mergeBatches(batches, { rowOrder, stackOrder });
  if (merged.length === 0) {
    throw FirnError.invalidArgument('cannot build a segment without rows: every batch is empty or all values are 0');
  }
  const { table: samplesTable, labels } = samplesTableOf(merged);
  const samples = writeParquetTable(samplesTable, {
    rowGroupRows,
    metadata: { [SCHEMA_METADATA_KEY]: SAMPLES_SCHEMA_ID, [SORT_METADATA_KEY]: SAMPLES_SORT[rowOrder] },
    // Sorted by stack within a series, stack_id is runs of small steps: delta-packed it is ~40%
    // of its dictionary-encoded size; sorted by time it is not (dictionary wins there).
    columnEncodings: rowOrder === 'stack' ? { [SampleColumn.stackId]: 'delta' } : {},
  });
  const v1 = opts.stacksLayout === 'v1';
  const stacks = writeParquetTable(v1 ? stacksV1TableOf(merged) : stacksTableOf(merged), {
    rowGroupRows,
    metadata: { [SCHEMA_METADATA_KEY]: v1 ? STACKS_V1_SCHEMA_ID : STACKS_SCHEMA_ID, [STACK_ORDER_METADATA_KEY]: stackOrder },
    plainColumns: [StackColumn.stackKey],
    // stack_id is 0..k-1: delta-packed it takes a few bytes instead of a dictionary page.
    columnEncodings: { [StackColumn.stackId]: 'delta' },
    // Stacks are read by row (stack id), never filtered by value: min/max of their frame columns
    // was ≈ 30 % of writing this file (parquet-wasm cannot turn it off per nested column).
    statistics: 'none',
  });
  const series = encodeSeriesRollup(seriesRollupOf(merged));
  const meta: SegmentStats = {
    ...timeRange(merged),
    profileTypes: merged.profileTypes.slice(),
    labels: labels.map(({ name, values }) => ({
      name,
      values: values.slice(0, maxValues),
      truncated: values.length > maxValues,
    })),
    rows: merged.length,
    samples: sampleCount(merged),
    bytes: samples.byteLength + stacks.byteLength + series.byteLength,
  };
  return { samples, stacks, series, meta };
}

function timeRange(m: MergedRows): { minTimeMs: number; maxTimeMs: number } {
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < m.length; i++) {
    const t = m.timestampMs[i];
    if (t < min) min = t;
    if (t > max) max = t;
  }
  return { minTimeMs: min, maxTimeMs: max };
}

/** The sample unit is the third field of `<name>:<sample_type>:<sample_unit>:…`. */
function sampleCount(m: MergedRows): number {
  const isCount = m.profileTypes.map((pt) => pt.split(':')[2] === 'count');
  let total = 0;
  for (let i = 0; i < m.length; i++) total += isCount[m.profileType[i]] ? m.value[i] : 1;
  return total;
}

function samplesTableOf(m: MergedRows): { table: Table; labels: Array<{ name: string; values: string[] }> } {
  // Label dictionaries are per name, sorted; per series we precompute the index (or -1 = absent).
  const valuesByName = new Map<string, Set<string>>();
  for (const labels of m.series) {
    for (const [name, value] of labels) {
      let set = valuesByName.get(name);
      if (!set) valuesByName.set(name, (set = new Set()));
      set.add(value);
    }
  }
  const names = [...valuesByName.keys()].sort(compareStrings);
  const labels = names.map((name) => ({ name, values: [...(valuesByName.get(name) ?? [])].sort(compareStrings) }));

  const labelColumns = labels.map(({ name, values }) => {
    const indexOf = new Map(values.map((v, i) => [v, i]));
    const perSeries = new Int32Array(m.series.length).fill(-1);
    m.series.forEach((ls, sid) => {
      for (const [n, v] of ls) if (n === name) perSeries[sid] = indexOf.get(v) ?? -1;
    });
    const indices = new Int32Array(m.length);
    for (let i = 0; i < m.length; i++) indices[i] = perSeries[m.seriesId[i]];
    return column(labelColumnName(name), dictionaryData(values, indices), true);
  });

  const columns = [
    column(SampleColumn.profileType, dictionaryData(m.profileTypes, Int32Array.from(m.profileType))),
    ...labelColumns,
    column(SampleColumn.seriesId, uint32Data(m.seriesId)),
    column(SampleColumn.stackId, uint32Data(m.stackId)),
    column(SampleColumn.value, int64DataFromDoubles(m.value)),
    column(SampleColumn.timestamp, int64DataFromDoubles(m.timestampMs)),
    column(SampleColumn.duration, int64DataFromDoubles(m.durationNs)),
    column(SampleColumn.period, int64DataFromDoubles(m.periodNs)),
  ];
  if (m.spans && m.spanId) {
    const idx = new Int32Array(m.length);
    for (let i = 0; i < m.length; i++) idx[i] = m.spanId[i] - 1; // 0 (no span) → null
    columns.push(column(SampleColumn.spanId, dictionaryData(m.spans.slice(1), idx), true));
  }
  return { table: tableOf(columns, { [SCHEMA_METADATA_KEY]: SAMPLES_SCHEMA_ID }, m.length), labels };
}

/** Arrow data of a `frame struct` column holding `frames` in order. */
function frameStructData(frames: readonly Frame[]): Data<Struct> {
  const n = frames.length;
  const buildIds = new StringDictionaryBuilder(n);
  const mappingFiles = new StringDictionaryBuilder(n);
  const addresses = new BigUint64Array(n);
  const functionNames = new StringDictionaryBuilder(n);
  const fileNames = new StringDictionaryBuilder(n);
  const lines = new Float64Array(n);
  const inlined = new Array<boolean>(n);
  for (let f = 0; f < n; f++) {
    const fr = frames[f];
    buildIds.add(fr.buildId);
    mappingFiles.add(fr.mappingFile);
    addresses[f] = fr.address;
    functionNames.add(fr.functionName);
    fileNames.add(fr.fileName);
    lines[f] = fr.line;
    inlined[f] = fr.inlined;
  }
  const structType = framesListType().children[0].type as Struct;
  const typeOf = (name: string) => structType.children.find((c) => c.name === name)?.type as Dictionary<Utf8, Int32>;
  const childData: Record<string, Data> = {
    [FrameField.buildId]: buildIds.finish(typeOf(FrameField.buildId)),
    [FrameField.mappingFile]: mappingFiles.finish(typeOf(FrameField.mappingFile)),
    [FrameField.address]: uint64Data(addresses),
    [FrameField.functionName]: functionNames.finish(typeOf(FrameField.functionName)),
    [FrameField.fileName]: fileNames.finish(typeOf(FrameField.fileName)),
    [FrameField.line]: int64DataFromDoubles(lines),
    [FrameField.inlined]: boolData(inlined),
  };
  return makeData({ type: structType, length: n, nullCount: 0, children: structType.children.map((fld) => childData[fld.name]) });
}

/** Words per distinct frame in DistinctFrames' table: 4 string ids, 2 address words, the line, inlined. */
const FRAME_WORDS = 8;

/** FNV-1a over one frame's words, `words[at .. at + FRAME_WORDS)`. */
function hashFrameWords(words: Int32Array, at: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < FRAME_WORDS; i++) h = Math.imul(h ^ words[at + i], 0x01000193);
  return h ^ (h >>> 15);
}

/**
 * The distinct frames of a segment's stacks by content (every field stacks.parquet stores), in
 * order of first use, without a string or an allocation per occurrence: strings become ids
 * (their hashes are cached by the engine), the rest are numbers, and an open-addressing table
 * over those words finds a frame met before. Frames equal in content but not in identity (a
 * compaction's inputs, synthetic data) are one entry, as frames sharing an object are.
 */
class DistinctFrames {
  readonly frames: Frame[] = [];
  private readonly strings = new Map<string, number>();
  private words = new Int32Array(FRAME_WORDS * 1024);
  private lines = new Float64Array(1024);
  private slots = new Int32Array(4096).fill(-1);
  private readonly address = new BigUint64Array(1);
  private readonly addressWords = new Int32Array(this.address.buffer);
  private readonly probe = new Int32Array(FRAME_WORDS);

  private stringId(s: string): number {
    let id = this.strings.get(s);
    if (id === undefined) this.strings.set(s, (id = this.strings.size));
    return id;
  }

  idOf(f: Frame): number {
    const w = this.probe;
    w[0] = this.stringId(f.buildId);
    w[1] = this.stringId(f.mappingFile);
    w[2] = this.stringId(f.functionName);
    w[3] = this.stringId(f.fileName);
    this.address[0] = f.address;
    w[4] = this.addressWords[0];
    w[5] = this.addressWords[1];
    const line = f.line;
    w[6] = line | 0;
    w[7] = f.inlined ? 1 : 0;
    const mask = this.slots.length - 1;
    for (let s = hashFrameWords(w, 0) & mask; ; s = (s + 1) & mask) {
      const id = this.slots[s];
      if (id < 0) {
        const added = this.frames.length;
        this.slots[s] = added;
        this.add(f, w, line);
        return added;
      }
      if (this.lines[id] === line && this.same(id, w)) return id;
    }
  }

  private same(id: number, w: Int32Array): boolean {
    const base = id * FRAME_WORDS;
    for (let i = 0; i < FRAME_WORDS; i++) if (this.words[base + i] !== w[i]) return false;
    return true;
  }

  private add(f: Frame, w: Int32Array, line: number): void {
    const id = this.frames.push(f) - 1;
    if ((id + 1) * FRAME_WORDS > this.words.length) {
      const words = new Int32Array(this.words.length * 2);
      words.set(this.words);
      this.words = words;
      const lines = new Float64Array(this.lines.length * 2);
      lines.set(this.lines);
      this.lines = lines;
    }
    this.words.set(w, id * FRAME_WORDS);
    this.lines[id] = line;
    // Keep the table at most half full.
    if (this.frames.length * 2 > this.slots.length) this.rehash();
  }

  private rehash(): void {
    this.slots = new Int32Array(this.slots.length * 2).fill(-1);
    const mask = this.slots.length - 1;
    for (let id = 0; id < this.frames.length; id++) {
      let s = hashFrameWords(this.words, id * FRAME_WORDS) & mask;
      while (this.slots[s] >= 0) s = (s + 1) & mask;
      this.slots[s] = id;
    }
  }
}

/**
 * stacks.parquet v2: stack_id, stack_key, frame_ids (leaf first, indexes into the frame table)
 * and frame_table (the distinct frames, in order of first use, on row 0; null elsewhere). The
 * frame columns then hold each distinct frame once instead of once per occurrence: on the
 * fleet's data ≈ 15 k frames instead of 270-400 k, which is what writing this file cost.
 */
function stacksTableOf(m: MergedRows): Table {
  const k = m.stacks.length;
  const offsets = new Int32Array(k + 1);
  let slots = 0;
  for (let i = 0; i < k; i++) offsets[i + 1] = slots += m.stacks[i].frames.length;
  // Frames of the ingester's interner come with its ids: an array lookup per frame. Others are
  // mostly shared objects too (a compaction's decoded tables): identity first, content for an
  // object not met before. Content decides in the end, so both ways give equal frames one id.
  const byInterned = m.frameIdLimit === undefined ? undefined : new Int32Array(m.frameIdLimit).fill(-1);
  const byObject = new Map<Frame, number>();
  const distinct = new DistinctFrames();
  const frameIds = new Uint32Array(slots);
  let p = 0;
  for (const s of m.stacks) {
    const frames = s.frames;
    const ids = s.frameIds;
    if (ids && byInterned) {
      for (let q = 0; q < frames.length; q++) {
        let id = byInterned[ids[q]];
        if (id < 0) byInterned[ids[q]] = id = distinct.idOf(frames[q]);
        frameIds[p++] = id;
      }
      continue;
    }
    for (const f of frames) {
      let id = byObject.get(f);
      if (id === undefined) byObject.set(f, (id = distinct.idOf(f)));
      frameIds[p++] = id;
    }
  }
  const idList = makeData({
    type: new List(new Field('item', new Uint32(), false)),
    length: k,
    nullCount: 0,
    valueOffsets: offsets,
    child: uint32Data(frameIds),
  });
  // Row 0 lists every distinct frame; every other row is null (an empty range of the child).
  const tableOffsets = new Int32Array(k + 1).fill(distinct.frames.length);
  tableOffsets[0] = 0;
  const valid = new Uint8Array((k + 7) >> 3);
  valid[0] = 1;
  const frameTable = makeData({
    type: framesListType(),
    length: k,
    nullCount: k - 1,
    nullBitmap: valid,
    valueOffsets: tableOffsets,
    child: frameStructData(distinct.frames),
  });
  return tableOf(
    [...stackIdColumns(m), column(StackColumn.frameIds, idList), column(StackColumn.frameTable, frameTable, true)],
    { [SCHEMA_METADATA_KEY]: STACKS_SCHEMA_ID },
    k,
  );
}

/** stack_id (0..k-1, the row index) and stack_key: the first columns of stacks.parquet in both layouts. */
function stackIdColumns(m: MergedRows): Array<ReturnType<typeof column>> {
  const ids = new Uint32Array(m.stacks.length);
  for (let i = 0; i < ids.length; i++) ids[i] = i;
  return [column(StackColumn.stackId, uint32Data(ids)), column(StackColumn.stackKey, utf8Data(m.stacks.map((s) => s.key)))];
}

/** stacks.parquet v1: stack_id, stack_key and every stack's frames in full (`frames`). */
function stacksV1TableOf(m: MergedRows): Table {
  const k = m.stacks.length;
  const offsets = new Int32Array(k + 1);
  const all: Frame[] = [];
  for (let i = 0; i < k; i++) {
    for (const f of m.stacks[i].frames) all.push(f);
    offsets[i + 1] = all.length;
  }
  const frames = makeData({ type: framesListType(), length: k, nullCount: 0, valueOffsets: offsets, child: frameStructData(all) });
  return tableOf([...stackIdColumns(m), column(StackColumn.frames, frames)], { [SCHEMA_METADATA_KEY]: STACKS_V1_SCHEMA_ID }, k);
}

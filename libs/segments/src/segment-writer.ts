import { List, makeData, Struct, type Data, type Dictionary, type Int32, type Table, type Utf8 } from 'apache-arrow';
import { FirnError } from '@firn/errors';
import { boolData, column, dictionaryData, int64DataFromDoubles, StringDictionaryBuilder, tableOf, uint32Data, uint64Data, utf8Data } from './arrow-data';
import { compareStrings } from './label-order';
import { mergeBatches, type MergedRows, type RowOrder, type StackOrder } from './merge-batches';
import { writeParquetTable } from './parquet';
import { encodeSeriesRollup, seriesRollupOf } from './series-rollup';
import type { SampleBatch } from '@firn/profiles';
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
  const stacks = writeParquetTable(stacksTableOf(merged), {
    rowGroupRows,
    metadata: { [SCHEMA_METADATA_KEY]: STACKS_SCHEMA_ID, [STACK_ORDER_METADATA_KEY]: stackOrder },
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

function stacksTableOf(m: MergedRows): Table {
  const k = m.stacks.length;
  const offsets = new Int32Array(k + 1);
  let frameCount = 0;
  m.stacks.forEach((s, i) => {
    frameCount += s.frames.length;
    offsets[i + 1] = frameCount;
  });
  const buildIds = new StringDictionaryBuilder(frameCount);
  const mappingFiles = new StringDictionaryBuilder(frameCount);
  const addresses = new BigUint64Array(frameCount);
  const functionNames = new StringDictionaryBuilder(frameCount);
  const fileNames = new StringDictionaryBuilder(frameCount);
  const lines = new Float64Array(frameCount);
  const inlined = new Array<boolean>(frameCount);
  let f = 0;
  for (const s of m.stacks) {
    for (const fr of s.frames) {
      buildIds.add(fr.buildId);
      mappingFiles.add(fr.mappingFile);
      addresses[f] = fr.address;
      functionNames.add(fr.functionName);
      fileNames.add(fr.fileName);
      lines[f] = fr.line;
      inlined[f] = fr.inlined;
      f++;
    }
  }
  const listType: List<Struct> = framesListType();
  const structType = listType.children[0].type as Struct;
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
  const frames = makeData({
    type: listType,
    length: k,
    nullCount: 0,
    valueOffsets: offsets,
    child: makeData({
      type: structType,
      length: frameCount,
      nullCount: 0,
      children: structType.children.map((fld) => childData[fld.name]),
    }),
  });
  const ids = new Uint32Array(k);
  for (let i = 0; i < k; i++) ids[i] = i;
  return tableOf(
    [column(StackColumn.stackId, uint32Data(ids)), column(StackColumn.stackKey, utf8Data(m.stacks.map((s) => s.key))), column(StackColumn.frames, frames)],
    { [SCHEMA_METADATA_KEY]: STACKS_SCHEMA_ID },
    k,
  );
}

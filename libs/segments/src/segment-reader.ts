import { DataType, type Data, type Dictionary, type Int32, type RecordBatch, type Struct, type Table, type Utf8, type Vector } from 'apache-arrow';
import { FirnError } from '@firn/errors';
import { seriesKeyOf } from './label-order';
import { bytesSource, ParquetReader, readParquetTable } from './parquet';
import type { Frame } from '@firn/profiles';
import {
  FrameField,
  labelNameOfColumn,
  SAMPLES_SCHEMA_ID,
  SampleColumn,
  SCHEMA_METADATA_KEY,
  STACKS_SCHEMA_ID,
  STACKS_V1_SCHEMA_ID,
  StackColumn,
} from './segment-schema';

export interface ReadSamplesOptions {
  /** Top-level columns to decode (e.g. `['labels.pod', 'value']`); default all. */
  columns?: string[];
  /** Row groups to decode; default all. */
  rowGroups?: number[];
}

export interface SegmentStack {
  key: string;
  frames: Frame[];
}

function checkSchema(table: Table, expected: readonly string[], what: string): void {
  const got = table.schema.metadata.get(SCHEMA_METADATA_KEY);
  if (got === undefined || !expected.includes(got)) {
    const wanted = expected.map((e) => JSON.stringify(e)).join(' or ');
    throw FirnError.invalidArgument(`${what} has ${SCHEMA_METADATA_KEY}=${JSON.stringify(got ?? null)}, expected ${wanted}`);
  }
}

/**
 * Decodes samples.parquet (held in memory) into an Arrow table. With `columns`, only those column
 * chunks are decoded (parquet-wasm's synchronous reader ignores projections, so projected reads
 * go through its async reader).
 */
export async function readSegmentSamples(bytes: Uint8Array, opts: ReadSamplesOptions = {}): Promise<Table> {
  if (opts.columns) {
    const reader = await ParquetReader.open(bytesSource(bytes));
    try {
      const layout = reader.layout();
      if (layout.keyValueMetadata[SCHEMA_METADATA_KEY] !== SAMPLES_SCHEMA_ID) {
        throw FirnError.invalidArgument(`samples object is not ${SAMPLES_SCHEMA_ID}`);
      }
      return await reader.read({ columns: opts.columns, rowGroups: opts.rowGroups });
    } finally {
      reader.close();
    }
  }
  const table = readParquetTable(bytes, { rowGroups: opts.rowGroups });
  checkSchema(table, [SAMPLES_SCHEMA_ID], 'samples object');
  return table;
}

/** Reads frame `j` of frame-struct data (v2's frame table, v1's frames column). */
function frameReader(frameStruct: Data): (j: number) => Frame {
  const buildIds = stringsOf(childData(frameStruct, FrameField.buildId));
  const mappingFiles = stringsOf(childData(frameStruct, FrameField.mappingFile));
  const addresses = childData(frameStruct, FrameField.address).values as BigUint64Array;
  const functionNames = stringsOf(childData(frameStruct, FrameField.functionName));
  const fileNames = stringsOf(childData(frameStruct, FrameField.fileName));
  const lines = childData(frameStruct, FrameField.line).values as BigInt64Array;
  const inlined = childData(frameStruct, FrameField.inlined);
  const inlinedNulls = inlined.nullCount > 0 ? inlined.nullBitmap : undefined;
  return (j) => {
    const bit = inlined.offset + j;
    const valid = !inlinedNulls || ((inlinedNulls[bit >> 3] >> (bit & 7)) & 1) === 1;
    return {
      buildId: buildIds(j),
      mappingFile: mappingFiles(j),
      address: addresses[j],
      functionName: functionNames(j),
      fileName: fileNames(j),
      line: Number(lines[j]),
      inlined: valid && ((inlined.values[bit >> 3] >> (bit & 7)) & 1) === 1,
    };
  };
}

function hasColumn(batch: RecordBatch, name: string): boolean {
  return batch.schema.fields.some((f) => f.name === name);
}

/** Whether a stacks.parquet batch has the v2 layout (frame ids into a frame table). */
export function isFrameIdBatch(batch: RecordBatch): boolean {
  return hasColumn(batch, StackColumn.frameIds);
}

/**
 * v2: frame id → Frame of an object's frame table (undefined past its end). Each frame is
 * decoded on first use and then returned as the same object, so stacks share their frames and a
 * reader wanting a few stacks decodes only their frames.
 */
export type FrameTable = (id: number) => Frame | undefined;

/**
 * v2: the segment's frame table, from the first row of this stacks.parquet batch that holds it
 * (row 0 of the object); undefined when no row of the batch does.
 */
export function frameTableOf(batch: RecordBatch): FrameTable | undefined {
  const list = childData(batch.data, StackColumn.frameTable);
  const offsets = list.valueOffsets as Int32Array;
  const bitmap = list.nullCount > 0 ? list.nullBitmap : undefined;
  for (let i = 0; i < batch.numRows; i++) {
    const bit = list.offset + i;
    if (bitmap && ((bitmap[bit >> 3] >> (bit & 7)) & 1) === 0) continue;
    const read = frameReader(list.children[0]);
    const from = offsets[i];
    const n = offsets[i + 1] - from;
    const memo = new Array<Frame | undefined>(n);
    return (id) => (id < n ? (memo[id] ??= read(from + id)) : undefined);
  }
  return undefined;
}

/**
 * v2: reads the frame table of a v2 stacks object open in `reader` (row 0 of frame_table, one
 * ranged read). The caller knows the object's layout from its `firn.schema`.
 */
export async function readFrameTable(reader: ParquetReader): Promise<FrameTable> {
  const table = await reader.read({ columns: [StackColumn.frameTable], offset: 0, limit: 1 });
  const frames = table.batches.length > 0 ? frameTableOf(table.batches[0]) : undefined;
  if (!frames) throw FirnError.invalidArgument(`stacks object ${STACKS_SCHEMA_ID} has no frame table on row 0`);
  return frames;
}

/**
 * Decodes the stacks of one record batch of stacks.parquet, calling `onStack` for every row
 * `want` accepts (all rows when omitted). v2 (stack_id, stack_key, frame_ids): frames come from
 * `frameTable` (the object's, see frameTableOf / readFrameTable; default: this batch's own) and
 * are shared between stacks; v1 (stack_id, stack_key, frames): each stack's frames are decoded
 * from the batch. The one stack decoder: the whole-object readers and the querier's ranged reads
 * of keys and frames share it.
 */
export function decodeStacksBatch(
  batch: RecordBatch,
  onStack: (id: number, key: string, frames: Frame[]) => void,
  want: (id: number) => boolean = () => true,
  frameTable?: FrameTable,
): void {
  const ids = childData(batch.data, StackColumn.stackId).values as Uint32Array;
  const keys = stringsOf(childData(batch.data, StackColumn.stackKey));
  if (isFrameIdBatch(batch)) {
    const table = frameTable ?? frameTableOf(batch);
    if (!table) throw FirnError.invalidArgument(`stacks object ${STACKS_SCHEMA_ID}: no frame table (row 0 of ${StackColumn.frameTable})`);
    forEachFrameIdStack(
      batch,
      table,
      (row, frames) => onStack(ids[row], keys(row), frames),
      (row) => want(ids[row]),
    );
    return;
  }
  const list = childData(batch.data, StackColumn.frames);
  const offsets = list.valueOffsets;
  const read = frameReader(list.children[0]);
  for (let i = 0; i < batch.numRows; i++) {
    if (!want(ids[i])) continue;
    const frames: Frame[] = [];
    for (let j = offsets[i]; j < offsets[i + 1]; j++) frames.push(read(j));
    onStack(ids[i], keys(i), frames);
  }
}

/**
 * v2: the frames of every row `want` accepts of a batch with frame_ids, looked up in the
 * object's frame table (`onStack(row, frames)`); a frame id past the table is refused.
 */
export function forEachFrameIdStack(
  batch: RecordBatch,
  frameTable: FrameTable,
  onStack: (row: number, frames: Frame[]) => void,
  want: (row: number) => boolean = () => true,
): void {
  const list = childData(batch.data, StackColumn.frameIds);
  const offsets = list.valueOffsets as Int32Array;
  const item = list.children[0];
  const frameIds = item.values as Uint32Array;
  const base = item.offset;
  for (let i = 0; i < batch.numRows; i++) {
    if (!want(i)) continue;
    const from = offsets[i];
    const frames = new Array<Frame>(offsets[i + 1] - from);
    for (let j = from; j < offsets[i + 1]; j++) {
      const f = frameTable(frameIds[base + j]);
      if (f === undefined) throw FirnError.invalidArgument(`stacks object: frame id ${frameIds[base + j]} is past the frame table`);
      frames[j - from] = f;
    }
    onStack(i, frames);
  }
}

/**
 * Every stack of whole-object batches (in row order, so the frame table of row 0 comes first),
 * as decodeStacksBatch decodes them.
 */
export function decodeStacks(
  batches: readonly RecordBatch[],
  onStack: (id: number, key: string, frames: Frame[]) => void,
  want: (id: number) => boolean = () => true,
): void {
  let frameTable: FrameTable | undefined;
  for (const batch of batches) {
    if (isFrameIdBatch(batch)) frameTable ??= frameTableOf(batch);
    decodeStacksBatch(batch, onStack, want, frameTable);
  }
}

/** Decodes stacks.parquet (v2 or v1) into stack_id → { key, frames (leaf first) }. */
export async function readSegmentStacks(bytes: Uint8Array): Promise<Map<number, SegmentStack>> {
  const table = readParquetTable(bytes);
  checkSchema(table, [STACKS_SCHEMA_ID, STACKS_V1_SCHEMA_ID], 'stacks object');
  const out = new Map<number, SegmentStack>();
  decodeStacks(table.batches, (id, key, frames) => out.set(id, { key, frames }));
  return out;
}

/**
 * Totals per `${profileType}|${seriesKeyOf(labels)}|${stackKey}` over a whole segment: the
 * exactly-once invariant that tests and e2e checks compare against what was ingested.
 */
export async function totalsBySeriesAndStack(samplesBytes: Uint8Array, stacksBytes: Uint8Array): Promise<Map<string, number>> {
  const stacks = await readSegmentStacks(stacksBytes);
  const table = await readSegmentSamples(samplesBytes);
  const labelNames = table.schema.fields
    .map((f) => [f.name, labelNameOfColumn(f.name)] as const)
    .filter((x): x is readonly [string, string] => x[1] !== undefined);
  const seriesKeys = new Map<number, string>();
  const totals = new Map<string, number>();
  for (const batch of table.batches) {
    const pt = batch.getChild(SampleColumn.profileType) as Vector<Dictionary<Utf8, Int32>>;
    const sid = batch.getChild(SampleColumn.seriesId)?.data[0].values as Uint32Array;
    const stk = batch.getChild(SampleColumn.stackId)?.data[0].values as Uint32Array;
    const val = batch.getChild(SampleColumn.value)?.data[0].values as BigInt64Array;
    const labelCols = labelNames.map(([col, name]) => [name, batch.getChild(col)] as const);
    for (let i = 0; i < batch.numRows; i++) {
      let series = seriesKeys.get(sid[i]);
      if (series === undefined) {
        const labels: Array<[string, string]> = [];
        for (const [name, vec] of labelCols) {
          const v = vec?.get(i) as string | null | undefined;
          if (v !== null && v !== undefined) labels.push([name, v]);
        }
        series = seriesKeyOf(labels);
        seriesKeys.set(sid[i], series);
      }
      const stack = stacks.get(stk[i]);
      if (!stack) throw FirnError.invalidArgument(`samples row ${i} references stack_id ${stk[i]} missing from the stacks object`);
      const key = `${pt.get(i)}|${series}|${stack.key}`;
      totals.set(key, (totals.get(key) ?? 0) + Number(val[i]));
    }
  }
  return totals;
}

function childData(parent: Data, name: string): Data {
  const idx = (parent.type as Struct).children.findIndex((f) => f.name === name);
  if (idx < 0) throw FirnError.invalidArgument(`segment object lacks column ${JSON.stringify(name)}`);
  return parent.children[idx];
}

/**
 * String accessor for Utf8 or Dictionary<_, Utf8> data. Dictionary entries are decoded once each,
 * lazily; plain Utf8 uses Node's native decoder (much faster than TextDecoder per value).
 */
function stringsOf(data: Data): (i: number) => string {
  if (DataType.isDictionary(data.type)) {
    const indices = data.values as Int32Array;
    const dict = data.dictionary;
    if (!dict || dict.data.length !== 1) throw FirnError.invalidArgument('dictionary column without a single dictionary chunk');
    const decode = stringsOf(dict.data[0]);
    const cache = new Array<string | undefined>(dict.length);
    return (i) => {
      const k = indices[i];
      return (cache[k] ??= decode(k));
    };
  }
  if (!DataType.isUtf8(data.type)) throw FirnError.invalidArgument(`expected a string column, got ${data.type}`);
  const offsets = data.valueOffsets as Int32Array;
  const bytes = data.values as Uint8Array;
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return (i) => buf.toString('utf8', offsets[i], offsets[i + 1]);
}

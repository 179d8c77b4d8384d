import { DataType, type Data, type Dictionary, type Int32, type RecordBatch, type Struct, type Table, type Utf8, type Vector } from 'apache-arrow';
import { FirnError } from '@firn/errors';
import { seriesKeyOf } from './label-order';
import { bytesSource, ParquetReader, readParquetTable } from './parquet';
import type { Frame } from '@firn/profiles';
import { FrameField, labelNameOfColumn, SAMPLES_SCHEMA_ID, SampleColumn, SCHEMA_METADATA_KEY, STACKS_SCHEMA_ID, StackColumn } from './segment-schema';

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

function checkSchema(table: Table, expected: string, what: string): void {
  const got = table.schema.metadata.get(SCHEMA_METADATA_KEY);
  if (got !== expected) {
    throw FirnError.invalidArgument(`${what} has ${SCHEMA_METADATA_KEY}=${JSON.stringify(got ?? null)}, expected ${JSON.stringify(expected)}`);
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
  checkSchema(table, SAMPLES_SCHEMA_ID, 'samples object');
  return table;
}

/**
 * Decodes the stacks of one record batch of stacks.parquet (stack_id, stack_key, frames),
 * calling `onStack` for every row `want` accepts (all rows when omitted). The one frame decoder:
 * the whole-object reader below and the querier's ranged reads share it.
 */
export function decodeStacksBatch(
  batch: RecordBatch,
  onStack: (id: number, key: string, frames: Frame[]) => void,
  want: (id: number) => boolean = () => true,
): void {
  const ids = childData(batch.data, StackColumn.stackId).values as Uint32Array;
  const keys = stringsOf(childData(batch.data, StackColumn.stackKey));
  const list = childData(batch.data, StackColumn.frames);
  const offsets = list.valueOffsets;
  const frameStruct = list.children[0] as Data<Struct>;
  const buildIds = stringsOf(childData(frameStruct, FrameField.buildId));
  const mappingFiles = stringsOf(childData(frameStruct, FrameField.mappingFile));
  const addresses = childData(frameStruct, FrameField.address).values as BigUint64Array;
  const functionNames = stringsOf(childData(frameStruct, FrameField.functionName));
  const fileNames = stringsOf(childData(frameStruct, FrameField.fileName));
  const lines = childData(frameStruct, FrameField.line).values as BigInt64Array;
  const inlined = childData(frameStruct, FrameField.inlined);
  const inlinedNulls = inlined.nullCount > 0 ? inlined.nullBitmap : undefined;
  for (let i = 0; i < batch.numRows; i++) {
    if (!want(ids[i])) continue;
    const frames: Frame[] = [];
    for (let j = offsets[i]; j < offsets[i + 1]; j++) {
      const bit = inlined.offset + j;
      const valid = !inlinedNulls || ((inlinedNulls[bit >> 3] >> (bit & 7)) & 1) === 1;
      frames.push({
        buildId: buildIds(j),
        mappingFile: mappingFiles(j),
        address: addresses[j],
        functionName: functionNames(j),
        fileName: fileNames(j),
        line: Number(lines[j]),
        inlined: valid && ((inlined.values[bit >> 3] >> (bit & 7)) & 1) === 1,
      });
    }
    onStack(ids[i], keys(i), frames);
  }
}

/** Decodes stacks.parquet into stack_id → { key, frames (leaf first) }. */
export async function readSegmentStacks(bytes: Uint8Array): Promise<Map<number, SegmentStack>> {
  const table = readParquetTable(bytes);
  checkSchema(table, STACKS_SCHEMA_ID, 'stacks object');
  const out = new Map<number, SegmentStack>();
  for (const batch of table.batches) decodeStacksBatch(batch, (id, key, frames) => out.set(id, { key, frames }));
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

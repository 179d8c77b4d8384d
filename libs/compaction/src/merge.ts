import type { Data, Dictionary, Int32, RecordBatch, Utf8, Vector } from 'apache-arrow';
import { FirnError } from '@firn/errors';
import type { Frame, SampleBatch } from '@firn/profiles';
import type { firnManifestV1 } from '@firn/proto';
import {
  buildSegment,
  bytesSource,
  decodeStacks,
  keysOfDir,
  labelNameOfColumn,
  ParquetReader,
  readSegment,
  readSegmentSamples,
  SampleColumn,
  StackColumn,
  type BuildSegmentOptions,
  type BuiltSegment,
} from '@firn/segments';
import type { ObjectStore } from '@firn/storage';

type SegmentMeta = firnManifestV1.SegmentMeta;

export interface MergeOptions extends BuildSegmentOptions {
  /** Floor timestamps to this bucket before summing equal rows; 0 = exact timestamps. */
  bucketMs?: number;
}

export interface MergedBlock {
  built: BuiltSegment;
  /** Rows and bytes read from the inputs. */
  inputRows: number;
  inputBytes: number;
}

function column(batch: RecordBatch, name: string): Data {
  const v = batch.getChild(name);
  if (!v || v.data.length !== 1) throw FirnError.invalidArgument(`segment samples lack column ${JSON.stringify(name)}`);
  return v.data[0];
}

function toDoubles(values: BigInt64Array, bucketMs = 0): Float64Array {
  const out = new Float64Array(values.length);
  if (bucketMs > 0) {
    for (let i = 0; i < values.length; i++) {
      const t = Number(values[i]);
      out[i] = Math.floor(t / bucketMs) * bucketMs;
    }
  } else {
    for (let i = 0; i < values.length; i++) out[i] = Number(values[i]);
  }
  return out;
}

/**
 * Distinct stacks across the segments of one merge, by stored stack key: each is decoded into
 * Frame objects once, and every segment's batches share that one array, so buildSegment's
 * stackKey() (cached per array) hashes each distinct stack once instead of once per segment.
 */
export class StackInterner {
  private readonly byKey = new Map<string, Frame[]>();

  get size(): number {
    return this.byKey.size;
  }

  /** stacks.parquet → frames per local stack id (shared arrays for keys seen before). */
  async stacksOf(bytes: Uint8Array, segmentId: string): Promise<Frame[][]> {
    const reader = await ParquetReader.open(bytesSource(bytes));
    try {
      const keyTable = await reader.read({ columns: [StackColumn.stackId, StackColumn.stackKey] });
      const out: Frame[][] = new Array<Frame[]>(keyTable.numRows);
      const missing = new Map<number, string>();
      for (const rb of keyTable.batches) {
        const ids = rb.getChild(StackColumn.stackId)?.data[0].values as Uint32Array;
        const keys = rb.getChild(StackColumn.stackKey);
        for (let i = 0; i < rb.numRows; i++) {
          const id = ids[i];
          if (id >= out.length) throw FirnError.invalidArgument(`segment ${segmentId}: stack ids are not dense (${id} of ${out.length})`);
          const key = String(keys?.get(i));
          const known = this.byKey.get(key);
          if (known) out[id] = known;
          else missing.set(id, key);
        }
      }
      if (missing.size > 0) {
        const full = await reader.read();
        decodeStacks(
          full.batches,
          (id, key, frames) => {
            const shared = this.byKey.get(key) ?? frames;
            this.byKey.set(key, shared);
            out[id] = shared;
          },
          (id) => missing.has(id),
        );
      }
      for (let i = 0; i < out.length; i++) {
        if (out[i] === undefined) throw FirnError.invalidArgument(`segment ${segmentId}: stack ${i} is missing from its stacks object`);
      }
      return out;
    } finally {
      reader.close();
    }
  }
}

/**
 * A stored segment as SampleBatches (one per Parquet row group), sharing one series and one
 * stack dictionary, so buildSegment can merge several segments as it merges ingest batches.
 * With `bucketMs`, timestamps are floored to the bucket (rows then sum in buildSegment).
 */
export async function segmentBatches(
  store: ObjectStore,
  meta: SegmentMeta,
  bucketMs = 0,
  stacks: StackInterner = new StackInterner(),
): Promise<{ batches: SampleBatch[]; bytes: number }> {
  const objects = await readSegment(store, keysOfDir(meta.objectKey));
  const stackList = await stacks.stacksOf(objects.stacks, meta.id);
  const samples = objects.samples;
  const table = await readSegmentSamples(samples);
  const labelCols = table.schema.fields
    .map((f) => [f.name, labelNameOfColumn(f.name)] as const)
    .filter((x): x is readonly [string, string] => x[1] !== undefined);
  const series: Array<Array<[string, string]>> = [];
  const batches: SampleBatch[] = [];
  for (const rb of table.batches) {
    const n = rb.numRows;
    const seriesIdx = column(rb, SampleColumn.seriesId).values as Uint32Array;
    const labelVectors = labelCols.map(([col, name]) => [name, rb.getChild(col)] as const);
    for (let i = 0; i < n; i++) {
      const sid = seriesIdx[i];
      if (series[sid] !== undefined) continue;
      const labels: Array<[string, string]> = [];
      for (const [name, vec] of labelVectors) {
        const v = vec?.get(i) as string | null | undefined;
        if (v !== null && v !== undefined) labels.push([name, v]);
      }
      series[sid] = labels;
    }
    const pt = column(rb, SampleColumn.profileType) as Data<Dictionary<Utf8, Int32>>;
    const dict = pt.dictionary as Vector<Utf8> | undefined;
    if (!dict) throw FirnError.invalidArgument(`segment ${meta.id}: profile_type is not dictionary-encoded`);
    const ptIdx = pt.values as Int32Array;
    batches.push({
      ...spansOf(rb, meta.id),
      profileTypes: dict.toArray() as unknown as string[],
      series,
      stacks: stackList,
      profileType: new Uint32Array(ptIdx.buffer, ptIdx.byteOffset, ptIdx.length),
      seriesIdx,
      stack: column(rb, SampleColumn.stackId).values as Uint32Array,
      value: toDoubles(column(rb, SampleColumn.value).values as BigInt64Array),
      timestampMs: toDoubles(column(rb, SampleColumn.timestamp).values as BigInt64Array, bucketMs),
      durationNs: toDoubles(column(rb, SampleColumn.duration).values as BigInt64Array),
      periodNs: toDoubles(column(rb, SampleColumn.period).values as BigInt64Array),
      length: n,
    });
  }
  for (let i = 0; i < series.length; i++) {
    if (series[i] === undefined) throw FirnError.invalidArgument(`segment ${meta.id}: series ids are not dense (no row of series ${i})`);
  }
  return { batches, bytes: samples.length + objects.stacks.length };
}

/**
 * The span column of a segment's record batch as SampleBatch spans (dictionary with '' first),
 * or nothing when the segment holds no span profiles: blocks keep every row's span.
 */
function spansOf(rb: RecordBatch, segmentId: string): { spans?: string[]; span?: Uint32Array } {
  const v = rb.getChild(SampleColumn.spanId);
  if (!v) return {};
  if (v.data.length !== 1) throw FirnError.invalidArgument(`segment ${segmentId}: span_id column must be one chunk per batch`);
  const d = v.data[0] as Data<Dictionary<Utf8, Int32>>;
  const dict = d.dictionary as Vector<Utf8> | undefined;
  if (!dict) throw FirnError.invalidArgument(`segment ${segmentId}: span_id is not dictionary-encoded`);
  const idx = d.values as Int32Array;
  const span = new Uint32Array(rb.numRows);
  for (let i = 0; i < rb.numRows; i++) span[i] = d.getValid(i) ? idx[i] + 1 : 0;
  return { spans: ['', ...(dict.toArray() as unknown as string[])], span };
}

/**
 * Merges stored segments into one block: one sorted samples table, one stack table (stacks
 * deduplicated by content key), rows sharing (profile type, series, stack, timestamp or bucket)
 * summed, sorted by (profile type, series, stack, timestamp) unless `rowOrder` says otherwise. Totals per (profile type, series, stack) are exactly the sum of the inputs'.
 */
export async function mergeSegments(store: ObjectStore, inputs: readonly SegmentMeta[], opts: MergeOptions = {}): Promise<MergedBlock> {
  if (inputs.length === 0) throw FirnError.invalidArgument('merging needs at least one segment');
  const { bucketMs = 0, ...buildOpts } = opts;
  if (!Number.isSafeInteger(bucketMs) || bucketMs < 0) throw FirnError.invalidArgument(`bucketMs must be a non-negative integer, got ${bucketMs}`);
  const all: SampleBatch[] = [];
  let inputRows = 0;
  let inputBytes = 0;
  const stacks = new StackInterner();
  // One at a time: each segment's objects are dropped as soon as its rows are copied out.
  for (const meta of inputs) {
    const { batches, bytes } = await segmentBatches(store, meta, bucketMs, stacks);
    for (const b of batches) {
      all.push(b);
      inputRows += b.length;
    }
    inputBytes += bytes;
  }
  // Blocks sort a series' rows by stack (ids by frames): ~30% smaller than time order (README).
  return { built: buildSegment(all, { rowOrder: 'stack', stackOrder: 'frames', ...buildOpts }), inputRows, inputBytes };
}

import type { ObjectStore } from '@firn/storage';
import { FirnError } from '@firn/errors';
import { ParquetReader, type ParquetByteSource } from './parquet';
import type { SegmentKeys } from './segment-keys';
import type { BuiltSegment } from './segment-writer';

const PARQUET = 'application/vnd.apache.parquet';
const GZIP = 'application/gzip';

/**
 * Stores the objects, samples first, then the series rollup, stacks last, so a segment whose
 * stacks object exists is complete. Returns the bytes written. Not atomic as a set: the manifest
 * entry, published afterwards, is what makes a segment visible.
 */
export async function writeSegment(store: ObjectStore, keys: SegmentKeys, built: Pick<BuiltSegment, 'samples' | 'stacks' | 'series'>): Promise<number> {
  await store.put(keys.samples, built.samples, { contentType: PARQUET });
  await store.put(keys.series, built.series, { contentType: GZIP });
  await store.put(keys.stacks, built.stacks, { contentType: PARQUET });
  return built.samples.byteLength + built.series.byteLength + built.stacks.byteLength;
}

/** Fetches the samples and stacks objects whole; not_found if either is missing. */
export async function readSegment(store: ObjectStore, keys: SegmentKeys): Promise<{ samples: Buffer; stacks: Buffer }> {
  const [samples, stacks] = await Promise.all([store.get(keys.samples), store.get(keys.stacks)]);
  return { samples, stacks };
}

/** A ParquetByteSource that answers parquet-wasm's slices with ranged GETs. */
export function objectRangeSource(store: ObjectStore, key: string, size: number): ParquetByteSource {
  return {
    size,
    slice: (start, end) => ({
      arrayBuffer: async () => {
        const part = await store.getRange(key, start, Math.max(0, end - start));
        return part.buffer.slice(part.byteOffset, part.byteOffset + part.byteLength) as ArrayBuffer;
      },
    }),
  };
}

/**
 * Opens one segment object for ranged reading: footer first, then only the column chunks of the
 * row groups a `read` asks for. Close the reader when done.
 */
export async function openSegmentObject(store: ObjectStore, key: string, size?: number): Promise<ParquetReader> {
  let bytes = size;
  if (bytes === undefined) {
    const info = await store.head(key);
    if (!info) throw FirnError.notFound(`segment object ${JSON.stringify(key)} does not exist`);
    bytes = info.size;
  }
  return ParquetReader.open(objectRangeSource(store, key, bytes));
}

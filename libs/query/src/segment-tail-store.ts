import { MemoryLruCache } from '@firn/cache';
import type { ListOptions, ListPage, ObjectInfo, ObjectStore, PutOptions } from '@firn/storage';

/** A segment's Parquet object: `…/segments/L<level>/<day>/<id>/<samples|stacks>.parquet`. */
const SEGMENT_OBJECT = /\/segments\/L\d+\/\d{4}-\d{2}-\d{2}\/[^/]+\/(samples|stacks)\.parquet$/;

export const DEFAULT_TAIL_BYTES = 16 * 1024;
export const DEFAULT_TAIL_CACHE_BYTES = 32 * 1024 * 1024;
/** A cached value: the object's size and mtime (float64 LE each), then its last bytes. */
const HEADER_BYTES = 16;

export interface SegmentTailStoreOptions {
  /** Bound on cached sizes and tails together. Default 32 MiB. */
  maxBytes?: number;
  /** Bytes kept from the end of each object: the Parquet footer (≈ 3 KB for a flush). Default 16 KiB. */
  tailBytes?: number;
}

/**
 * An ObjectStore for queries that remembers, per segment object, its size and its last bytes.
 * Opening a Parquet object for ranged reads costs a HEAD (size), then two reads at its end (footer
 * length, then footer) before any column: on object storage, three round trips per segment per
 * query. Segment objects are immutable (unique ids, never rewritten), so after the first query a
 * segment costs only its column reads. A HEAD of a segment object fetches its tail right away
 * (the footer reads follow it anyway), so even a cold open is a HEAD and one read. Other keys
 * pass straight through. The bytes live in a MemoryLruCache.
 */
export class SegmentTailStore implements ObjectStore {
  private readonly cache: MemoryLruCache;
  private readonly tailBytes: number;
  hits = 0;
  misses = 0;

  constructor(
    private readonly inner: ObjectStore,
    opts: SegmentTailStoreOptions = {},
  ) {
    this.cache = new MemoryLruCache({ maxBytes: opts.maxBytes ?? DEFAULT_TAIL_CACHE_BYTES });
    this.tailBytes = opts.tailBytes ?? DEFAULT_TAIL_BYTES;
  }

  get description(): string {
    return this.inner.description;
  }

  get bytes(): number {
    return this.cache.sizeBytes;
  }

  async head(key: string): Promise<ObjectInfo | undefined> {
    if (!SEGMENT_OBJECT.test(key)) return this.inner.head(key);
    const [cached] = await this.cache.getMany([key]);
    if (cached) {
      this.hits++;
      return { key, size: cached.readDoubleLE(0), lastModified: new Date(cached.readDoubleLE(8)) };
    }
    this.misses++;
    const info = await this.inner.head(key);
    if (!info) return undefined;
    const tailLength = Math.min(info.size, this.tailBytes);
    const tail = tailLength > 0 ? await this.inner.getRange(key, info.size - tailLength, tailLength) : Buffer.alloc(0);
    if (tail.length === tailLength) {
      const value = Buffer.allocUnsafe(HEADER_BYTES + tail.length);
      value.writeDoubleLE(info.size, 0);
      value.writeDoubleLE(info.lastModified.getTime(), 8);
      tail.copy(value, HEADER_BYTES);
      await this.cache.setMany([{ key, value }]);
    }
    return info;
  }

  async getRange(key: string, offset: number, length: number): Promise<Buffer> {
    const [cached] = SEGMENT_OBJECT.test(key) ? await this.cache.getMany([key]) : [undefined];
    if (cached && Number.isSafeInteger(offset) && Number.isSafeInteger(length) && length >= 0) {
      const size = cached.readDoubleLE(0);
      const tailStart = size - (cached.length - HEADER_BYTES);
      if (offset >= tailStart) {
        this.hits++;
        const from = HEADER_BYTES + offset - tailStart;
        // A copy: callers may keep or transfer what they get.
        return Buffer.from(cached.subarray(from, Math.max(from, HEADER_BYTES + Math.min(offset + length, size) - tailStart)));
      }
    }
    return this.inner.getRange(key, offset, length);
  }

  get(key: string): Promise<Buffer> {
    return this.inner.get(key);
  }

  async put(key: string, body: Uint8Array, opts?: PutOptions): Promise<void> {
    await this.cache.deleteMany([key]);
    await this.inner.put(key, body, opts);
  }

  async delete(key: string): Promise<void> {
    await this.cache.deleteMany([key]);
    await this.inner.delete(key);
  }

  list(prefix: string, opts?: ListOptions): Promise<ListPage> {
    return this.inner.list(prefix, opts);
  }

  listAll(prefix: string): AsyncIterable<ObjectInfo> {
    return this.inner.listAll(prefix);
  }

  check(): Promise<void> {
    return this.inner.check();
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}

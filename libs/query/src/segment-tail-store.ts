import type { ListOptions, ListPage, ObjectInfo, ObjectStore, PutOptions } from '@firn/storage';

/** A segment's Parquet object: `…/segments/L<level>/<day>/<id>/<samples|stacks>.parquet`. */
const SEGMENT_OBJECT = /\/segments\/L\d+\/\d{4}-\d{2}-\d{2}\/[^/]+\/(samples|stacks)\.parquet$/;

export const DEFAULT_TAIL_BYTES = 16 * 1024;
export const DEFAULT_TAIL_CACHE_BYTES = 32 * 1024 * 1024;
/** Map slot, entry object, key string and ObjectInfo, roughly. */
const ENTRY_OVERHEAD_BYTES = 300;

interface Entry {
  info: ObjectInfo;
  /** The object's last bytes, from `tailStart` to its end, once a read has needed them. */
  tail?: Buffer;
  tailStart: number;
  bytes: number;
}

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
 * segment costs only its column reads. The first read in an object's tail fetches the whole tail
 * in one request, so even a cold open is a HEAD and one read. Other keys pass straight through.
 */
export class SegmentTailStore implements ObjectStore {
  private readonly entries = new Map<string, Entry>();
  private held = 0;
  private readonly maxBytes: number;
  private readonly tailBytes: number;
  hits = 0;
  misses = 0;

  constructor(
    private readonly inner: ObjectStore,
    opts: SegmentTailStoreOptions = {},
  ) {
    this.maxBytes = opts.maxBytes ?? DEFAULT_TAIL_CACHE_BYTES;
    this.tailBytes = opts.tailBytes ?? DEFAULT_TAIL_BYTES;
  }

  get description(): string {
    return this.inner.description;
  }

  get bytes(): number {
    return this.held;
  }

  async head(key: string): Promise<ObjectInfo | undefined> {
    if (!SEGMENT_OBJECT.test(key)) return this.inner.head(key);
    const e = this.touch(key);
    if (e) {
      this.hits++;
      return e.info;
    }
    this.misses++;
    const info = await this.inner.head(key);
    if (info) this.remember(key, { info, tailStart: Math.max(0, info.size - this.tailBytes), bytes: ENTRY_OVERHEAD_BYTES + key.length * 2 });
    return info;
  }

  async getRange(key: string, offset: number, length: number): Promise<Buffer> {
    const e = SEGMENT_OBJECT.test(key) ? this.touch(key) : undefined;
    if (!e || !Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < e.tailStart || length < 0) {
      return this.inner.getRange(key, offset, length);
    }
    if (!e.tail) {
      this.misses++;
      const tail = await this.inner.getRange(key, e.tailStart, e.info.size - e.tailStart);
      if (tail.length !== e.info.size - e.tailStart) return this.inner.getRange(key, offset, length);
      if (this.entries.get(key) === e && !e.tail) {
        e.tail = tail;
        e.bytes += tail.length;
        this.held += tail.length;
        this.evict();
      }
      return Buffer.from(tail.subarray(offset - e.tailStart, Math.min(offset + length, e.info.size) - e.tailStart));
    }
    this.hits++;
    // A copy: callers may keep or transfer what they get.
    return Buffer.from(e.tail.subarray(offset - e.tailStart, Math.min(offset + length, e.info.size) - e.tailStart));
  }

  get(key: string): Promise<Buffer> {
    return this.inner.get(key);
  }

  async put(key: string, body: Uint8Array, opts?: PutOptions): Promise<void> {
    this.forget(key);
    await this.inner.put(key, body, opts);
  }

  async delete(key: string): Promise<void> {
    this.forget(key);
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

  private touch(key: string): Entry | undefined {
    const e = this.entries.get(key);
    if (e) {
      this.entries.delete(key);
      this.entries.set(key, e);
    }
    return e;
  }

  private remember(key: string, e: Entry): void {
    this.forget(key);
    this.entries.set(key, e);
    this.held += e.bytes;
    this.evict();
  }

  private forget(key: string): void {
    const e = this.entries.get(key);
    if (e) {
      this.entries.delete(key);
      this.held -= e.bytes;
    }
  }

  private evict(): void {
    for (const [k, e] of this.entries) {
      if (this.held <= this.maxBytes) return;
      this.entries.delete(k);
      this.held -= e.bytes;
    }
  }
}

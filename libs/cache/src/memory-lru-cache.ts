import { FirnError } from '@firn/errors';
import type { CacheEntry, KeyValueCache } from './key-value-cache';

export interface MemoryLruCacheOptions {
  /** Bound on stored bytes, counting keys and a per-entry overhead, not just values. */
  maxBytes: number;
  /** Injected clock (ms) so tests can move time instead of sleeping. */
  now?: () => number;
}

interface Entry {
  value: Buffer;
  size: number;
  /** Infinity when the entry never expires. */
  expiresAt: number;
}

// Rough cost of the Map slot, entry object and Buffer header; keeps many tiny values from
// overshooting the memory bound by orders of magnitude.
const ENTRY_OVERHEAD_BYTES = 96;

/**
 * In-process LRU bounded by bytes, for single-process deployments and tests. A Map keeps
 * insertion order, so re-inserting on access makes the first key the least recently used.
 */
export class MemoryLruCache implements KeyValueCache {
  readonly description: string;
  private readonly entries = new Map<string, Entry>();
  private bytes = 0;
  private readonly now: () => number;

  constructor(private readonly opts: MemoryLruCacheOptions) {
    if (!(opts.maxBytes > 0)) throw FirnError.invalidArgument(`cache maxBytes must be > 0, got ${opts.maxBytes}`);
    this.now = opts.now ?? Date.now;
    this.description = `memory LRU (${opts.maxBytes} bytes)`;
  }

  /** Bytes currently accounted, overhead included. */
  get sizeBytes(): number {
    return this.bytes;
  }

  get size(): number {
    return this.entries.size;
  }

  async getMany(keys: string[]): Promise<(Buffer | undefined)[]> {
    const now = this.now();
    return keys.map((key) => {
      const e = this.entries.get(key);
      if (!e) return undefined;
      if (e.expiresAt <= now) {
        this.remove(key, e);
        return undefined;
      }
      this.entries.delete(key);
      this.entries.set(key, e);
      return e.value;
    });
  }

  async setMany(entries: CacheEntry[]): Promise<void> {
    const now = this.now();
    for (const { key, value, ttlSeconds } of entries) {
      if (ttlSeconds !== undefined && !(ttlSeconds > 0)) {
        throw FirnError.invalidArgument(`cache ttlSeconds must be > 0, got ${ttlSeconds} for key ${key}`);
      }
      const old = this.entries.get(key);
      if (old) this.remove(key, old);
      const size = value.byteLength + key.length * 2 + ENTRY_OVERHEAD_BYTES;
      // An entry that could never fit would only flush everything else.
      if (size > this.opts.maxBytes) continue;
      this.entries.set(key, {
        // Copy: the caller may reuse its buffer.
        value: Buffer.from(value),
        size,
        expiresAt: ttlSeconds === undefined ? Infinity : now + ttlSeconds * 1000,
      });
      this.bytes += size;
      this.evict();
    }
  }

  async deleteMany(keys: string[]): Promise<void> {
    for (const key of keys) {
      const e = this.entries.get(key);
      if (e) this.remove(key, e);
    }
  }

  async check(): Promise<void> {}

  async close(): Promise<void> {
    this.entries.clear();
    this.bytes = 0;
  }

  private evict(): void {
    for (const [key, e] of this.entries) {
      if (this.bytes <= this.opts.maxBytes) return;
      this.remove(key, e);
    }
  }

  private remove(key: string, e: Entry): void {
    this.entries.delete(key);
    this.bytes -= e.size;
  }
}

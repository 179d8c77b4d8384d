/**
 * A byte-valued cache looked up in batches. Misses are `undefined`; a cache is never the source
 * of truth, so callers treat an `unavailable` error as "compute it" rather than as a failure.
 */
export interface KeyValueCache {
  /** Same length and order as `keys`. Returned buffers must be treated as read-only. */
  getMany(keys: string[]): Promise<(Buffer | undefined)[]>;
  setMany(entries: CacheEntry[]): Promise<void>;
  deleteMany(keys: string[]): Promise<void>;
  /** Throws FirnError unavailable when the backend cannot serve. */
  check(): Promise<void>;
  close(): Promise<void>;
  /** Where the data lives, without secrets (for logs and health output). */
  readonly description: string;
}

export interface CacheEntry {
  key: string;
  value: Uint8Array;
  /** Omitted = no expiry (the backend's own eviction still applies). */
  ttlSeconds?: number;
}

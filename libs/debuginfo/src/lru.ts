/**
 * A bounded map that forgets the least recently used key first, with an optional per-entry age
 * limit. Map insertion order is the recency order (a hit re-inserts the key).
 */
export class LruMap<K, V> {
  private readonly entries = new Map<K, { value: V; expiresAt: number }>();

  constructor(
    private readonly maxEntries: number,
    private readonly ttlMs = Infinity,
    private readonly now: () => number = Date.now,
  ) {
    if (!(maxEntries > 0)) throw new RangeError(`LruMap maxEntries must be > 0, got ${maxEntries}`);
  }

  get(key: K): V | undefined {
    const e = this.entries.get(key);
    if (!e) return undefined;
    this.entries.delete(key);
    if (e.expiresAt <= this.now()) return undefined;
    this.entries.set(key, e);
    return e.value;
  }

  set(key: K, value: V): void {
    this.entries.delete(key);
    this.entries.set(key, { value, expiresAt: this.now() + this.ttlMs });
    while (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next().value as K;
      this.entries.delete(oldest);
    }
  }

  delete(key: K): void {
    this.entries.delete(key);
  }
}

/**
 * A bounded set of keys, each remembered for at most `ttlMs` after it was added, for hot paths
 * that look up far more often than they add. Two generations instead of a true LRU: a lookup is
 * one or two Map gets (no delete + re-insert per hit), adds go to the current generation, and
 * when that holds half of `maxEntries` it becomes the previous one and the old previous one is
 * dropped; a hit in the previous generation moves the key forward, so hot keys survive and at
 * most `maxEntries` (rounded up to even) are held. The age limit counts from the add, not from
 * the last hit.
 */
export class SeenSet<K> {
  private current = new Map<K, number>();
  private previous = new Map<K, number>();
  private readonly generationSize: number;

  constructor(
    maxEntries: number,
    private readonly ttlMs = Infinity,
  ) {
    if (!(maxEntries > 0)) throw new RangeError(`SeenSet maxEntries must be > 0, got ${maxEntries}`);
    this.generationSize = Math.ceil(maxEntries / 2);
  }

  /** Whether `key` was added less than ttlMs before `nowMs` (and not deleted or dropped since). */
  has(key: K, nowMs: number): boolean {
    const expiresAt = this.current.get(key);
    if (expiresAt !== undefined) return expiresAt > nowMs;
    const old = this.previous.get(key);
    if (old === undefined || old <= nowMs) return false;
    this.previous.delete(key);
    this.put(key, old);
    return true;
  }

  add(key: K, nowMs: number): void {
    this.previous.delete(key);
    this.current.delete(key);
    this.put(key, nowMs + this.ttlMs);
  }

  delete(key: K): void {
    this.current.delete(key);
    this.previous.delete(key);
  }

  get size(): number {
    return this.current.size + this.previous.size;
  }

  private put(key: K, expiresAt: number): void {
    if (this.current.size >= this.generationSize) {
      this.previous = this.current;
      this.current = new Map();
    }
    this.current.set(key, expiresAt);
  }
}

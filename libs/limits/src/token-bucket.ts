/**
 * Token buckets per key (tenant), refilled continuously. Memory is bounded by the number of keys
 * seen recently: buckets that are full again are dropped on the next sweep.
 */
export class RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number; rate: number; size: number }>();
  private lastSweep = 0;

  constructor(private readonly now: () => number = () => performance.now()) {}

  /**
   * Takes `amount` from `key`'s bucket of `rate` per second and size `burst`. Returns 0 when
   * allowed, else the seconds until `amount` would be available (nothing is taken). A request
   * larger than the bucket is measured against a full bucket, so it is never refused forever:
   * it waits until the bucket is full and then drives it negative.
   */
  take(key: string, amount: number, rate: number, burst: number): number {
    if (rate <= 0) return 0;
    const t = this.now();
    this.sweep(t);
    const size = Math.max(burst, rate);
    const b = this.buckets.get(key) ?? { tokens: size, at: t, rate, size };
    b.tokens = Math.min(size, b.tokens + ((t - b.at) / 1000) * rate);
    b.at = t;
    b.rate = rate;
    b.size = size;
    this.buckets.set(key, b);
    const need = Math.min(amount, size);
    if (b.tokens >= need) {
      b.tokens -= amount;
      return 0;
    }
    return (need - b.tokens) / rate;
  }

  get size(): number {
    return this.buckets.size;
  }

  private sweep(t: number): void {
    if (t - this.lastSweep < 60_000) return;
    this.lastSweep = t;
    for (const [k, b] of this.buckets) if (b.tokens + ((t - b.at) / 1000) * b.rate >= b.size) this.buckets.delete(k);
  }
}

/** Counts in-flight work per key; `tryAcquire` returns a release function or undefined when full. */
export class ConcurrencyLimiter {
  private readonly inFlight = new Map<string, number>();

  tryAcquire(key: string, max: number): (() => void) | undefined {
    const n = this.inFlight.get(key) ?? 0;
    if (n >= max) return undefined;
    this.inFlight.set(key, n + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.inFlight.get(key) ?? 1) - 1;
      if (left <= 0) this.inFlight.delete(key);
      else this.inFlight.set(key, left);
    };
  }

  current(key: string): number {
    return this.inFlight.get(key) ?? 0;
  }
}

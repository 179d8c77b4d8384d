import { describe, expect, it } from 'vitest';
import { isFirnError } from '@firn/errors';
import { MemoryLruCache } from './memory-lru-cache';

const bytes = (n: number, fill = 1): Uint8Array => new Uint8Array(n).fill(fill);

describe(MemoryLruCache.name, () => {
  it('returns what was set, in key order, with misses as undefined', async () => {
    const cache = new MemoryLruCache({ maxBytes: 1 << 20 });
    await cache.setMany([
      { key: 'a', value: Buffer.from('alpha') },
      { key: 'b', value: Buffer.from('beta') },
    ]);
    const got = await cache.getMany(['b', 'missing', 'a']);
    expect(got.map((v) => v?.toString())).toEqual(['beta', undefined, 'alpha']);
  });

  it('copies values so later changes to the caller buffer do not leak in', async () => {
    const cache = new MemoryLruCache({ maxBytes: 1 << 20 });
    const value = Buffer.from('abc');
    await cache.setMany([{ key: 'k', value }]);
    value[0] = 0x7a;
    expect((await cache.getMany(['k']))[0]?.toString()).toBe('abc');
  });

  it('evicts the least recently used entries once the byte bound is exceeded', async () => {
    // Each entry costs 1000 value bytes + overhead; room for 3, not 4.
    const cache = new MemoryLruCache({ maxBytes: 3 * 1200 });
    await cache.setMany(['a', 'b', 'c'].map((key) => ({ key, value: bytes(1000) })));
    await cache.getMany(['a']); // a is now the most recent; b is the oldest
    await cache.setMany([{ key: 'd', value: bytes(1000) }]);
    const got = await cache.getMany(['a', 'b', 'c', 'd']);
    expect(got.map((v) => v !== undefined)).toEqual([true, false, true, true]);
    expect(cache.sizeBytes).toBeLessThanOrEqual(3 * 1200);
  });

  it('keeps the bound when one key is overwritten many times', async () => {
    const cache = new MemoryLruCache({ maxBytes: 10_000 });
    for (let i = 0; i < 100; i++) await cache.setMany([{ key: 'k', value: bytes(500, i) }]);
    expect(cache.size).toBe(1);
    expect((await cache.getMany(['k']))[0]?.[0]).toBe(99);
    expect(cache.sizeBytes).toBeLessThan(1000);
  });

  it('does not store an entry larger than the whole cache, and keeps the others', async () => {
    const cache = new MemoryLruCache({ maxBytes: 2000 });
    await cache.setMany([{ key: 'small', value: bytes(10) }]);
    await cache.setMany([{ key: 'huge', value: bytes(5000) }]);
    const got = await cache.getMany(['small', 'huge']);
    expect(got.map((v) => v !== undefined)).toEqual([true, false]);
  });

  it('expires entries after their TTL and keeps entries without one', async () => {
    let now = 1_000_000;
    const cache = new MemoryLruCache({ maxBytes: 1 << 20, now: () => now });
    await cache.setMany([
      { key: 'short', value: bytes(1), ttlSeconds: 10 },
      { key: 'forever', value: bytes(1) },
    ]);
    now += 9_999;
    expect((await cache.getMany(['short', 'forever'])).map((v) => v !== undefined)).toEqual([true, true]);
    now += 2;
    expect((await cache.getMany(['short', 'forever'])).map((v) => v !== undefined)).toEqual([false, true]);
    expect(cache.size).toBe(1);
  });

  it('deletes keys', async () => {
    const cache = new MemoryLruCache({ maxBytes: 1 << 20 });
    await cache.setMany([
      { key: 'a', value: bytes(3) },
      { key: 'b', value: bytes(3) },
    ]);
    await cache.deleteMany(['a', 'nope']);
    expect((await cache.getMany(['a', 'b'])).map((v) => v !== undefined)).toEqual([false, true]);
  });

  it('rejects a non-positive TTL as invalid_argument', async () => {
    const cache = new MemoryLruCache({ maxBytes: 1 << 20 });
    const err = await cache.setMany([{ key: 'a', value: bytes(1), ttlSeconds: 0 }]).catch((e: unknown) => e);
    expect(isFirnError(err, 'invalid_argument')).toBe(true);
  });
});

import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { isFirnError } from '@firn/errors';
import { startRedis, type TestRedis } from '@firn/testing';
import { RedisCache } from './redis-cache';

describe(RedisCache.name, () => {
  let redis: TestRedis;
  const caches: RedisCache[] = [];
  const open = (keyPrefix = 'test:'): RedisCache => {
    const c = new RedisCache({ url: redis.url, keyPrefix });
    caches.push(c);
    return c;
  };

  beforeAll(async () => {
    redis = await startRedis();
  });
  afterEach(async () => {
    await Promise.all(caches.splice(0).map((c) => c.close()));
  });
  afterAll(async () => {
    await redis?.stop();
  });

  it('round-trips binary values and reports misses as undefined', async () => {
    const cache = open();
    const binary = Buffer.from([0, 255, 1, 254, 0]);
    await cache.setMany([
      { key: 'bin', value: binary },
      { key: 'text', value: new TextEncoder().encode('hello') },
    ]);
    const [bin, missing, text] = await cache.getMany(['bin', 'missing', 'text']);
    expect(bin).toEqual(binary);
    expect(missing).toBeUndefined();
    expect(text?.toString()).toBe('hello');
    await cache.check();
  });

  it('keeps key prefixes apart', async () => {
    await open('a:').setMany([{ key: 'k', value: Buffer.from('from a') }]);
    const [v] = await open('b:').getMany(['k']);
    expect(v).toBeUndefined();
  });

  it('gets 5000 keys in one batch, in order', async () => {
    const cache = open('many:');
    const keys = Array.from({ length: 5000 }, (_, i) => `key-${i}`);
    await cache.setMany(keys.filter((_, i) => i % 2 === 0).map((key) => ({ key, value: Buffer.from(key) })));
    const got = await cache.getMany(keys);
    expect(got).toHaveLength(5000);
    got.forEach((v, i) => expect(v?.toString()).toBe(i % 2 === 0 ? keys[i] : undefined));
  });

  it('expires entries after their TTL', async () => {
    const cache = open('ttl:');
    await cache.setMany([
      { key: 'short', value: Buffer.from('x'), ttlSeconds: 0.2 },
      { key: 'long', value: Buffer.from('y'), ttlSeconds: 60 },
    ]);
    expect((await cache.getMany(['short']))[0]?.toString()).toBe('x');
    await expect.poll(async () => (await cache.getMany(['short']))[0], { timeout: 5000, interval: 50 }).toBeUndefined();
    expect((await cache.getMany(['long']))[0]?.toString()).toBe('y');
  });

  it('deletes keys', async () => {
    const cache = open('del:');
    await cache.setMany([
      { key: 'a', value: Buffer.from('1') },
      { key: 'b', value: Buffer.from('2') },
    ]);
    await cache.deleteMany(['a']);
    expect((await cache.getMany(['a', 'b'])).map((v) => v?.toString())).toEqual([undefined, '2']);
  });

  it('does not put the password in its description', () => {
    const cache = new RedisCache({ url: 'redis://user:s3cret@127.0.0.1:1/2' });
    caches.push(cache);
    expect(cache.description).not.toContain('s3cret');
    expect(cache.description).toContain('127.0.0.1:1');
  });

  it('fails fast with unavailable when nothing listens', async () => {
    const cache = new RedisCache({ url: 'redis://127.0.0.1:1', connectTimeoutMs: 500 });
    caches.push(cache);
    const err = await cache.getMany(['k']).catch((e: unknown) => e);
    expect(isFirnError(err, 'unavailable')).toBe(true);
  });

  // Last: stops the shared server.
  it('rejects with unavailable once Redis is stopped', async () => {
    const cache = open('down:');
    await cache.setMany([{ key: 'k', value: Buffer.from('v') }]);
    expect((await cache.getMany(['k']))[0]?.toString()).toBe('v');
    await redis.stop();
    const first = await cache.getMany(['k']).catch((e: unknown) => e);
    expect(isFirnError(first, 'unavailable')).toBe(true);
    // Later calls, while the client reconnects in the background, fail the same way.
    const second = await cache.getMany(['k']).catch((e: unknown) => e);
    expect(isFirnError(second, 'unavailable')).toBe(true);
    await expect(cache.check()).rejects.toSatisfy((e: unknown) => isFirnError(e, 'unavailable'));
  });
});

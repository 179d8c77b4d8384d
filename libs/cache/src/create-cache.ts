import type { KeyValueCache } from './key-value-cache';
import { MemoryLruCache } from './memory-lru-cache';
import { RedisCache, type RedisCacheOptions } from './redis-cache';

export type CacheConfig = { kind: 'memory'; maxBytes: number } | ({ kind: 'redis' } & RedisCacheOptions);

/** Builds the cache a component's config asks for; no connection is made until first use. */
export function createCache(config: CacheConfig): KeyValueCache {
  switch (config.kind) {
    case 'memory':
      return new MemoryLruCache({ maxBytes: config.maxBytes });
    case 'redis': {
      const { kind: _kind, ...opts } = config;
      return new RedisCache(opts);
    }
  }
}

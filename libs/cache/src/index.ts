export type { CacheEntry, KeyValueCache } from './key-value-cache';
export { MemoryLruCache, type MemoryLruCacheOptions } from './memory-lru-cache';
export { RedisCache, type RedisCacheOptions } from './redis-cache';
export { createCache, type CacheConfig } from './create-cache';

export type { CacheEntry, KeyValueCache } from './key-value-cache';
export { MemoryLruCache } from './memory-lru-cache';
export { RedisCache } from './redis-cache';
export { createCache } from './create-cache';

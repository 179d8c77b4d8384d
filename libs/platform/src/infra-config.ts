import { join, resolve } from 'node:path';
import { ConfigError } from '@firn/config';
import type { ObjectStoreConfig } from '@firn/storage';

/** The storage settings of `storageSettings()` in @firn/config. */
export interface StorageSettings {
  storage: 'local' | 's3';
  dataDir: string;
  s3Endpoint: string;
  s3Region: string;
  s3Bucket: string;
  s3Prefix: string;
  s3AccessKeyId: string;
  s3SecretAccessKey: string;
  s3ForcePathStyle: boolean;
}

/** Cross-field rules live here so they fail at boot, naming the key, like any other setting. */
export function objectStoreConfigFrom(s: StorageSettings): ObjectStoreConfig {
  if (s.storage === 'local') return { kind: 'local', dir: join(resolve(s.dataDir), 'objects') };
  if (!s.s3Bucket) throw new ConfigError('s3Bucket', 'FIRN_S3_BUCKET (--s3-bucket) is required when FIRN_STORAGE=s3');
  if ((s.s3AccessKeyId === '') !== (s.s3SecretAccessKey === '')) {
    throw new ConfigError('s3SecretAccessKey', 'FIRN_S3_ACCESS_KEY_ID and FIRN_S3_SECRET_ACCESS_KEY must be set together');
  }
  return {
    kind: 's3',
    bucket: s.s3Bucket,
    region: s.s3Region,
    endpoint: s.s3Endpoint || undefined,
    prefix: s.s3Prefix || undefined,
    accessKeyId: s.s3AccessKeyId || undefined,
    secretAccessKey: s.s3SecretAccessKey || undefined,
    forcePathStyle: s.s3ForcePathStyle,
  };
}

export interface CacheSettings {
  symbolCache: 'redis' | 'memory';
  redisUrl: string;
  memoryCacheBytes: number;
}

export function cacheConfigFrom(s: CacheSettings): { kind: 'memory'; maxBytes: number } | { kind: 'redis'; url: string } {
  if (s.symbolCache === 'memory') return { kind: 'memory', maxBytes: s.memoryCacheBytes };
  if (!/^rediss?:\/\//.test(s.redisUrl))
    throw new ConfigError('redisUrl', `FIRN_REDIS_URL (--redis-url) must be a redis:// URL (got ${JSON.stringify(s.redisUrl)})`);
  return { kind: 'redis', url: s.redisUrl };
}

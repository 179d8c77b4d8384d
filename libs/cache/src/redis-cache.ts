import { FirnError } from '@firn/errors';
import Redis from 'ioredis';
import type { CacheEntry, KeyValueCache } from './key-value-cache';

export interface RedisCacheOptions {
  /** redis://[user:pass@]host:port[/db] */
  url: string;
  /** Prepended to every key, e.g. "firn:symbols:". */
  keyPrefix?: string;
  /** A command (or batch) not answered within this fails as unavailable. Default 2000 ms. */
  commandTimeoutMs?: number;
  connectTimeoutMs?: number;
  /** Keys per MGET/DEL command inside a batch's pipeline. Default 1000. */
  chunkSize?: number;
  /** Told about connection errors (ioredis reports them as events, not to callers). */
  onError?: (err: Error) => void;
}

const DEFAULT_COMMAND_TIMEOUT_MS = 2000;
const DEFAULT_CONNECT_TIMEOUT_MS = 2000;
const DEFAULT_CHUNK = 1000;
const MAX_RECONNECT_DELAY_MS = 2000;

/**
 * Redis-backed cache. Every batch is one pipeline, so one round trip however many keys.
 * When Redis is down, calls fail at once with FirnError unavailable instead of queueing:
 * a cache that waits for its backend is slower than no cache.
 */
export class RedisCache implements KeyValueCache {
  readonly description: string;
  private readonly redis: Redis;
  private readonly chunk: number;
  private connecting: Promise<void> | undefined;
  private lastError: Error | undefined;

  constructor(opts: RedisCacheOptions) {
    this.description = describe(opts.url, opts.keyPrefix);
    this.chunk = opts.chunkSize ?? DEFAULT_CHUNK;
    this.redis = new Redis(opts.url, {
      keyPrefix: opts.keyPrefix,
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      commandTimeout: opts.commandTimeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS,
      connectTimeout: opts.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
      // Keep reconnecting in the background with a bounded delay; callers fail fast meanwhile.
      retryStrategy: (times) => Math.min(times * 100, MAX_RECONNECT_DELAY_MS),
    });
    this.redis.on('error', (err: Error) => {
      this.lastError = err;
      opts.onError?.(err);
    });
  }

  async getMany(keys: string[]): Promise<(Buffer | undefined)[]> {
    if (keys.length === 0) return [];
    await this.ensureConnected();
    const pipeline = this.redis.pipeline();
    for (let i = 0; i < keys.length; i += this.chunk) pipeline.mgetBuffer(keys.slice(i, i + this.chunk));
    const chunks = await this.exec<(Buffer | null)[]>(pipeline, 'get');
    const out: (Buffer | undefined)[] = [];
    for (const values of chunks) for (const v of values) out.push(v ?? undefined);
    return out;
  }

  async setMany(entries: CacheEntry[]): Promise<void> {
    if (entries.length === 0) return;
    for (const e of entries) {
      if (e.ttlSeconds !== undefined && !(e.ttlSeconds > 0)) {
        throw FirnError.invalidArgument(`cache ttlSeconds must be > 0, got ${e.ttlSeconds} for key ${e.key}`);
      }
    }
    await this.ensureConnected();
    const pipeline = this.redis.pipeline();
    for (const { key, value, ttlSeconds } of entries) {
      const buf = Buffer.from(value.buffer, value.byteOffset, value.byteLength);
      if (ttlSeconds === undefined) pipeline.set(key, buf);
      else pipeline.set(key, buf, 'PX', Math.ceil(ttlSeconds * 1000));
    }
    await this.exec(pipeline, 'set');
  }

  async deleteMany(keys: string[]): Promise<void> {
    if (keys.length === 0) return;
    await this.ensureConnected();
    const pipeline = this.redis.pipeline();
    // UNLINK frees memory off the main thread, unlike DEL.
    for (let i = 0; i < keys.length; i += this.chunk) pipeline.unlink(...keys.slice(i, i + this.chunk));
    await this.exec(pipeline, 'delete');
  }

  async check(): Promise<void> {
    await this.ensureConnected();
    try {
      await this.redis.ping();
    } catch (err) {
      throw this.unavailable('ping', err);
    }
  }

  async close(): Promise<void> {
    if (this.redis.status === 'end' || this.redis.status === 'wait') {
      this.redis.disconnect();
      return;
    }
    try {
      await this.redis.quit();
    } catch {
      // QUIT needs a live connection; without one, dropping the socket is all there is to do.
      this.redis.disconnect();
    }
  }

  private async ensureConnected(): Promise<void> {
    const status = this.redis.status;
    if (status === 'ready') return;
    if (status === 'wait' || status === 'end') {
      this.connecting ??= this.redis.connect().finally(() => {
        this.connecting = undefined;
      });
    }
    if (this.connecting) {
      try {
        await this.connecting;
        return;
      } catch (err) {
        throw this.unavailable('connect', err);
      }
    }
    throw this.unavailable('connect', this.lastError ?? new Error(`connection is ${status}`));
  }

  private async exec<T>(pipeline: ReturnType<Redis['pipeline']>, op: string): Promise<T[]> {
    let results: [Error | null, unknown][] | null;
    try {
      results = await pipeline.exec();
    } catch (err) {
      throw this.unavailable(op, err);
    }
    if (results === null) throw this.unavailable(op, new Error('pipeline was discarded'));
    return results.map(([err, value]) => {
      if (err) throw this.unavailable(op, err);
      return value as T;
    });
  }

  private unavailable(op: string, err: unknown): FirnError {
    const why = err instanceof Error ? err.message : String(err);
    return FirnError.unavailable(`cache ${this.description}: ${op} failed: ${why}`, err);
  }
}

/** host:port/db and prefix, never the password. */
function describe(url: string, keyPrefix: string | undefined): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw FirnError.invalidArgument('redis cache url is not a valid URL (expected redis://host:port)');
  }
  const where = `${u.protocol}//${u.host}${u.pathname === '/' || u.pathname === '' ? '' : u.pathname}`;
  return keyPrefix ? `redis ${where} prefix ${keyPrefix}` : `redis ${where}`;
}

import { z } from 'zod';
import { bool, durationMs, positiveInt, setting } from '@firn/config';
import { DEFAULT_DEBUGINFOD_OPTIONS, type DebuginfodClientOptions } from './debug-files/debuginfod-client';
import { DEFAULT_SYMBOLIZE_QUEUE_OPTIONS, type SymbolizeQueueOptions } from './symbolize/symbolize-queue';

const d = DEFAULT_DEBUGINFOD_OPTIONS;
const urls = z
  .string()
  .transform((s) =>
    s
      .split(',')
      .map((u) => u.trim())
      .filter(Boolean),
  )
  .pipe(z.array(z.string().url('each debuginfod URL must be a URL')));
const nonNegativeInt = z.coerce.number().int().min(0);

/** debuginfod client settings, shared by the gateway (ShouldInitiateUpload) and the symbolizer. */
export function debuginfodSettings() {
  return {
    debuginfodUrls: setting({
      env: 'FIRN_DEBUGINFOD_URLS',
      flag: 'debuginfod-urls',
      schema: urls,
      default: '',
      description: 'debuginfod servers, comma-separated, tried in order (empty = uploads only).',
    }),
    debuginfodTimeoutMs: setting({
      env: 'FIRN_DEBUGINFOD_TIMEOUT_MS',
      flag: 'debuginfod-timeout-ms',
      schema: durationMs,
      default: String(d.timeoutMs),
      description: 'Timeout of one debuginfod request (headers and body).',
    }),
    debuginfodRetries: setting({
      env: 'FIRN_DEBUGINFOD_RETRIES',
      flag: 'debuginfod-retries',
      schema: nonNegativeInt,
      default: String(d.retries),
      description: 'Retries per server on 5xx or network errors (exponential backoff).',
    }),
    debuginfodConcurrency: setting({
      env: 'FIRN_DEBUGINFOD_CONCURRENCY',
      flag: 'debuginfod-concurrency',
      schema: positiveInt,
      default: String(d.concurrency),
      description: 'debuginfod requests in flight at once.',
    }),
    debuginfodNegativeTtlMs: setting({
      env: 'FIRN_DEBUGINFOD_NEGATIVE_TTL_MS',
      flag: 'debuginfod-negative-ttl-ms',
      schema: durationMs,
      default: String(d.negativeTtlMs),
      description: 'A build id no server has is not asked for again for this long.',
    }),
    debuginfodMaxBytes: setting({
      env: 'FIRN_DEBUGINFOD_MAX_BYTES',
      flag: 'debuginfod-max-bytes',
      schema: positiveInt,
      default: String(d.maxBytes),
      description: 'Largest file downloaded from debuginfod.',
    }),
  };
}

export interface DebuginfodSettings {
  debuginfodUrls: string[];
  debuginfodTimeoutMs: number;
  debuginfodRetries: number;
  debuginfodConcurrency: number;
  debuginfodNegativeTtlMs: number;
  debuginfodMaxBytes: number;
}

export function debuginfodOptionsFrom(c: DebuginfodSettings): Omit<DebuginfodClientOptions, 'onRequest' | 'fetch' | 'now'> {
  return {
    ...DEFAULT_DEBUGINFOD_OPTIONS,
    servers: c.debuginfodUrls,
    timeoutMs: c.debuginfodTimeoutMs,
    retries: c.debuginfodRetries,
    concurrency: c.debuginfodConcurrency,
    negativeTtlMs: c.debuginfodNegativeTtlMs,
    maxBytes: c.debuginfodMaxBytes,
  };
}

/** The ingester's symbolize-queue settings (ingester app and all-in-one). */
export function symbolizeQueueSettings() {
  const q = DEFAULT_SYMBOLIZE_QUEUE_OPTIONS;
  return {
    symbolizeQueue: setting({
      env: 'FIRN_SYMBOLIZE_QUEUE',
      flag: 'symbolize-queue',
      schema: bool,
      default: String(q.enabled),
      description: 'Queue the addresses of unsymbolized frames for the symbolizer after each segment flush.',
    }),
    symbolizeSeenEntries: setting({
      env: 'FIRN_SYMBOLIZE_SEEN_ENTRIES',
      flag: 'symbolize-seen-entries',
      schema: positiveInt,
      default: String(q.seenEntries),
      description: 'Addresses remembered as already queued (LRU), per ingester.',
    }),
    symbolizeSeenTtlMs: setting({
      env: 'FIRN_SYMBOLIZE_SEEN_TTL_MS',
      flag: 'symbolize-seen-ttl-ms',
      schema: durationMs,
      default: String(q.seenTtlMs),
      description: 'An address is not queued again for this long.',
    }),
  };
}

export function symbolizeQueueOptionsFrom(c: { symbolizeQueue: boolean; symbolizeSeenEntries: number; symbolizeSeenTtlMs: number }): SymbolizeQueueOptions {
  return { ...DEFAULT_SYMBOLIZE_QUEUE_OPTIONS, enabled: c.symbolizeQueue, seenEntries: c.symbolizeSeenEntries, seenTtlMs: c.symbolizeSeenTtlMs };
}

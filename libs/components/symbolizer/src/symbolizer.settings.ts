import { z } from 'zod';
import { duration, nonEmpty, positiveInt, setting } from '@firn/config';
import { debuginfodOptionsFrom, debuginfodSettings, type DebuginfodSettings } from '@firn/debuginfo';
import { DEFAULT_SYMBOLIZER_OPTIONS, type SymbolizerOptions } from './symbolizer.options';

/** At least a second: the symbol cache's TTLs are whole seconds. */
const seconds = duration({ bare: 's' }).pipe(z.number().min(1000, 'must be at least 1s'));

/** Symbolizer settings, shared by the symbolizer app and the all-in-one. */
export function symbolizerSettings() {
  const d = DEFAULT_SYMBOLIZER_OPTIONS;
  return {
    ...debuginfodSettings(),
    symbolizerCacheDir: setting({
      env: 'FIRN_SYMBOLIZER_CACHE_DIR',
      flag: 'symbolizer-cache-dir',
      schema: nonEmpty,
      default: d.cacheDir,
      description: 'Directory for local copies of debug files.',
    }),
    symbolizerCacheBytes: setting({
      env: 'FIRN_SYMBOLIZER_CACHE_BYTES',
      flag: 'symbolizer-cache-bytes',
      schema: positiveInt,
      default: String(d.cacheDirBytes),
      description: 'Size bound of the symbolizer cache directory (least recently used files go first).',
    }),
    symbolizerJobs: setting({
      env: 'FIRN_SYMBOLIZER_JOBS',
      flag: 'symbolizer-jobs',
      schema: positiveInt,
      default: String(d.jobs),
      description: 'Queue jobs handled at once by one symbolizer.',
    }),
    // Named in seconds before durations: a bare number is still seconds.
    symbolTtlMs: setting({
      env: 'FIRN_SYMBOL_TTL_SECONDS',
      flag: 'symbol-ttl-seconds',
      schema: seconds,
      default: String(d.symbolTtlSeconds),
      description: 'TTL of resolved addresses in the symbol cache (a duration like 7d; a bare number is seconds).',
    }),
    symbolNegativeTtlMs: setting({
      env: 'FIRN_SYMBOL_NEGATIVE_TTL_SECONDS',
      flag: 'symbol-negative-ttl-seconds',
      schema: seconds,
      default: String(d.negativeTtlSeconds),
      description: 'TTL of unresolvable-address entries; after it they are tried again (a duration like 1h; a bare number is seconds).',
    }),
  };
}

export interface SymbolizerSettings extends DebuginfodSettings {
  symbolizerCacheDir: string;
  symbolizerCacheBytes: number;
  symbolizerJobs: number;
  symbolTtlMs: number;
  symbolNegativeTtlMs: number;
}

export function symbolizerOptionsFrom(c: SymbolizerSettings): SymbolizerOptions {
  return {
    ...DEFAULT_SYMBOLIZER_OPTIONS,
    debuginfod: debuginfodOptionsFrom(c),
    cacheDir: c.symbolizerCacheDir,
    cacheDirBytes: c.symbolizerCacheBytes,
    jobs: c.symbolizerJobs,
    symbolTtlSeconds: Math.ceil(c.symbolTtlMs / 1000),
    negativeTtlSeconds: Math.ceil(c.symbolNegativeTtlMs / 1000),
  };
}

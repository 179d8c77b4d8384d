import { nonEmpty, positiveInt, setting } from '@firn/config';
import { debuginfodOptionsFrom, debuginfodSettings, type DebuginfodSettings } from '@firn/debuginfo';
import { DEFAULT_SYMBOLIZER_OPTIONS, type SymbolizerOptions } from './symbolizer.options';

/** Symbolizer settings, shared by the symbolizer app and the all-in-one. */
export function symbolizerSettings() {
  const d = DEFAULT_SYMBOLIZER_OPTIONS;
  return {
    ...debuginfodSettings(),
    symbolizerCacheDir: setting({ env: 'FIRN_SYMBOLIZER_CACHE_DIR', flag: 'symbolizer-cache-dir', schema: nonEmpty, default: d.cacheDir, description: 'Directory for local copies of debug files.' }),
    symbolizerCacheBytes: setting({ env: 'FIRN_SYMBOLIZER_CACHE_BYTES', flag: 'symbolizer-cache-bytes', schema: positiveInt, default: String(d.cacheDirBytes), description: 'Size bound of the symbolizer cache directory (least recently used files go first).' }),
    symbolizerJobs: setting({ env: 'FIRN_SYMBOLIZER_JOBS', flag: 'symbolizer-jobs', schema: positiveInt, default: String(d.jobs), description: 'Queue jobs handled at once by one symbolizer.' }),
    symbolTtlSeconds: setting({ env: 'FIRN_SYMBOL_TTL_SECONDS', flag: 'symbol-ttl-seconds', schema: positiveInt, default: String(d.symbolTtlSeconds), description: 'TTL of resolved addresses in the symbol cache.' }),
    symbolNegativeTtlSeconds: setting({ env: 'FIRN_SYMBOL_NEGATIVE_TTL_SECONDS', flag: 'symbol-negative-ttl-seconds', schema: positiveInt, default: String(d.negativeTtlSeconds), description: 'TTL of unresolvable-address entries; after it they are tried again.' }),
  };
}

export interface SymbolizerSettings extends DebuginfodSettings {
  symbolizerCacheDir: string;
  symbolizerCacheBytes: number;
  symbolizerJobs: number;
  symbolTtlSeconds: number;
  symbolNegativeTtlSeconds: number;
}

export function symbolizerOptionsFrom(c: SymbolizerSettings): SymbolizerOptions {
  return {
    ...DEFAULT_SYMBOLIZER_OPTIONS,
    debuginfod: debuginfodOptionsFrom(c),
    cacheDir: c.symbolizerCacheDir,
    cacheDirBytes: c.symbolizerCacheBytes,
    jobs: c.symbolizerJobs,
    symbolTtlSeconds: c.symbolTtlSeconds,
    negativeTtlSeconds: c.symbolNegativeTtlSeconds,
  };
}

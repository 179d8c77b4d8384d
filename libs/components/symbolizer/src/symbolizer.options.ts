import type { DebuginfodClientOptions } from '@firn/debuginfo';

export interface SymbolizerOptions {
  debuginfod: Omit<DebuginfodClientOptions, 'onRequest' | 'fetch' | 'now'>;
  /** Local copies of debug files (the symbol reader wants paths). */
  cacheDir: string;
  cacheDirBytes: number;
  /** Jobs handled at once by this replica. */
  jobs: number;
  /** TTL of resolved addresses in the symbol cache. */
  symbolTtlSeconds: number;
  /** TTL of "could not resolve" entries; after it the address is tried again. */
  negativeTtlSeconds: number;
  /** How long a build id's unresolved addresses are remembered for a retry after an upload. */
  pendingTtlMs: number;
}

export const SYMBOLIZER_OPTIONS = Symbol('firn.symbolizer-options');
/** The symbol reader (@firn/symbols in production; tests may provide another). */
export const SYMBOL_READER = Symbol('firn.symbol-reader');

export const DEFAULT_SYMBOLIZER_OPTIONS: Omit<SymbolizerOptions, 'debuginfod'> = {
  cacheDir: './.firn/symbolizer-cache',
  cacheDirBytes: 4 * 1024 * 1024 * 1024,
  jobs: 2,
  symbolTtlSeconds: 7 * 24 * 3600,
  negativeTtlSeconds: 3600,
  pendingTtlMs: 7 * 24 * 3600_000,
};

import type { DebuginfodClientOptions } from '@firn/debuginfo';

export interface DebuginfoOptions {
  /** Largest debuginfo file accepted. */
  maxUploadBytes: number;
  /** An upload unfinished after this long may be started again. */
  staleUploadMs: number;
  /** Asked by ShouldInitiateUpload: a build id debuginfod has needs no upload. */
  debuginfod: Omit<DebuginfodClientOptions, 'onRequest' | 'fetch' | 'now'>;
}

export const DEBUGINFO_OPTIONS = Symbol('firn.gateway-debuginfo-options');

export const DEFAULT_DEBUGINFO_OPTIONS: Omit<DebuginfoOptions, 'debuginfod'> = {
  maxUploadBytes: 1024 * 1024 * 1024,
  staleUploadMs: 15 * 60_000,
};

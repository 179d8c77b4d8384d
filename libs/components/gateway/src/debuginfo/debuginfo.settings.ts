import { durationMs, positiveInt, setting } from '@firn/config';
import { debuginfodOptionsFrom, debuginfodSettings, type DebuginfodSettings } from '@firn/debuginfo';
import { DEFAULT_DEBUGINFO_OPTIONS, type DebuginfoOptions } from './debuginfo.options';

/** Debuginfo upload settings of the gateway (and the all-in-one). */
export function debuginfoSettings() {
  const d = DEFAULT_DEBUGINFO_OPTIONS;
  return {
    ...debuginfodSettings(),
    debuginfoMaxUploadBytes: setting({
      env: 'FIRN_DEBUGINFO_MAX_UPLOAD_BYTES',
      flag: 'debuginfo-max-upload-bytes',
      schema: positiveInt,
      default: String(d.maxUploadBytes),
      description: 'Largest debuginfo upload accepted (declared and streamed size).',
    }),
    debuginfoStaleUploadMs: setting({
      env: 'FIRN_DEBUGINFO_STALE_UPLOAD_MS',
      flag: 'debuginfo-stale-upload-ms',
      schema: durationMs,
      default: String(d.staleUploadMs),
      description: 'An upload not finished after this long may be started again.',
    }),
  };
}

export function debuginfoOptionsFrom(c: DebuginfodSettings & { debuginfoMaxUploadBytes: number; debuginfoStaleUploadMs: number }): DebuginfoOptions {
  return { maxUploadBytes: c.debuginfoMaxUploadBytes, staleUploadMs: c.debuginfoStaleUploadMs, debuginfod: debuginfodOptionsFrom(c) };
}

import { FirnError } from '@firn/errors';

/** Unix seconds (Pyroscope's default), or milliseconds / nanoseconds recognized by magnitude. */
export function parseIngestTime(raw: string | undefined, key: string, fallbackMs: number): number {
  if (raw === undefined || raw === '') return fallbackMs;
  if (!/^\d{1,20}$/.test(raw)) throw FirnError.invalidArgument(`"${key}" must be a unix timestamp (got ${JSON.stringify(raw)})`);
  const n = Number(raw);
  if (n >= 1e17) return Math.floor(n / 1e6); // ns
  if (n >= 1e14) return Math.floor(n / 1e3); // µs
  if (n >= 1e11) return n; // ms
  return n * 1000; // s
}

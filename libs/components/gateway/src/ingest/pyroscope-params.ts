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

/**
 * Express decodes query strings leniently: a value whose percent-escapes are not UTF-8 stays
 * literal ("%FF"), silently becoming part of an app name or label. Refuse it instead.
 */
export function assertUtf8QueryParam(url: string | undefined, key: string): void {
  const query = url?.split('?', 2)[1] ?? '';
  for (const pair of query.split('&')) {
    const [k, v = ''] = pair.split('=', 2);
    if (k !== key) continue;
    try {
      decodeURIComponent(v.replace(/\+/g, ' '));
    } catch {
      throw FirnError.invalidArgument(`query parameter "${key}" is not valid UTF-8 once percent-decoded (label names and values must be UTF-8)`);
    }
  }
}

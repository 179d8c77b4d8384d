import { parseDuration } from '@firn/config';
import { UsageError } from './args';

const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$/;

/**
 * A time on the command line → unix ms: RFC 3339 (`2025-01-02T15:04:05Z`), unix seconds or
 * milliseconds (told apart by magnitude, as the /ingest endpoint does), `now`, or `now-1h` /
 * `now+5m` (units ms, s, m, h, d, w; combinations like `now-1h30m`).
 */
export function parseTime(text: string, nowMs: number, what: string): number {
  const s = text.trim();
  const rel = /^now(?:([+-])(.+))?$/i.exec(s);
  if (rel) {
    if (!rel[1]) return nowMs;
    if (/^\d+$/.test(rel[2])) throw new UsageError(`${what}: "${text}" needs a unit, e.g. now-1h, now-30m, now-90s`);
    let ms: number;
    try {
      ms = parseDuration(rel[2]);
    } catch {
      throw new UsageError(`${what}: "${text}" is not a relative time (use e.g. now-1h, now-30m, now-1h30m)`);
    }
    return rel[1] === '-' ? nowMs - ms : nowMs + ms;
  }
  if (/^\d{1,16}(\.\d+)?$/.test(s)) {
    const n = Number(s);
    // Below 1e11 it is seconds (1e11 s is the year 5138); above, milliseconds.
    return n >= 1e11 ? Math.floor(n) : Math.round(n * 1000);
  }
  if (RFC3339.test(s)) {
    const ms = Date.parse(s.replace(' ', 'T'));
    if (Number.isFinite(ms)) return ms;
  }
  throw new UsageError(`${what}: cannot read "${text}" as a time (use RFC 3339 like 2025-01-02T15:04:05Z, unix seconds or ms, or now-1h)`);
}

/** `--from` / `--to` (or `--until`) as a checked window. */
export function parseRange(
  fromText: string | undefined,
  toText: string | undefined,
  nowMs: number,
  defaults: { from: string; to: string },
  names = { from: '--from', to: '--to' },
): { startMs: number; endMs: number } {
  const startMs = parseTime(fromText ?? defaults.from, nowMs, names.from);
  const endMs = parseTime(toText ?? defaults.to, nowMs, names.to);
  if (endMs <= startMs) throw new UsageError(`${names.to} (${new Date(endMs).toISOString()}) must be after ${names.from} (${new Date(startMs).toISOString()})`);
  return { startMs, endMs };
}

import { z } from 'zod';
import { FirnError } from '@firn/errors';

const UNITS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 7 * 86_400_000 } as const;

/** What a bare number means in a duration: ms everywhere except settings named before durations (`_SECONDS`, `_HOURS`). */
export type DurationUnit = 'ms' | 's' | 'm' | 'h' | 'd';

/**
 * "30d", "12h", "90m", "45s", "500ms", "1h30m" or a bare number of `bare` units (ms unless
 * said otherwise) → ms. "0" = 0. invalid_argument for anything else. The one parser of every
 * time setting: env vars, flags and the per-tenant overrides file.
 */
export function parseDuration(text: string, bare: DurationUnit = 'ms'): number {
  const s = text.trim();
  if (/^\d+$/.test(s)) {
    const n = Number(s) * UNITS[bare];
    if (Number.isSafeInteger(n)) return n;
  }
  const re = /(\d+)(ms|s|m|h|d|w)/gy;
  let total = 0;
  let matched = 0;
  for (let m = re.exec(s); m; m = re.exec(s)) {
    total += Number(m[1]) * UNITS[m[2] as keyof typeof UNITS];
    matched = re.lastIndex;
  }
  if (s.length === 0 || matched !== s.length || !Number.isSafeInteger(total)) {
    throw FirnError.invalidArgument(`not a duration: ${JSON.stringify(text)} (use e.g. 30d, 12h, 90m, 45s, 500ms)`);
  }
  return total;
}

/** ms → the shortest exact duration string ("30d", "90s", "1500ms", "0"): defaults in docs. */
export function formatDuration(ms: number): string {
  for (const [unit, size] of [
    ['d', UNITS.d],
    ['h', UNITS.h],
    ['m', UNITS.m],
    ['s', UNITS.s],
  ] as const) {
    if (ms >= size && ms % size === 0) return `${ms / size}${unit}`;
  }
  return ms === 0 ? '0' : `${ms}ms`;
}

/**
 * The one duration type: a zod schema reading a duration string or a bare number (of `bare`
 * units; a number in a YAML/JSON file likewise) into ms, never negative. `positive` refuses 0.
 */
export function duration(opts: { bare?: DurationUnit; positive?: boolean } = {}) {
  const bare = opts.bare ?? 'ms';
  const hint = `must be a duration like 30d, 1h, 90s, 500ms (a bare number is ${bare === 'ms' ? 'milliseconds' : { s: 'seconds', m: 'minutes', h: 'hours', d: 'days' }[bare]})`;
  return z.union([z.string(), z.number()]).transform((v, ctx) => {
    let ms: number;
    try {
      ms = parseDuration(String(v), bare);
    } catch {
      ctx.addIssue({ code: 'custom', message: hint });
      return z.NEVER;
    }
    if (opts.positive && ms <= 0) {
      ctx.addIssue({ code: 'custom', message: 'must be a duration above 0' });
      return z.NEVER;
    }
    return ms;
  });
}

import { FirnError } from '@firn/errors';

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 7 * 86_400_000 };

/**
 * "30d", "12h", "90m", "45s", "500ms", "1h30m" or a plain number of ms → ms. "0" = 0.
 * invalid_argument for anything else.
 */
export function parseDuration(text: string): number {
  const s = text.trim();
  if (/^\d+$/.test(s)) return Number(s);
  const re = /(\d+)(ms|s|m|h|d|w)/gy;
  let total = 0;
  let matched = 0;
  for (let m = re.exec(s); m; m = re.exec(s)) {
    total += Number(m[1]) * UNITS[m[2]];
    matched = re.lastIndex;
  }
  if (s.length === 0 || matched !== s.length || !Number.isSafeInteger(total)) {
    throw FirnError.invalidArgument(`not a duration: ${JSON.stringify(text)} (use e.g. 30d, 12h, 90m, 45s, 500ms)`);
  }
  return total;
}

import { z } from 'zod';
import { FirnError } from '@firn/errors';

const UNITS: Record<string, number> = { '': 1, b: 1, kb: 1e3, mb: 1e6, gb: 1e9, kib: 1024, mib: 1024 ** 2, gib: 1024 ** 3 };

/** "256MiB", "64MB", "512kib", "1GiB" or a bare number of bytes → bytes. invalid_argument for anything else. */
export function parseByteSize(text: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i.exec(text.trim());
  const unit = m ? UNITS[m[2].toLowerCase()] : undefined;
  const n = m && unit !== undefined ? Math.round(Number(m[1]) * unit) : NaN;
  if (!Number.isSafeInteger(n)) throw FirnError.invalidArgument(`not a size: ${JSON.stringify(text)} (use e.g. 512MiB, 64MB, 1GiB or a number of bytes)`);
  return n;
}

function byteSizeSchema(min: 0 | 1) {
  return z.union([z.string(), z.number()]).transform((v, ctx) => {
    let n: number;
    try {
      n = parseByteSize(String(v));
    } catch {
      ctx.addIssue({ code: 'custom', message: 'must be a size like 512MiB, 64MB or a number of bytes' });
      return z.NEVER;
    }
    if (n < min) {
      ctx.addIssue({ code: 'custom', message: 'must be more than 0 bytes' });
      return z.NEVER;
    }
    return n;
  });
}

/** Bytes for a setting: a size string or a bare number of bytes, > 0. */
export const byteSize = byteSizeSchema(1);

/** Bytes for a setting where 0 means "off" (e.g. a cache): a size string or a bare number, ≥ 0. */
export const byteSizeOrOff = byteSizeSchema(0);

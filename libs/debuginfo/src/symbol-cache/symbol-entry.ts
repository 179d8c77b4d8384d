import { FirnError } from '@firn/errors';
import type { TenantId } from '@firn/tenancy';

/** One resolved source location of an address; a chain of them is leaf (innermost inline) first. */
export interface ResolvedFrame {
  functionName: string;
  fileName: string;
  line: number;
  /** True for every frame but the last (the function the address is really in). */
  inlined: boolean;
}

/** Cache key of one address: the tenant is part of it, so one tenant never reads another's. */
export function symbolKey(tenant: TenantId, buildId: string, address: bigint): string {
  return `sym:v1:${tenant}:${buildId}:${address.toString(16)}`;
}

/**
 * Unresolvable address marker: `0`, or `0:<why>` (`no_debuginfo`, `unknown_format`,
 * `no_symbol`, `outside_code`, `unsupported_go_table`). Resolved: `[[fn, file, line], ...]` leaf first.
 */
const NEGATIVE = '0';

export function encodeResolved(frames: readonly ResolvedFrame[]): Uint8Array {
  if (frames.length === 0) return encodeNegative();
  return Buffer.from(JSON.stringify(frames.map((f) => [f.functionName, f.fileName, f.line])), 'utf8');
}

export function encodeNegative(why?: string): Uint8Array {
  return Buffer.from(why ? `${NEGATIVE}:${why}` : NEGATIVE, 'utf8');
}

/** Why a negative entry could not be resolved ('' when it does not say, or when it is not negative). */
export function negativeReason(value: Uint8Array): string {
  const text = Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('utf8');
  return text.startsWith(`${NEGATIVE}:`) ? text.slice(NEGATIVE.length + 1) : '';
}

/**
 * `null` for a negative entry (looked up, nothing found), frames otherwise. The inline flags are
 * implied by position: only the outermost (last) frame is not inlined.
 */
export function decodeResolved(value: Uint8Array): ResolvedFrame[] | null {
  const text = Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('utf8');
  if (text === NEGATIVE || text.startsWith(`${NEGATIVE}:`)) return null;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw FirnError.invalidArgument('symbol cache entry is not JSON');
  }
  if (!Array.isArray(parsed) || parsed.length === 0) throw FirnError.invalidArgument('symbol cache entry must be a non-empty array');
  return parsed.map((f: unknown, i): ResolvedFrame => {
    if (!Array.isArray(f) || typeof f[0] !== 'string' || typeof f[1] !== 'string' || typeof f[2] !== 'number') {
      throw FirnError.invalidArgument(`symbol cache entry frame ${i} must be [function, file, line]`);
    }
    return { functionName: f[0], fileName: f[1], line: f[2], inlined: i < parsed.length - 1 };
  });
}

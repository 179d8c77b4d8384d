import type { StreamSpec } from '@firn/bus';
import { FirnError } from '@firn/errors';
import { tenantFromTrustedSource, type TenantId } from '@firn/tenancy';
import { normalizeBuildId } from '../build-id';

/**
 * The symbolizer's work queue. A limits-retention stream read by ONE shared durable consumer is a
 * work queue in effect: each message goes to one symbolizer replica and is gone for the others.
 * Age and size bounds keep a stalled symbolizer from filling the disk.
 */
export const SYMBOLIZE_STREAM = 'FIRN_SYMBOLIZE';
export const SYMBOLIZE_CONSUMER = 'symbolizer';
const SUBJECT_PREFIX = 'firn.symbolize.';

export function symbolizeStreamSpec(opts: { maxAgeMs?: number; maxBytes?: number } = {}): StreamSpec {
  return { name: SYMBOLIZE_STREAM, subjects: [`${SUBJECT_PREFIX}>`], maxAgeMs: opts.maxAgeMs ?? 24 * 3600_000, maxBytes: opts.maxBytes ?? 1024 * 1024 * 1024 };
}

/** The tenant travels in the subject, set by our own ingester/gateway from the authenticated tenant. */
export function symbolizeSubject(tenant: TenantId): string {
  return SUBJECT_PREFIX + tenant;
}

export function tenantOfSubject(subject: string): TenantId {
  if (!subject.startsWith(SUBJECT_PREFIX)) throw FirnError.invalidArgument(`subject ${subject} is not a symbolize subject`);
  return tenantFromTrustedSource(subject.slice(SUBJECT_PREFIX.length));
}

/**
 * `addresses`: file offsets (in the mapping's file) of unsymbolized frames of one build id.
 * `uploaded`: a tenant's debuginfo upload for the build id completed; retry its unresolved addresses.
 */
export type SymbolizeJob = { kind: 'addresses'; buildId: string; addresses: bigint[] } | { kind: 'uploaded'; buildId: string };

export function encodeJob(job: SymbolizeJob): Uint8Array {
  const body =
    job.kind === 'addresses'
      ? { v: 1, kind: job.kind, buildId: job.buildId, addresses: job.addresses.map((a) => a.toString(16)) }
      : { v: 1, kind: job.kind, buildId: job.buildId };
  return Buffer.from(JSON.stringify(body), 'utf8');
}

/** invalid_argument for anything malformed (the consumer terminates such messages). */
export function decodeJob(data: Uint8Array): SymbolizeJob {
  let raw: unknown;
  try {
    raw = JSON.parse(Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('utf8'));
  } catch {
    throw FirnError.invalidArgument('symbolize job is not JSON');
  }
  if (typeof raw !== 'object' || raw === null) throw FirnError.invalidArgument('symbolize job must be an object');
  const o = raw as Record<string, unknown>;
  if (o.v !== 1) throw FirnError.invalidArgument(`symbolize job version ${String(o.v)} is not supported`);
  if (typeof o.buildId !== 'string') throw FirnError.invalidArgument('symbolize job needs a buildId');
  const buildId = normalizeBuildId(o.buildId);
  if (o.kind === 'uploaded') return { kind: 'uploaded', buildId };
  if (o.kind !== 'addresses' || !Array.isArray(o.addresses))
    throw FirnError.invalidArgument('symbolize job kind must be addresses (with addresses) or uploaded');
  const addresses = o.addresses.map((a) => {
    if (typeof a !== 'string' || !/^[0-9a-f]{1,16}$/.test(a))
      throw FirnError.invalidArgument(`symbolize job address ${JSON.stringify(a)} must be 1-16 hex digits`);
    return BigInt(`0x${a}`);
  });
  return { kind: 'addresses', buildId, addresses };
}

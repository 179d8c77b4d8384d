import { randomBytes } from 'node:crypto';
import { FirnError } from '@firn/errors';
import { tenantPrefix, type TenantId } from '@firn/tenancy';

export interface SegmentKeys {
  samples: string;
  stacks: string;
  /** The series rollup; segments written before rollups existed have none. */
  series: string;
}

/** Highest compaction level a key may carry; far above anything the compactor produces. */
export const MAX_SEGMENT_LEVEL = 99;

const SEGMENT_ID = /^[0-9A-Za-z][0-9A-Za-z_-]{7,63}$/;
const DAY = /^(\d{4})-(\d{2})-(\d{2})$/;
const MAX_ID_TIME_MS = 2 ** 48;

function invalid(message: string): FirnError {
  return FirnError.invalidArgument(message);
}

/** UTC day of a timestamp as `yyyy-mm-dd`: the day directory of a segment starting then. */
export function segmentDay(timeMs: number): string {
  if (!Number.isFinite(timeMs)) throw invalid(`segment day needs a finite timestamp, got ${timeMs}`);
  return new Date(timeMs).toISOString().slice(0, 10);
}

/**
 * Object keys of a segment's two Parquet objects and its series rollup:
 * `<tenantPrefix(tenant)>segments/L<level>/<yyyy-mm-dd>/<segmentId>/{samples,stacks}.parquet` and `…/series.arrow.gz`.
 */
export function segmentKeys(tenant: TenantId, level: number, segmentId: string, dayIso: string): SegmentKeys {
  if (!Number.isSafeInteger(level) || level < 0 || level > MAX_SEGMENT_LEVEL) {
    throw invalid(`segment level must be an integer in 0..${MAX_SEGMENT_LEVEL}, got ${level}`);
  }
  if (typeof segmentId !== 'string' || !SEGMENT_ID.test(segmentId)) {
    throw invalid(`segment id must be 8-64 characters of [0-9A-Za-z_-] starting with a letter or digit, got ${JSON.stringify(segmentId)}`);
  }
  const day = typeof dayIso === 'string' ? DAY.exec(dayIso) : null;
  if (!day || segmentDay(Date.UTC(+day[1], +day[2] - 1, +day[3])) !== dayIso) {
    throw invalid(`segment day must be a valid yyyy-mm-dd date, got ${JSON.stringify(dayIso)}`);
  }
  const dir = `${tenantPrefix(tenant)}segments/L${level}/${dayIso}/${segmentId}/`;
  return keysOfDir(dir);
}

/** A segment's keys from its directory (a manifest entry's `object_key`, ending in "/"). */
export function keysOfDir(dir: string): SegmentKeys {
  return { samples: `${dir}samples.parquet`, stacks: `${dir}stacks.parquet`, series: `${dir}series.arrow.gz` };
}

/**
 * A time-sortable unique segment id: 12 hex digits of the creation time in ms, then 16 random hex
 * digits (64 bits), so ids sort by creation time and never collide in practice.
 */
export function newSegmentId(nowMs: number, random: (bytes: number) => Uint8Array = randomBytes): string {
  if (!Number.isSafeInteger(nowMs) || nowMs < 0 || nowMs >= MAX_ID_TIME_MS) {
    throw invalid(`segment id time must be an integer ms timestamp in [0, 2^48), got ${nowMs}`);
  }
  const rnd = random(8);
  if (rnd.length !== 8) throw invalid('segment id randomness must be 8 bytes');
  return nowMs.toString(16).padStart(12, '0') + Buffer.from(rnd).toString('hex');
}

/** Creation time encoded in an id made by newSegmentId, or undefined for other ids. */
export function segmentIdTimeMs(segmentId: string): number | undefined {
  return /^[0-9a-f]{28}$/.test(segmentId) ? parseInt(segmentId.slice(0, 12), 16) : undefined;
}

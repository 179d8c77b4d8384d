import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { BinaryReader, BinaryWriter } from '@bufbuild/protobuf/wire';
import { crc32 } from 'node:zlib';
import { FirnError } from '@firn/errors';
import { firnManifestV1 } from '@firn/proto';
import { tenantFromTrustedSource, tenantPrefix, type TenantId } from '@firn/tenancy';
import type { SegmentEntry } from './manifest-state';

/**
 * A tenant's manifest at manifest-stream seq `seq`: every delta of the tenant with a seq <= it
 * is included, none after it.
 */
export interface TenantSnapshot {
  tenant: TenantId;
  seq: number;
  takenAtUnixNano: bigint;
  /** The whole add-set, including removed and conflicting segments (their coverage still counts). */
  entries: SegmentEntry[];
  removed: string[];
}

// The proto ManifestSnapshot has no per-segment seq, and validity depends on it, so the object
// wraps the proto: magic, snapshot seq, one seq per segment (parallel to
// ManifestSnapshot.segments), the ManifestSnapshot itself, and a CRC-32 of all of that so a
// torn or bit-flipped object is recognised instead of half-loaded.
const MAGIC = Buffer.from('FIRNMSN1', 'latin1');

export function encodeSnapshot(s: TenantSnapshot): Uint8Array {
  const proto = create(firnManifestV1.ManifestSnapshotSchema, {
    tenantId: s.tenant,
    segments: s.entries.map((e) => e.meta),
    removed: s.removed,
    takenAtUnixNano: s.takenAtUnixNano,
  });
  const w = new BinaryWriter().raw(MAGIC).uint64(s.seq).uint32(s.entries.length);
  for (const e of s.entries) w.uint64(e.seq);
  w.bytes(toBinary(firnManifestV1.ManifestSnapshotSchema, proto));
  const body = w.finish();
  const out = new Uint8Array(body.length + 4);
  out.set(body);
  new DataView(out.buffer).setUint32(body.length, crc32(body));
  return out;
}

/** Throws FirnError invalid_argument naming what is wrong with a damaged object. */
export function decodeSnapshot(bytes: Uint8Array): TenantSnapshot {
  const corrupt = (why: string): FirnError => FirnError.invalidArgument(`corrupt manifest snapshot: ${why}`);
  if (bytes.length < MAGIC.length + 4) throw corrupt(`only ${bytes.length} bytes`);
  if (!Buffer.from(bytes.buffer, bytes.byteOffset, MAGIC.length).equals(MAGIC)) throw corrupt('bad magic');
  const body = bytes.subarray(0, bytes.length - 4);
  const stored = new DataView(bytes.buffer, bytes.byteOffset + body.length, 4).getUint32(0);
  if (crc32(body) !== stored) throw corrupt('checksum mismatch');
  try {
    const r = new BinaryReader(body.subarray(MAGIC.length));
    const seq = toSafe(r.uint64(), 'snapshot seq');
    const n = r.uint32();
    const seqs: number[] = [];
    for (let i = 0; i < n; i++) seqs.push(toSafe(r.uint64(), 'segment seq'));
    const proto = fromBinary(firnManifestV1.ManifestSnapshotSchema, r.bytes());
    if (r.pos !== r.len) throw corrupt(`${r.len - r.pos} trailing bytes`);
    if (proto.segments.length !== n) throw corrupt(`${proto.segments.length} segments but ${n} seqs`);
    return {
      tenant: tenantFromTrustedSource(proto.tenantId),
      seq,
      takenAtUnixNano: proto.takenAtUnixNano,
      entries: proto.segments.map((meta, i) => ({ meta, seq: seqs[i] })),
      removed: proto.removed,
    };
  } catch (err) {
    if (err instanceof FirnError) throw err;
    throw corrupt((err as Error).message);
  }
}

function toSafe(v: bigint | string, what: string): number {
  const n = Number(v);
  if (!Number.isSafeInteger(n)) throw FirnError.invalidArgument(`corrupt manifest snapshot: ${what} ${String(v)} out of range`);
  return n;
}

const SEQ_DIGITS = 20;

export function snapshotPrefix(tenant: TenantId): string {
  return `${tenantPrefix(tenant)}manifest/snapshot-`;
}

export function snapshotKey(tenant: TenantId, seq: number): string {
  return `${snapshotPrefix(tenant)}${String(seq).padStart(SEQ_DIGITS, '0')}.binpb`;
}

/** The seq in a snapshot key, or undefined for any other key under the prefix. */
export function snapshotSeqOf(tenant: TenantId, key: string): number | undefined {
  const prefix = snapshotPrefix(tenant);
  if (!key.startsWith(prefix)) return undefined;
  const m = /^(\d{20})\.binpb$/.exec(key.slice(prefix.length));
  if (!m) return undefined;
  const n = Number(m[1]);
  return Number.isSafeInteger(n) ? n : undefined;
}

/**
 * The object store cannot list by delimiter, and listing every tenant's prefix would walk every
 * segment object, so each tenant that has snapshots also gets an empty marker here (outside the
 * tenants' prefixes: `manifest/tenants/<tenant>`).
 */
export const TENANT_MARKER_PREFIX = 'manifest/tenants/';

export function tenantMarkerKey(tenant: TenantId): string {
  return `${TENANT_MARKER_PREFIX}${tenant}`;
}

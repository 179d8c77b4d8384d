import { create } from '@bufbuild/protobuf';
import { describe, expect, it } from 'vitest';
import { firnManifestV1 } from '@firn/proto';
import { tenantFromTrustedSource, tenantPrefix } from '@firn/tenancy';
import { decodeSnapshot, encodeSnapshot, snapshotKey, snapshotSeqOf, type TenantSnapshot } from './snapshot-codec';

const t1 = tenantFromTrustedSource('t1');
const t2 = tenantFromTrustedSource('t2');

const snap: TenantSnapshot = {
  tenant: t1,
  seq: 42,
  takenAtUnixNano: 1_700_000_000_000_000_000n,
  entries: [
    {
      seq: 3,
      meta: create(firnManifestV1.SegmentMetaSchema, {
        id: 'seg-a',
        tenantId: t1,
        covered: [create(firnManifestV1.SequenceRangeSchema, { stream: 'FIRN_INGEST', first: 1n, last: 9n })],
        labels: [create(firnManifestV1.LabelSummarySchema, { name: 'service', values: ['api'] })],
      }),
    },
    { seq: 40, meta: create(firnManifestV1.SegmentMetaSchema, { id: 'seg-b', tenantId: t1, level: 1 }) },
  ],
  removed: ['seg-a', 'seg-x'],
};

describe('snapshot codec', () => {
  it('round-trips the add-set with per-segment seqs and the remove-set', () => {
    expect(decodeSnapshot(encodeSnapshot(snap))).toEqual(snap);
  });

  it('rejects truncated, bit-flipped and foreign objects', () => {
    const bytes = encodeSnapshot(snap);
    expect(() => decodeSnapshot(bytes.subarray(0, bytes.length - 1))).toThrow(/corrupt manifest snapshot/);
    const flipped = Uint8Array.from(bytes);
    flipped[20] ^= 0x40;
    expect(() => decodeSnapshot(flipped)).toThrow(/checksum mismatch/);
    expect(() => decodeSnapshot(Buffer.from('not a snapshot at all'))).toThrow(/bad magic/);
    expect(() => decodeSnapshot(new Uint8Array(3))).toThrow(/only 3 bytes/);
  });

  it('rejects a snapshot naming an invalid tenant id', () => {
    expect(() => decodeSnapshot(encodeSnapshot({ ...snap, tenant: '../x' as typeof t1 /* as a foreign writer could */ }))).toThrow(/invalid tenant id/);
  });

  it('names snapshot keys with 20-digit seqs that sort like the seqs', () => {
    expect(snapshotKey(t1, 42)).toBe(`${tenantPrefix(t1)}manifest/snapshot-00000000000000000042.binpb`);
    expect(snapshotSeqOf(t1, snapshotKey(t1, 42))).toBe(42);
    expect(snapshotSeqOf(t1, `${tenantPrefix(t1)}manifest/snapshot-42.binpb`)).toBeUndefined();
    expect(snapshotSeqOf(t2, snapshotKey(t1, 42))).toBeUndefined();
    expect(snapshotKey(t1, 9) < snapshotKey(t1, 10)).toBe(true);
  });
});

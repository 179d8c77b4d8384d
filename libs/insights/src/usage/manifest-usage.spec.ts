import { describe, expect, it } from 'vitest';
import { create } from '@bufbuild/protobuf';
import { ManifestState } from '@firn/manifest';
import { firnManifestV1 } from '@firn/proto';
import { tenantFromTrustedSource } from '@firn/tenancy';
import { manifestUsage } from './manifest-usage';

function seg(
  id: string,
  level: number,
  covered: [number, number] | undefined,
  n: { samples: number; rows: number; bytes: number; ingest?: number },
): firnManifestV1.SegmentMeta {
  return create(firnManifestV1.SegmentMetaSchema, {
    id,
    tenantId: 'acme',
    level,
    samples: BigInt(n.samples),
    rows: BigInt(n.rows),
    bytes: BigInt(n.bytes),
    ingestBytes: BigInt(n.ingest ?? 0),
    covered: covered ? [create(firnManifestV1.SequenceRangeSchema, { stream: 'FIRN_INGEST', first: BigInt(covered[0]), last: BigInt(covered[1]) })] : [],
  });
}

describe(manifestUsage.name, () => {
  it('counts ingest once per won ingest message, also after compaction, and storage as it is now', () => {
    const s = new ManifestState();
    const delta = (added: firnManifestV1.SegmentMeta[], removed: string[] = []) =>
      create(firnManifestV1.ManifestDeltaSchema, { tenantId: 'acme', added, removed });
    s.applyDelta(delta([seg('a', 0, [1, 10], { samples: 100, rows: 10, bytes: 1000, ingest: 5000 })]), 1);
    // A redelivery race: b covers the same messages and loses; its writer retracts it.
    s.applyDelta(delta([seg('b', 0, [1, 10], { samples: 100, rows: 10, bytes: 1000, ingest: 5000 })]), 2);
    s.applyDelta(delta([], ['b']), 3);
    s.applyDelta(delta([seg('c', 0, [11, 20], { samples: 50, rows: 5, bytes: 600, ingest: 2500 })]), 4);
    // Compaction merges a and c into one block.
    s.applyDelta(delta([seg('l1', 1, undefined, { samples: 150, rows: 14, bytes: 1200 })], ['a', 'c']), 5);
    expect(manifestUsage(s, tenantFromTrustedSource('acme'))).toEqual({
      ingestedSamples: 150n,
      ingestedRows: 15n,
      ingestedBytes: 7500n,
      ingestedSegmentBytes: 1600n,
      ingestedSegments: 2,
      storedBytes: 1200n,
      storedSegments: 1,
      storedSamples: 150n,
    });
    expect(manifestUsage(s, tenantFromTrustedSource('nobody')).ingestedSegments).toBe(0);
  });
});

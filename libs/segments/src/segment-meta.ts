import { create } from '@bufbuild/protobuf';
import { firnManifestV1 } from '@firn/proto';
import type { TenantId } from '@firn/tenancy';
import type { SegmentKeys } from './segment-keys';
import type { SegmentStats } from './segment-writer';

/** The directory holding a segment's objects: what a manifest entry's `object_key` names. */
export function segmentDir(keys: SegmentKeys): string {
  return keys.samples.slice(0, keys.samples.lastIndexOf('/') + 1);
}

/** The manifest entry describing a written segment. */
export function segmentMeta(
  stats: SegmentStats,
  s: { id: string; tenant: TenantId; level: number; keys: SegmentKeys; covered?: firnManifestV1.SequenceRange[]; writerId?: string; createdAtMs?: number },
): firnManifestV1.SegmentMeta {
  return create(firnManifestV1.SegmentMetaSchema, {
    id: s.id,
    tenantId: s.tenant,
    level: s.level,
    objectKey: segmentDir(s.keys),
    minTimeUnixNano: BigInt(stats.minTimeMs) * 1_000_000n,
    maxTimeUnixNano: BigInt(stats.maxTimeMs) * 1_000_000n,
    profileTypes: stats.profileTypes,
    labels: stats.labels.map((l) => create(firnManifestV1.LabelSummarySchema, l)),
    rows: BigInt(stats.rows),
    bytes: BigInt(stats.bytes),
    samples: BigInt(stats.samples),
    covered: s.covered ?? [],
    createdAtUnixNano: s.createdAtMs === undefined ? 0n : BigInt(s.createdAtMs) * 1_000_000n,
    writerId: s.writerId ?? '',
  });
}

import type { ManifestView } from '@firn/manifest';
import type { TenantId } from '@firn/tenancy';

/** What the manifest says about a tenant's ingest and storage. Every figure is exact. */
export interface ManifestUsage {
  ingestedSamples: bigint;
  ingestedRows: bigint;
  /** Ingest-log payload bytes (segments written before the field existed count 0). */
  ingestedBytes: bigint;
  ingestedSegmentBytes: bigint;
  ingestedSegments: number;
  storedBytes: bigint;
  storedSegments: number;
  storedSamples: bigint;
}

/**
 * Usage derived from the manifest, a CRDT that lives in JetStream and snapshots and is rebuilt
 * identically by every process after any restart:
 *
 * - ingested: the level-0 segments (written by ingesters) that won their ingest messages,
 *   including those compacted or expired since (the add-set keeps them forever), so a sample
 *   is counted once however often its message was redelivered, and never uncounted;
 * - stored: the valid segments now (after compaction and retention).
 *
 * O(segments of the tenant) per call, over data the process holds in memory anyway.
 */
export function manifestUsage(view: ManifestView, tenant: TenantId): ManifestUsage {
  const u: ManifestUsage = {
    ingestedSamples: 0n,
    ingestedRows: 0n,
    ingestedBytes: 0n,
    ingestedSegmentBytes: 0n,
    ingestedSegments: 0,
    storedBytes: 0n,
    storedSegments: 0,
    storedSamples: 0n,
  };
  for (const { meta } of view.winners(tenant)) {
    if (meta.level !== 0) continue;
    u.ingestedSamples += meta.samples;
    u.ingestedRows += meta.rows;
    u.ingestedBytes += meta.ingestBytes;
    u.ingestedSegmentBytes += meta.bytes;
    u.ingestedSegments++;
  }
  for (const { meta } of view.validSegments(tenant)) {
    u.storedBytes += meta.bytes;
    u.storedSamples += meta.samples;
    u.storedSegments++;
  }
  return u;
}

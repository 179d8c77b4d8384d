import { FirnError } from '@firn/errors';
import type { LabelMatcher, ManifestView } from '@firn/manifest';
import { tenantPrefix, type TenantId } from '@firn/tenancy';
import type { SegmentMeta } from './segment-objects';

export interface PlanQuery {
  /** [startMs, endMs) */
  startMs: number;
  endMs: number;
  profileType?: string;
  matchers?: readonly LabelMatcher[];
}

/** invalid_argument unless [startMs, endMs) is a well-formed range of integer milliseconds. */
export function checkRange(startMs: number, endMs: number): void {
  if (!Number.isSafeInteger(startMs) || !Number.isSafeInteger(endMs)) {
    throw FirnError.invalidArgument(`query time range must be integer milliseconds, got start=${startMs} end=${endMs}`);
  }
  if (endMs < startMs) {
    throw FirnError.invalidArgument(`query time range is reversed: end ${new Date(endMs).toISOString()} is before start ${new Date(startMs).toISOString()}`);
  }
}

/**
 * The segments a query must read (manifest pruning: validity, time, profile type, label
 * summaries), oldest first. Every segment must live under the tenant's prefix: a manifest entry
 * pointing elsewhere is a bug we refuse to act on rather than leak another tenant's data.
 */
export function planSegments(view: ManifestView, tenant: TenantId, q: PlanQuery): SegmentMeta[] {
  checkRange(q.startMs, q.endMs);
  if (q.endMs === q.startMs) return [];
  // The manifest's range is inclusive at both ends; ours excludes endMs.
  const entries = view.segmentsOverlapping(tenant, { startMs: q.startMs, endMs: q.endMs - 1, profileType: q.profileType, matchers: q.matchers });
  const prefix = tenantPrefix(tenant);
  return entries.map((e) => {
    if (!e.meta.objectKey.startsWith(prefix)) {
      throw FirnError.internal(`manifest entry ${JSON.stringify(e.meta.id)} of tenant ${JSON.stringify(tenant)} points outside the tenant prefix`);
    }
    return e.meta;
  });
}

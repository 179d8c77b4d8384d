import type { ManifestView } from '@firn/manifest';
import type { ObjectStore } from '@firn/storage';
import { TENANTS_KEY_ROOT, tenantOfKey, tenantPrefix } from '@firn/tenancy';

/** Why an unreferenced segment object went: replaced/expired (removed), lost a race, or never published. */
export type GcReason = 'removed' | 'conflict' | 'orphan';

export interface GcResult {
  /** Segment objects seen. */
  scanned: number;
  deleted: Record<GcReason, number>;
  /** Unreferenced objects still inside their grace period. */
  waiting: number;
}

export interface GarbageCollectorOptions {
  store: ObjectStore;
  view: ManifestView;
  /** Longer than the query timeout plus how far a querier's manifest view may lag. */
  graceMs: number;
  now?: () => number;
}

/** A segment object's key after its tenant's prefix: the segment's directory, its id, the file. */
const SEGMENT_OBJECT = /^(segments\/L\d+\/\d{4}-\d{2}-\d{2}\/([^/]+)\/)[^/]+$/;

/**
 * Deletes segment objects no valid manifest entry references, once both
 * - the object is older than the grace period (a writer publishes within seconds of writing), and
 * - this collector has seen it unreferenced for the grace period (a query planned just before
 *   the segment was removed, on a lagging view, has finished by then).
 * The second clock lives in memory: a restart only delays deletion. Call with a view that has
 * caught up with the manifest (syncToLatest) so fresh entries count as references.
 */
export class GarbageCollector {
  private unreferencedSince = new Map<string, number>();
  private readonly now: () => number;

  constructor(private readonly opts: GarbageCollectorOptions) {
    this.now = opts.now ?? Date.now;
  }

  async run(): Promise<GcResult> {
    const { store, view, graceMs } = this.opts;
    const now = this.now();
    const referenced = new Set<string>();
    for (const t of view.tenants()) for (const e of view.validSegments(t)) referenced.add(e.meta.objectKey);
    const result: GcResult = { scanned: 0, deleted: { removed: 0, conflict: 0, orphan: 0 }, waiting: 0 };
    const seen = new Map<string, number>();
    const doomed: Array<{ key: string; reason: GcReason }> = [];
    for await (const o of store.listAll(TENANTS_KEY_ROOT)) {
      const owned = tenantOfKey(o.key);
      const m = owned && SEGMENT_OBJECT.exec(owned.rest);
      if (!owned || !m) continue;
      result.scanned++;
      const { tenant } = owned;
      const [, rest, id] = m;
      const dir = `${tenantPrefix(tenant)}${rest}`;
      if (referenced.has(dir)) continue;
      const since = this.unreferencedSince.get(dir) ?? now;
      seen.set(dir, since);
      if (now - o.lastModified.getTime() < graceMs || now - since < graceMs) {
        result.waiting++;
        continue;
      }
      const status = view.status(tenant, id);
      doomed.push({ key: o.key, reason: status === 'removed' ? 'removed' : status === 'conflict' ? 'conflict' : 'orphan' });
    }
    // Forget directories that are gone or referenced again; keep the clocks of the rest.
    this.unreferencedSince = seen;
    for (const d of doomed) {
      await store.delete(d.key);
      result.deleted[d.reason]++;
    }
    return result;
  }
}

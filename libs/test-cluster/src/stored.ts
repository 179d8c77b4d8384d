import type { Bus } from '@firn/bus';
import { ManifestLog } from '@firn/manifest';
import { keysOfDir, readSegment, totalsBySeriesAndStack } from '@firn/segments';
import type { ObjectStore } from '@firn/storage';
import { tenantFromTrustedSource, tenantPrefix } from '@firn/tenancy';

/**
 * Totals of every valid segment of a tenant, read back through a fresh manifest view: what the
 * write path stored, independent of any querier. Keys are `${profileType}|${seriesKey}|${stackKey}`.
 */
export async function storedTotals(bus: Bus, store: ObjectStore, tenantName: string): Promise<{ totals: Map<string, number>; segments: number }> {
  const manifest = await ManifestLog.open({ bus, store });
  try {
    await manifest.syncToLatest();
    const totals = new Map<string, number>();
    const tenant = tenantFromTrustedSource(tenantName);
    const segments = manifest.validSegments(tenant);
    for (const seg of segments) {
      const dir = seg.meta.objectKey;
      if (!dir.startsWith(tenantPrefix(tenant))) throw new Error(`segment ${seg.meta.id} of ${tenant} stored outside its prefix: ${dir}`);
      const { samples, stacks } = await readSegment(store, keysOfDir(dir));
      for (const [k, v] of await totalsBySeriesAndStack(samples, stacks)) totals.set(k, (totals.get(k) ?? 0) + v);
    }
    return { totals, segments: segments.length };
  } finally {
    await manifest.close();
  }
}

// Reads back what a tenant has stored, through the manifest as a querier would.
import type { Bus } from '@firn/bus';
import { ManifestLog } from '@firn/manifest';
import { keysOfDir, readSegment, totalsBySeriesAndStack } from '@firn/segments';
import type { ObjectStore } from '@firn/storage';
import { tenantFromTrustedSource } from '@firn/tenancy';

export interface StoredSummary {
  segments: number;
  /** Rows and samples as the manifest reports them. */
  rows: number;
  samples: number;
  /** Sum of the valid segments' object sizes (the manifest's figure, checked against a listing). */
  bytes: number;
  /** Objects under the tenant's segments/ prefix that no valid segment owns (retracted or orphaned flushes). */
  strayObjects: number;
  strayBytes: number;
  totals: Map<string, number>;
}

export async function storedSummary(bus: Bus, store: ObjectStore, tenant: string): Promise<StoredSummary> {
  const manifest = await ManifestLog.open({ bus, store });
  try {
    await manifest.syncToLatest();
    const segments = manifest.validSegments(tenantFromTrustedSource(tenant));
    const totals = new Map<string, number>();
    let rows = 0;
    let samples = 0;
    let manifestBytes = 0;
    const dirs = new Set<string>();
    for (const seg of segments) {
      rows += Number(seg.meta.rows);
      samples += Number(seg.meta.samples);
      manifestBytes += Number(seg.meta.bytes);
      const dir = seg.meta.objectKey;
      dirs.add(dir);
      const { samples: s, stacks } = await readSegment(store, keysOfDir(dir));
      for (const [k, v] of await totalsBySeriesAndStack(s, stacks)) totals.set(k, (totals.get(k) ?? 0) + v);
    }
    let ownedBytes = 0;
    let strayObjects = 0;
    let strayBytes = 0;
    for await (const o of store.listAll(`tenants/${tenant}/segments/`)) {
      if (dirs.has(o.key.slice(0, o.key.lastIndexOf('/') + 1))) ownedBytes += o.size;
      else {
        strayObjects++;
        strayBytes += o.size;
      }
    }
    if (ownedBytes !== manifestBytes) throw new Error(`${tenant}: the manifest says its segments hold ${manifestBytes} bytes, storage holds ${ownedBytes}`);
    return { segments: segments.length, rows, samples, bytes: manifestBytes, strayObjects, strayBytes, totals };
  } finally {
    await manifest.close();
  }
}

/** Differences between expected and stored totals (empty when they match exactly). */
export function diffTotals(expected: Map<string, number>, stored: Map<string, number>, max = 5): { count: number; examples: string[] } {
  const examples: string[] = [];
  let count = 0;
  const note = (s: string): void => {
    count++;
    if (examples.length < max) examples.push(s);
  };
  for (const [k, v] of expected) {
    const got = stored.get(k);
    if (got !== v) note(`${k}: pushed ${v}, stored ${got ?? 'nothing'}`);
  }
  for (const [k, v] of stored) if (!expected.has(k)) note(`${k}: stored ${v}, never pushed`);
  return { count, examples };
}

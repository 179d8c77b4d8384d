// Reads back what a tenant has stored, through the manifest as a querier would.
import type { Bus } from '@firn/bus';
import { ManifestLog } from '@firn/manifest';
import { readSegment, totalsBySeriesAndStack } from '@firn/segments';
import type { ObjectStore } from '@firn/storage';

export interface StoredSummary {
  segments: number;
  /** Rows and samples as the manifest reports them. */
  rows: number;
  samples: number;
  /** Sum of segment object sizes per the manifest, and per a listing of the storage. */
  manifestBytes: number;
  listedBytes: number;
  totals: Map<string, number>;
}

export async function storedSummary(bus: Bus, store: ObjectStore, tenant: string): Promise<StoredSummary> {
  const manifest = await ManifestLog.open({ bus, store });
  try {
    await manifest.syncToLatest();
    const segments = manifest.validSegments(tenant);
    const totals = new Map<string, number>();
    let rows = 0;
    let samples = 0;
    let manifestBytes = 0;
    for (const seg of segments) {
      rows += Number(seg.meta.rows);
      samples += Number(seg.meta.samples);
      manifestBytes += Number(seg.meta.bytes);
      const dir = seg.meta.objectKey;
      const { samples: s, stacks } = await readSegment(store, { samples: `${dir}samples.parquet`, stacks: `${dir}stacks.parquet` });
      for (const [k, v] of await totalsBySeriesAndStack(s, stacks)) totals.set(k, (totals.get(k) ?? 0) + v);
    }
    let listedBytes = 0;
    for await (const o of store.listAll(`tenants/${tenant}/segments/`)) listedBytes += o.size;
    return { segments: segments.length, rows, samples, manifestBytes, listedBytes, totals };
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

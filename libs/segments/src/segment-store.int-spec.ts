import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isFirnError } from '@firn/errors';
import { LocalDirStore, type ObjectStore } from '@firn/storage';
import { tenantFromTrustedSource, tenantPrefix } from '@firn/tenancy';
import { totalsBySeriesAndStack } from './segment-reader';
import { newSegmentId, segmentDay, segmentKeys } from './segment-keys';
import { openSegmentObject, readSegment, writeSegment } from './segment-store';
import { buildSegment } from './segment-writer';
import { expectedTotals, mixedBatches } from './testing/mixed-batches';
import { fleetBatches } from './testing/synthetic-batches';

const acme = tenantFromTrustedSource('acme');

/** Records every ranged read so tests can check how little of an object a query touched. */
function countingStore(inner: ObjectStore): ObjectStore & { ranges: Array<[string, number, number]> } {
  const ranges: Array<[string, number, number]> = [];
  return Object.assign(Object.create(inner) as ObjectStore, {
    ranges,
    getRange: (key: string, offset: number, length: number) => {
      ranges.push([key, offset, length]);
      return inner.getRange(key, offset, length);
    },
  });
}

describe(writeSegment.name, () => {
  let dir: string;
  let store: LocalDirStore;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'firn-segments-store-'));
    store = new LocalDirStore({ dir });
  });

  afterAll(async () => {
    await store?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('stores the objects under the segment keys and reads them back with equal totals', async () => {
    const batches = mixedBatches();
    const built = buildSegment(batches);
    const keys = segmentKeys(acme, 0, newSegmentId(built.meta.minTimeMs), segmentDay(built.meta.minTimeMs));
    expect(await writeSegment(store, keys, built)).toBe(built.meta.bytes);
    const listed = [];
    for await (const o of store.listAll(`${tenantPrefix(acme)}segments/L0/`)) listed.push(o.key);
    expect(listed).toEqual([keys.samples, keys.series, keys.stacks]);
    const back = await readSegment(store, keys);
    const totals = await totalsBySeriesAndStack(back.samples, back.stacks);
    expect(Object.fromEntries(totals)).toEqual(Object.fromEntries(expectedTotals(batches)));
  });

  it('reports a missing segment as not_found', async () => {
    const keys = segmentKeys(acme, 1, newSegmentId(0), '1970-01-01');
    await expect(readSegment(store, keys)).rejects.toSatisfy((e) => isFirnError(e, 'not_found'));
    await expect(openSegmentObject(store, keys.samples)).rejects.toSatisfy((e) => isFirnError(e, 'not_found'));
  });

  it('reads projected columns of one row group through ranged requests only', async () => {
    const built = buildSegment(
      fleetBatches({ seed: 3, agents: 4, podsPerAgent: 8, distinctStacks: 300, samplesPerPodWindow: 47, windows: 4, startMs: 1_700_000_000_000 }),
      { rowGroupRows: 1000 },
    );
    const keys = segmentKeys(acme, 0, newSegmentId(1_700_000_000_000), '2023-11-14');
    await writeSegment(store, keys, built);
    const counting = countingStore(store);
    const reader = await openSegmentObject(counting, keys.samples);
    try {
      const layout = reader.layout();
      expect(layout.rowGroups.length).toBeGreaterThan(2);
      const t = await reader.read({ columns: ['stack_id', 'value'], rowGroups: [1] });
      expect(t.numRows).toBe(layout.rowGroups[1].rows);
      expect(t.schema.fields.map((f) => f.name)).toEqual(['stack_id', 'value']);
    } finally {
      reader.close();
    }
    const fetched = counting.ranges.reduce((a, [, , len]) => a + len, 0);
    expect(counting.ranges.every(([k]) => k === keys.samples)).toBe(true);
    expect(fetched).toBeLessThan(built.samples.byteLength / 2);
  });
});

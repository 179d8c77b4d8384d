import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openSegmentObject } from '@firn/segments';
import { segmentObjects } from './segment-objects';
import { SegmentTailStore } from './segment-tail-store';
import { CPU, mixedRows, QueryFixture, T0 } from './testing/query-fixture';
import { QueryEngine } from './query-engine';

describe(SegmentTailStore.name, () => {
  let fx: QueryFixture;

  beforeAll(async () => {
    fx = await QueryFixture.create();
    // Wide enough that the samples object is larger than twice a 4 KiB tail (its footer and page index are ≈ 3.2 KB).
    await fx.addSegment(mixedRows(5, { seconds: 120, pods: 8, stacks: 40 }));
  });

  afterAll(async () => {
    await fx?.cleanup();
  });

  it('opens a segment object once per process: later opens read no size and no footer', async () => {
    const key = segmentObjects(fx.metas[0]).samples;
    const size = (await fx.store.head(key))?.size ?? 0;
    const tails = new SegmentTailStore(fx.store, { tailBytes: 4096 });
    expect(size).toBeGreaterThan(8 * 1024);

    fx.store.reset();
    const first = await openSegmentObject(tails, key);
    const cold = first.layout();
    first.close();
    // One read for the whole tail (the footer's length and the footer came from it).
    expect(fx.store.requests).toBe(1);
    expect(fx.store.bytesRead).toBe(4096);

    fx.store.reset();
    const again = await openSegmentObject(tails, key);
    expect(again.layout()).toEqual(cold);
    const table = await again.read({ columns: ['value'] });
    again.close();
    expect(table.numRows).toBeGreaterThan(0);
    // Only the column chunk: the size and footer came from memory.
    expect(fx.store.requests).toBeGreaterThan(0);
    expect(fx.store.bytesRead).toBeLessThan(size);
    const columnOnly = fx.store.requests;
    fx.store.reset();
    const uncached = await openSegmentObject(fx.store, key);
    await uncached.read({ columns: ['value'] });
    uncached.close();
    expect(fx.store.requests).toBeGreaterThan(columnOnly + 1);
  });

  it('keeps within its byte bound and passes other keys and writes through', async () => {
    const key = segmentObjects(fx.metas[0]).samples;
    const tails = new SegmentTailStore(fx.store, { tailBytes: 1024, maxBytes: 600 });
    await openSegmentObject(tails, key).then((r) => r.close());
    expect(tails.bytes).toBeLessThanOrEqual(600);
    await tails.put('tenants/x/cache/thing', Buffer.from('v1'));
    expect((await tails.getRange('tenants/x/cache/thing', 0, 10)).toString()).toBe('v1');
    await tails.put('tenants/x/cache/thing', Buffer.from('v2'));
    expect((await tails.getRange('tenants/x/cache/thing', 0, 10)).toString()).toBe('v2');
  });

  it('gives a warm query the same answer with fewer requests', async () => {
    // Series tables off: their stack sums would answer warm queries without any request.
    const cached = new QueryEngine({ store: fx.store, view: fx.view, seriesCacheBytes: 0 });
    const plain = new QueryEngine({ store: fx.store, view: fx.view, footerCacheBytes: 0, seriesCacheBytes: 0 });
    const want = await plain.mergeStacks(fx.tenant, `${CPU}{pod="pod-b"}`, T0, T0 + 120_000);
    await cached.mergeStacks(fx.tenant, `${CPU}{pod="pod-b"}`, T0, T0 + 120_000);
    fx.store.reset();
    await plain.mergeStacks(fx.tenant, `${CPU}{pod="pod-b"}`, T0, T0 + 120_000);
    const plainRequests = fx.store.requests;
    fx.store.reset();
    expect(await cached.mergeStacks(fx.tenant, `${CPU}{pod="pod-b"}`, T0, T0 + 120_000)).toEqual(want);
    expect(fx.store.requests).toBeLessThan(plainRequests);
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StackProfile } from '@firn/reports';
import { S3Store } from '@firn/storage';
import { startS3Server, type S3Server } from '@firn/testing';
import { tenantFromTrustedSource, tenantPrefix } from '@firn/tenancy';
import { catalogSnapshotKey, type CatalogSnapshotEvent, type CatalogSnapshotOptions } from './catalog-snapshots';
import { QueryEngine } from './query-engine';
import { CountingStore, CPU, framesKey, mixedRows, QueryFixture, T0 } from './testing/query-fixture';

function totalsOf(p: StackProfile): Map<string, number> {
  const m = new Map<string, number>();
  p.stacks.forEach((s, i) => m.set(framesKey(s), (m.get(framesKey(s)) ?? 0) + p.values[i]));
  return m;
}

/** Bytes read from stacks.parquet objects (the reads a snapshot saves). */
function stacksBytes(store: CountingStore): number {
  let n = 0;
  for (const [k, b] of store.bytesByKey) if (k.endsWith('stacks.parquet')) n += b;
  return n;
}

describe('stack catalog snapshots (real S3-compatible server)', () => {
  const t1 = tenantFromTrustedSource('t1');
  const t2 = tenantFromTrustedSource('t2');
  const END = T0 + 60_000;
  const SELECTOR = `${CPU}{}`;
  let s3: S3Server;
  let bucket: S3Store;
  let fx1: QueryFixture;
  let fx2: QueryFixture;

  beforeAll(async () => {
    s3 = await startS3Server({ bucket: 'firn-catalog-snapshots' });
    bucket = new S3Store({ endpoint: s3.endpoint, region: s3.region, bucket: s3.bucket, accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey });
    // Two tenants in one bucket, with different stacks (different seeds).
    fx1 = await QueryFixture.create(t1, bucket);
    fx2 = await QueryFixture.create(t2, bucket);
    const rows1 = mixedRows(1);
    await fx1.addSegment(rows1.filter((r) => r.ts < T0 + 30_000));
    await fx1.addSegment(
      rows1.filter((r) => r.ts >= T0 + 30_000),
      { rowGroupRows: 16 },
    );
    await fx2.addSegment(mixedRows(2, { stacks: 20 }));
  }, 60_000);

  afterAll(async () => {
    await fx1?.cleanup();
    await fx2?.cleanup();
    await bucket?.close();
    await s3?.stop();
  });

  /** An engine over one fixture's view, with snapshots on (written only when flushed). */
  function engineFor(fx: QueryFixture, events: CatalogSnapshotEvent[] = [], extra: CatalogSnapshotOptions = {}): QueryEngine {
    return new QueryEngine({ store: fx.store, view: fx.view, catalogSnapshots: { debounceMs: 3_600_000, onEvent: (e) => events.push(e), ...extra } });
  }

  it('a fresh engine answers from the snapshot an earlier one wrote: no stacks.parquet read, same totals', async () => {
    const expected = fx1.expectedTotals(CPU, [], T0, END);
    const first = engineFor(fx1);
    expect(totalsOf(await first.mergeStacks(t1, SELECTOR, T0, END))).toEqual(expected);
    await first.close();
    expect(fx1.store.putsByKey.get(catalogSnapshotKey(t1))).toBe(1);
    expect(catalogSnapshotKey(t1).startsWith(tenantPrefix(t1))).toBe(true);

    const events: CatalogSnapshotEvent[] = [];
    const second = engineFor(fx1, events);
    fx1.store.reset();
    expect(totalsOf(await second.mergeStacks(t1, SELECTOR, T0, END))).toEqual(expected);
    expect(events.map((e) => [e.op, e.outcome])).toEqual([['load', 'ok']]);
    expect(stacksBytes(fx1.store)).toBe(0);
    expect(fx1.store.bytesByKey.get(catalogSnapshotKey(t1))).toBeGreaterThan(0);
    // It learnt nothing: closing writes nothing back.
    await second.close();
    expect(fx1.store.putsByKey.get(catalogSnapshotKey(t1))).toBeUndefined();
  });

  it('preloads the snapshots of the most recently written tenants before any query', async () => {
    const events: CatalogSnapshotEvent[] = [];
    const engine = engineFor(fx1, events);
    // fx1's view knows t1 only: one tenant however high the bound.
    expect(await engine.preloadCatalogs(8)).toBe(1);
    expect(events.map((e) => [e.op, e.outcome, e.tenant])).toEqual([['load', 'ok', t1]]);
    fx1.store.reset();
    expect(totalsOf(await engine.mergeStacks(t1, SELECTOR, T0, END))).toEqual(fx1.expectedTotals(CPU, [], T0, END));
    expect(fx1.store.bytesByKey.has(catalogSnapshotKey(t1))).toBe(false);
    expect(stacksBytes(fx1.store)).toBe(0);
    expect(await engineFor(fx1).preloadCatalogs(0)).toBe(0);
    await engine.close();
  });

  it('preload gives up at its budget when the store does not answer (start-up is not held)', async () => {
    const key = catalogSnapshotKey(t1);
    const hanging = new Proxy(fx1.store, {
      get: (target, prop, receiver) =>
        prop === 'get' ? (k: string) => (k === key ? new Promise<Buffer>(() => undefined) : target.get(k)) : Reflect.get(target, prop, receiver),
    });
    const engine = new QueryEngine({ store: hanging, view: fx1.view, catalogSnapshots: { debounceMs: 3_600_000 } });
    expect(await engine.preloadCatalogs(8, 50)).toBe(0);
  });

  it('a corrupt snapshot is ignored (reported, not an error): the query reads stacks.parquet and answers right', async () => {
    const good = await bucket.get(catalogSnapshotKey(t1));
    const bad = Buffer.from(good);
    bad[bad.length >> 1] ^= 0xff;
    for (const body of [bad, good.subarray(0, 100), Buffer.from('not a snapshot')]) {
      await bucket.put(catalogSnapshotKey(t1), body);
      const events: CatalogSnapshotEvent[] = [];
      const engine = engineFor(fx1, events);
      fx1.store.reset();
      expect(totalsOf(await engine.mergeStacks(t1, SELECTOR, T0, END))).toEqual(fx1.expectedTotals(CPU, [], T0, END));
      expect(events.map((e) => [e.op, e.outcome])).toEqual([['load', 'corrupt']]);
      expect(stacksBytes(fx1.store)).toBeGreaterThan(0);
      // The query grew a fresh catalog: it replaces the bad snapshot.
      await engine.close();
      expect(events.map((e) => [e.op, e.outcome])).toEqual([
        ['load', 'corrupt'],
        ['write', 'ok'],
      ]);
    }
  });

  it("tenants never see each other's snapshot, even one copied under the other's prefix", async () => {
    // t1's snapshot exists (earlier tests); t2 has none of its own.
    const events: CatalogSnapshotEvent[] = [];
    const engine = engineFor(fx2, events);
    const expected2 = fx2.expectedTotals(CPU, [], T0, END);
    expect(totalsOf(await engine.mergeStacks(t2, SELECTOR, T0, END))).toEqual(expected2);
    expect(events.map((e) => [e.op, e.outcome, e.tenant])).toEqual([['load', 'missing', t2]]);
    await engine.close();
    expect(fx2.store.putsByKey.has(catalogSnapshotKey(t2))).toBe(true);
    expect(catalogSnapshotKey(t2)).not.toBe(catalogSnapshotKey(t1));

    // A t1 snapshot under t2's key (an operator's mistake): t1's segment maps name no segment of
    // t2, so they are dropped and t2's answer is still its own.
    await bucket.put(catalogSnapshotKey(t2), await bucket.get(catalogSnapshotKey(t1)));
    const copied = engineFor(fx2);
    fx2.store.reset();
    expect(totalsOf(await copied.mergeStacks(t2, SELECTOR, T0, END))).toEqual(expected2);
    expect(stacksBytes(fx2.store)).toBeGreaterThan(0);
    await copied.close();
  });

  it('writes nothing on the query path, once per growth when due, and skips a snapshot over max bytes', async () => {
    await bucket.delete(catalogSnapshotKey(t1));
    const events: CatalogSnapshotEvent[] = [];
    const engine = engineFor(fx1, events); // debounce: an hour
    fx1.store.reset();
    await engine.mergeStacks(t1, SELECTOR, T0, END);
    await engine.mergeStacks(t1, `${CPU}{pod="pod-a"}`, T0, END);
    expect(fx1.store.putsByKey.get(catalogSnapshotKey(t1))).toBeUndefined();
    await engine.flushCatalogSnapshots();
    expect(fx1.store.putsByKey.get(catalogSnapshotKey(t1))).toBe(1);
    // Warm queries learn nothing: no further write.
    await engine.mergeStacks(t1, SELECTOR, T0, END);
    await engine.close();
    expect(fx1.store.putsByKey.get(catalogSnapshotKey(t1))).toBe(1);
    expect(events.filter((e) => e.op === 'write').map((e) => e.outcome)).toEqual(['ok']);

    const tiny: CatalogSnapshotEvent[] = [];
    await bucket.delete(catalogSnapshotKey(t1));
    const capped = engineFor(fx1, tiny, { maxBytes: 64 });
    await capped.mergeStacks(t1, SELECTOR, T0, END);
    await capped.close();
    expect(tiny.map((e) => [e.op, e.outcome])).toEqual([
      ['load', 'missing'],
      ['write', 'too_large'],
    ]);
    expect(await bucket.head(catalogSnapshotKey(t1))).toBeUndefined();
  });

  it('snapshots off (the default for QueryEngine): nothing is read or written', async () => {
    fx1.store.reset();
    const engine = new QueryEngine({ store: fx1.store, view: fx1.view });
    await engine.mergeStacks(t1, SELECTOR, T0, END);
    await engine.close();
    expect(fx1.store.bytesByKey.has(catalogSnapshotKey(t1))).toBe(false);
    expect(fx1.store.putsByKey.size).toBe(0);
  });
});

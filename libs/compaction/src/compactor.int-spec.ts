import { fromBinary } from '@bufbuild/protobuf';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { connectBus, isCasConflict, type Bus } from '@firn/bus';
import { isFirnError } from '@firn/errors';
import { ManifestLog, ManifestState } from '@firn/manifest';
import { firnManifestV1 } from '@firn/proto';
import { LocalDirStore } from '@firn/storage';
import { tenantFromTrustedSource, tenantPrefix, type TenantId } from '@firn/tenancy';
import { startNats, type TestNats } from '@firn/testing';
import { Leases } from '@firn/bus';
import { Compactor, type CompactorOptions } from './compactor';
import { GarbageCollector } from './gc';
import { windowStart, type LevelPolicy } from './levels';
import { addDelta, rowsFor, sorted, validTotals, writeL0 } from './testing/segment-fixture';

const LEVELS: LevelPolicy[] = [
  { level: 1, windowMs: 60_000, minSegments: 4, minBytes: 1e12, settleMs: 30_000, bucketMs: 0 },
  { level: 2, windowMs: 240_000, minSegments: 3, minBytes: 1e12, settleMs: 30_000, bucketMs: 10_000 },
];
// Old enough that GC age checks pass against real object mtimes; windows planned with a fake clock.
const T0 = windowStart(Date.now() - 3_600_000, 240_000);

const [t1, t2, short, keep] = ['t1', 't2', 'short', 'keep'].map((t) => tenantFromTrustedSource(t));

let nats: TestNats;
let bus: Bus;
let n = 0;
const cleanup: Array<() => Promise<unknown>> = [];

interface Env {
  store: LocalDirStore;
  streamName: string;
  subjectPrefix: string;
  bucket: string;
  manifest: ManifestLog;
}

async function env(): Promise<Env> {
  n++;
  const dir = await mkdtemp(join(tmpdir(), 'firn-compactor-'));
  cleanup.push(() => rm(dir, { recursive: true, force: true }));
  const store = new LocalDirStore({ dir });
  const streamName = `MANIFEST_C${n}`;
  const subjectPrefix = `c${n}.manifest`;
  const manifest = await openManifest({ store, streamName, subjectPrefix });
  return { store, streamName, subjectPrefix, bucket: `LEASES_C${n}`, manifest };
}

async function openManifest(e: Pick<Env, 'store' | 'streamName' | 'subjectPrefix'>): Promise<ManifestLog> {
  const m = await ManifestLog.open({ bus, store: e.store, streamName: e.streamName, subjectPrefix: e.subjectPrefix });
  cleanup.unshift(() => m.close());
  return m;
}

async function compactor(e: Env, owner: string, opts: Partial<CompactorOptions> & { manifest?: ManifestLog } = {}): Promise<Compactor> {
  const leases = await Leases.open(bus, { owner, ttlMs: 30_000, bucket: e.bucket });
  return new Compactor({ store: e.store, manifest: e.manifest, leases, levels: LEVELS, graceMs: 60_000, now: () => T0 + 250_000, ...opts });
}

/** 4 one-minute windows × 6 segments of 10 s each, published like an ingester (with coverage). */
async function ingest(e: Env, tenant: TenantId, startMs = T0): Promise<number> {
  let seq = 0;
  for (let w = 0; w < 4; w++) {
    for (let s = 0; s < 6; s++) {
      const i = w * 6 + s;
      const meta = await writeL0(e.store, tenant, rowsFor(100 + i, startMs + w * 60_000 + s * 10_000, 10), { covered: [i * 10 + 1, i * 10 + 10] });
      seq = await e.manifest.publish(addDelta(tenant, [meta]), { msgId: meta.id });
    }
  }
  await e.manifest.waitForSeq(seq);
  return seq;
}

async function deltas(e: Env): Promise<firnManifestV1.ManifestDelta[]> {
  const last = (await bus.streamState(e.streamName)).lastSeq;
  const out: firnManifestV1.ManifestDelta[] = [];
  for (let seq = 1; seq <= last; seq++) {
    const m = await bus.getMessage(e.streamName, seq);
    if (!m) throw new Error(`manifest stream has no message at seq ${seq}`);
    out.push(fromBinary(firnManifestV1.ManifestDeltaSchema, m.data));
  }
  return out;
}

async function segmentObjects(store: LocalDirStore, tenant: TenantId): Promise<string[]> {
  const keys: string[] = [];
  for await (const o of store.listAll(`${tenantPrefix(tenant)}segments/`)) keys.push(o.key);
  return keys;
}

beforeAll(async () => {
  nats = await startNats();
  bus = await connectBus({ servers: [nats.url], name: 'compactor-test' });
}, 30_000);

afterEach(async () => {
  for (const c of cleanup.splice(0)) await c();
});

afterAll(async () => {
  await bus?.close();
  await nats?.stop();
});

describe(Compactor.name, () => {
  it('compacts L0 into L1 then L2; every manifest prefix shows identical totals; ≥ 10× fewer segments', async () => {
    const e = await env();
    const ingestSeq = await ingest(e, t1);
    const before = await validTotals(e.store, e.manifest.state, t1);
    const planned = () => e.manifest.state.segmentsOverlapping(t1, { startMs: T0, endMs: T0 + 240_000 }).length;
    expect(planned()).toBe(24);

    const c = await compactor(e, 'c1');
    const first = await c.runOnce();
    expect(first.map((r) => [r.job.level, r.outcome])).toEqual([
      [1, 'ok'],
      [1, 'ok'],
      [1, 'ok'],
      [1, 'ok'],
    ]);
    const second = await c.runOnce();
    expect(second.map((r) => [r.job.level, r.outcome, r.job.inputs.length])).toEqual([[2, 'ok', 4]]);
    expect(await c.runOnce()).toEqual([]);
    expect(planned()).toBe(1);
    expect(e.manifest.state.validSegments(t1)[0].meta).toMatchObject({ level: 2, covered: [] });
    expect(sorted(await validTotals(e.store, e.manifest.state, t1))).toEqual(sorted(before));
    expect(first.every((r) => r.bytesOut > 0 && r.rowsOut <= r.rowsIn)).toBe(true);

    // Visibility: a reader that has applied any prefix of the log sees the same totals.
    const all = await deltas(e);
    expect(all).toHaveLength(ingestSeq + 5);
    const view = new ManifestState();
    for (let i = 0; i < all.length; i++) {
      view.applyDelta(all[i], i + 1);
      if (i + 1 >= ingestSeq) expect(sorted(await validTotals(e.store, view, t1))).toEqual(sorted(before));
    }
    // Each compaction is one delta adding the block and removing exactly its inputs.
    for (const d of all.slice(ingestSeq)) expect([d.added.length, d.removed.length > 0]).toEqual([1, true]);
  }, 60_000);

  it('splits work between two racing compactors without double counting', async () => {
    const e = await env();
    await ingest(e, t1);
    await ingest(e, t2, T0 + 240_000);
    const before = { t1: await validTotals(e.store, e.manifest.state, t1), t2: await validTotals(e.store, e.manifest.state, t2) };
    const a = await compactor(e, 'a');
    const b = await compactor(e, 'b', { manifest: await openManifest(e) });
    const outcomes: string[] = [];
    for (let round = 0; round < 6; round++) {
      const [ra, rb] = await Promise.all([a.runOnce(), b.runOnce()]);
      outcomes.push(...[...ra, ...rb].map((r) => r.outcome));
      if (ra.length + rb.length === 0) break;
    }
    expect(outcomes).not.toContain('failed');
    await e.manifest.syncToLatest();
    for (const [t, totals] of [
      [t1, before.t1],
      [t2, before.t2],
    ] as const) {
      expect(sorted(await validTotals(e.store, e.manifest.state, t))).toEqual(sorted(totals));
    }
    expect(e.manifest.state.validSegments(t1).length + e.manifest.state.validSegments(t2).length).toBeLessThanOrEqual(4);
  }, 90_000);

  it('fences an owner whose lease was taken over: nothing published, its objects collected after the grace period', async () => {
    const e = await env();
    await ingest(e, t1);
    const kv = await bus.ensureKv(e.bucket, { history: 1, ttlMs: 30_000 });
    const taker = new Leases({ kv, owner: 'taker', ttlMs: 30_000, now: () => Date.now() + 60_000 });
    const c = await compactor(e, 'slow', {
      onStep: async (step, job) => {
        if (step === 'after-write') expect(await taker.tryAcquire(job.leaseKey)).toBeDefined();
      },
    });
    const objectsBefore = await segmentObjects(e.store, t1);
    const reports = await c.runOnce();
    // All four windows share the hour's lease, which the taker now holds.
    expect(reports.map((r) => r.outcome)).toEqual(['lost_lease', 'busy', 'busy', 'busy']);
    await e.manifest.syncToLatest();
    expect(e.manifest.state.validSegments(t1)).toHaveLength(24);
    const leftovers = (await segmentObjects(e.store, t1)).filter((k) => !objectsBefore.includes(k));
    // The merged block's samples, series rollup and stacks objects.
    expect(leftovers).toHaveLength(3);

    let skew = 0;
    const gcAt = () => new GarbageCollector({ store: e.store, view: e.manifest.state, graceMs: 60_000, now: () => Date.now() + skew });
    expect((await gcAt().run()).waiting).toBe(3); // objects too young
    // A restarted collector (fresh memory) is old enough by mtime but first sees them unreferenced now.
    skew = 120_000;
    const gc = gcAt();
    expect((await gc.run()).waiting).toBe(3);
    skew = 200_000;
    expect((await gc.run()).deleted.orphan).toBe(3);
    expect(await segmentObjects(e.store, t1)).toEqual(objectsBefore);
  }, 60_000);

  it('applies retention per tenant and GC deletes the expired objects after the grace period', async () => {
    const e = await env();
    const old = T0 - 2 * 86_400_000;
    await ingest(e, short, old);
    await ingest(e, keep, old);
    const keepTotals = await validTotals(e.store, e.manifest.state, keep);
    const c = await compactor(e, 'c1', { retention: (t) => (t === short ? 86_400_000 : 0), now: Date.now, graceMs: 1 });
    expect(await c.applyRetention()).toBe(24);
    // publish() returns once JetStream stored the delta; the view applies it when its consumer sees it.
    await e.manifest.syncToLatest();
    expect(e.manifest.state.validSegments(short)).toEqual([]);
    expect(e.manifest.state.validSegments(keep)).toHaveLength(24);
    await c.collectGarbage();
    await new Promise((r) => setTimeout(r, 20));
    const gc = await c.collectGarbage();
    // Three objects per segment: samples, series rollup, stacks.
    expect(gc.deleted.removed).toBe(72);
    expect(await segmentObjects(e.store, short)).toEqual([]);
    expect(await segmentObjects(e.store, keep)).toHaveLength(72);
    expect(sorted(await validTotals(e.store, e.manifest.state, keep))).toEqual(sorted(keepTotals));
  }, 60_000);
});

describe('ManifestLog compare-and-set publish', () => {
  it('stores a delta only at the expected tenant seq, else fails with a CasConflictError (aborted)', async () => {
    const e = await env();
    expect(await e.manifest.lastTenantSeq(t1)).toBe(0);
    const meta = await writeL0(e.store, t1, rowsFor(1, T0, 5));
    const s1 = await e.manifest.publish(addDelta(t1, [meta]), { expectedLastTenantSeq: 0 });
    await e.manifest.publish(addDelta(t2, [await writeL0(e.store, t2, rowsFor(2, T0, 5))]));
    expect(await e.manifest.lastTenantSeq(t1)).toBe(s1);
    const err = await e.manifest.publish(addDelta(t1, [], [meta.id]), { expectedLastTenantSeq: s1 - 1 }).catch((x: unknown) => x);
    expect(isCasConflict(err) && isFirnError(err, 'aborted')).toBe(true);
    // Another tenant's delta in between does not matter: the check is per tenant subject.
    expect(await e.manifest.publish(addDelta(t1, [], [meta.id]), { expectedLastTenantSeq: s1 })).toBeGreaterThan(s1);
  });
});

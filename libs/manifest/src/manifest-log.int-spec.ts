import { create, toBinary, type MessageInitShape } from '@bufbuild/protobuf';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { connectBus, type Bus } from '@firn/bus';
import { isFirnError } from '@firn/errors';
import { firnManifestV1 } from '@firn/proto';
import { S3Store } from '@firn/storage';
import { tenantFromTrustedSource, tenantPrefix, type TenantId } from '@firn/tenancy';
import { makeTempDir, removeDir, startNats, startS3Server, type S3Server, type TestNats } from '@firn/testing';
import { ManifestLog, type AppliedDelta, type ManifestLogger, type ManifestLogOptions } from './manifest-log';
import { snapshotKey } from './snapshot-codec';

type ManifestDelta = firnManifestV1.ManifestDelta;

const acme = tenantFromTrustedSource('acme');
const other = tenantFromTrustedSource('other');
const tA = tenantFromTrustedSource('t-a');
const tB = tenantFromTrustedSource('t-b');
const tLonely = tenantFromTrustedSource('t-lonely');

let nats: TestNats;
let s3: S3Server;
let bus: Bus;
let n = 0;
const toClose: Array<{ close(): Promise<void> }> = [];

/** A fresh stream, subject prefix and storage prefix per test, so tests never see each other. */
function namespace(): { streamName: string; subjectPrefix: string; store: S3Store } {
  n += 1;
  const store = new S3Store({
    endpoint: s3.endpoint,
    region: s3.region,
    bucket: s3.bucket,
    accessKeyId: s3.accessKeyId,
    secretAccessKey: s3.secretAccessKey,
    prefix: `test-${n}`,
  });
  toClose.push(store);
  return { streamName: `MANIFEST_T${n}`, subjectPrefix: `t${n}.manifest`, store };
}

class CapturingLogger implements ManifestLogger {
  readonly warnings: Array<{ obj: object; msg: string }> = [];
  info(): void {}
  warn(obj: object, msg: string): void {
    this.warnings.push({ obj, msg });
  }
}

async function open(opts: Omit<ManifestLogOptions, 'bus'> & { bus?: Bus }): Promise<ManifestLog> {
  const m = await ManifestLog.open({ bus, ...opts });
  toClose.push(m);
  return m;
}

function segment(
  tenant: TenantId,
  id: string,
  covered: Array<[number, number]> = [],
  extra: MessageInitShape<typeof firnManifestV1.SegmentMetaSchema> = {},
): firnManifestV1.SegmentMeta {
  return create(firnManifestV1.SegmentMetaSchema, {
    id,
    tenantId: tenant,
    objectKey: `${tenantPrefix(tenant)}segments/L0/2024-01-01/${id}/samples.parquet`,
    minTimeUnixNano: 1_000n * 1_000_000n,
    maxTimeUnixNano: 2_000n * 1_000_000n,
    profileTypes: ['process_cpu:cpu:nanoseconds:cpu:nanoseconds:delta'],
    labels: [create(firnManifestV1.LabelSummarySchema, { name: 'service_name', values: ['api'] })],
    covered: covered.map(([first, last]) => create(firnManifestV1.SequenceRangeSchema, { stream: 'FIRN_INGEST', first: BigInt(first), last: BigInt(last) })),
    ...extra,
  });
}

function adds(tenant: TenantId, ...segments: firnManifestV1.SegmentMeta[]): ManifestDelta {
  return create(firnManifestV1.ManifestDeltaSchema, { tenantId: tenant, added: segments, origin: 'test' });
}

function removes(tenant: TenantId, ...ids: string[]): ManifestDelta {
  return create(firnManifestV1.ManifestDeltaSchema, { tenantId: tenant, removed: ids, origin: 'test' });
}

/** A mixed history: adds, a coverage conflict, a retraction and a compaction, over two tenants. */
async function publishHistory(m: ManifestLog, tenants: TenantId[], from: number, count: number): Promise<void> {
  for (let i = from; i < from + count; i++) {
    const tenant = tenants[i % tenants.length];
    await m.publish(adds(tenant, segment(tenant, `seg-${i}`, [[i * 10, i * 10 + 9]])));
    if (i % 4 === 1) await m.publish(adds(tenant, segment(tenant, `dup-${i}`, [[i * 10 + 5, i * 10 + 14]])));
    if (i % 5 === 2) await m.publish(removes(tenant, `dup-${i - 1}`));
    if (i % 7 === 3) {
      await m.publish(
        create(firnManifestV1.ManifestDeltaSchema, {
          tenantId: tenant,
          added: [segment(tenant, `l1-${i}`, [], { level: 1 })],
          removed: [`seg-${i - 2}`],
        }),
      );
    }
  }
}

function viewOf(m: ManifestLog, tenants: TenantId[]): unknown {
  return {
    canonical: m.state.canonical(),
    valid: Object.fromEntries(tenants.map((t) => [t, m.validSegments(t).map((e) => [e.meta.id, e.seq])])),
    covered: Array.from({ length: 400 }, (_, x) => m.isCovered('FIRN_INGEST', x)),
  };
}

beforeAll(async () => {
  [nats, s3] = await Promise.all([startNats(), startS3Server()]);
  bus = await connectBus({ servers: [nats.url], name: 'manifest-test' });
});

afterEach(async () => {
  while (toClose.length > 0) await toClose.pop()!.close();
});

afterAll(async () => {
  await bus?.close();
  await Promise.all([nats?.stop(), s3?.stop()]);
});

describe(ManifestLog.name, () => {
  it('skips a delta naming an invalid tenant id as corrupt, folding nothing of it', async () => {
    const ns = namespace();
    const log = new CapturingLogger();
    const applied: AppliedDelta[] = [];
    const a = await open({ ...ns, log, onApplied: (e) => applied.push(e) });
    // Written past publish()'s validation, as a foreign or older writer could.
    const foreign = create(firnManifestV1.ManifestDeltaSchema, {
      tenantId: '../x',
      added: [create(firnManifestV1.SegmentMetaSchema, { id: 'evil', tenantId: '../x' })],
    });
    await bus.publish(`${ns.subjectPrefix}.x`, toBinary(firnManifestV1.ManifestDeltaSchema, foreign));
    const seq = await a.publish(adds(acme, segment(acme, 's1', [[1, 10]])));
    await a.waitForSeq(seq);
    expect(applied.map((e) => [e.tenant, e.corrupt])).toEqual([
      [undefined, true],
      [acme, false],
    ]);
    expect(log.warnings.map((w) => w.msg)).toContain('skipping undecodable manifest delta');
    expect(a.state.tenants()).toEqual([acme]);
  });

  it('converges two instances on the same stream', async () => {
    const ns = namespace();
    const a = await open(ns);
    const b = await open(ns);
    const seq = await a.publish(adds(acme, segment(acme, 's1', [[1, 10]])));
    await b.syncToLatest();
    expect(b.lastAppliedSeq).toBeGreaterThanOrEqual(seq);
    expect(b.validSegments(acme).map((e) => [e.meta.id, e.seq])).toEqual([['s1', seq]]);
    expect(b.isCovered('FIRN_INGEST', 7)).toBe(true);

    await b.publish(removes(acme, 's1'));
    await a.syncToLatest();
    expect(a.status(acme, 's1')).toBe('removed');
    expect(a.state.canonical()).toBe(b.state.canonical());
  });

  it('lets the earlier seq win a coverage conflict in every view', async () => {
    const ns = namespace();
    const a = await open(ns);
    const b = await open(ns);
    const [seqA, seqB] = await Promise.all([
      a.publish(adds(acme, segment(acme, 'from-a', [[100, 150]]))),
      b.publish(adds(acme, segment(acme, 'from-b', [[140, 200]]))),
    ]);
    await Promise.all([a.syncToLatest(), b.syncToLatest()]);
    const [winner, loser] = seqA < seqB ? ['from-a', 'from-b'] : ['from-b', 'from-a'];
    for (const view of [a, b]) {
      expect(view.status(acme, winner)).toBe('valid');
      expect(view.status(acme, loser)).toBe('conflict');
      expect(view.validSegments(acme).map((e) => e.meta.id)).toEqual([winner]);
    }
    // The loser retracts; the winner's coverage still answers for the shared messages.
    await b.publish(removes(acme, loser));
    await a.syncToLatest();
    expect(a.status(acme, loser)).toBe('removed');
    expect(a.isCovered('FIRN_INGEST', 145)).toBe(true);
  });

  it('returns the original seq for a retried publish with the same msgId', async () => {
    const ns = namespace();
    const a = await open(ns);
    const first = await a.publish(adds(acme, segment(acme, 's1', [[1, 2]])), { msgId: 's1' });
    const again = await a.publish(adds(acme, segment(acme, 's1', [[1, 2]])), { msgId: 's1' });
    expect(again).toBe(first);
    expect((await bus.streamState(ns.streamName)).messages).toBe(1);
  });

  it('rejects malformed deltas before publishing', async () => {
    const a = await open(namespace());
    const codeOf = (p: Promise<unknown>): Promise<string | undefined> =>
      p.then(
        () => undefined,
        (e: unknown) => (isFirnError(e) ? e.code : String(e)),
      );
    const badTenant = create(firnManifestV1.ManifestDeltaSchema, {
      tenantId: 'Bad Tenant',
      added: [create(firnManifestV1.SegmentMetaSchema, { id: 's', tenantId: 'Bad Tenant' })],
    });
    expect(await codeOf(a.publish(badTenant))).toBe('invalid_argument');
    expect(await codeOf(a.publish(adds(acme, segment(other, 's'))))).toBe('invalid_argument');
    expect(await codeOf(a.publish(adds(acme, segment(acme, 's', [[5, 1]]))))).toBe('invalid_argument');
    expect(await codeOf(a.publish(adds(acme, segment(acme, 's', [[1, 5]], { level: 1 }))))).toBe('invalid_argument');
    expect(await codeOf(a.publish(create(firnManifestV1.ManifestDeltaSchema, { tenantId: acme })))).toBe('invalid_argument');
  });

  it('times out a wait for a seq that never comes with unavailable', async () => {
    const a = await open(namespace());
    const err = await a.waitForSeq(a.lastAppliedSeq + 1000, 200).catch((e: unknown) => e);
    expect(isFirnError(err, 'unavailable')).toBe(true);
  });

  it('cold-starts from snapshots plus the rest of the stream, skipping what the snapshots hold', async () => {
    const ns = namespace();
    const tenants = [tA, tB];
    const a = await open(ns);
    // A tenant with one early delta and no snapshot must not be lost by starting late.
    await a.publish(adds(tLonely, segment(tLonely, 'only', [[5000, 5001]])));
    await publishHistory(a, tenants, 0, 12);
    await a.syncToLatest();
    const snaps = await Promise.all(tenants.map((t) => a.snapshot(t)));
    await publishHistory(a, tenants, 12, 8);
    await a.syncToLatest();

    const applied: AppliedDelta[] = [];
    const c = await open({ ...ns, onApplied: (e) => applied.push(e) });
    expect(viewOf(c, [...tenants, tLonely])).toEqual(viewOf(a, [...tenants, tLonely]));
    expect(c.validSegments(tLonely).map((e) => e.meta.id)).toEqual(['only']);
    // Replay started at the beginning (for t-lonely) but skipped every delta the snapshots cover.
    expect(applied[0].seq).toBe(1);
    const snapSeq = snaps[0].seq;
    expect(applied.filter((e) => e.seq <= snapSeq && e.tenant !== tLonely).every((e) => e.skipped)).toBe(true);
    expect(applied.filter((e) => e.seq > snapSeq).every((e) => !e.skipped)).toBe(true);

    // Once the lonely tenant has a snapshot too, replay starts after the oldest snapshot.
    await c.snapshot(tLonely);
    const applied2: AppliedDelta[] = [];
    const d = await open({ ...ns, onApplied: (e) => applied2.push(e) });
    expect(applied2[0].seq).toBe(snapSeq + 1);
    expect(viewOf(d, [...tenants, tLonely])).toEqual(viewOf(a, [...tenants, tLonely]));
  });

  it('rebuilds from the snapshot when the stream no longer holds the old deltas', async () => {
    const ns = namespace();
    const tenants = [tA, tB];
    const a = await open(ns);
    await publishHistory(a, tenants, 0, 15);
    await a.syncToLatest();
    const snaps = await Promise.all(tenants.map((t) => a.snapshot(t)));
    await bus.purgeStream(ns.streamName, { belowSeq: snaps[0].seq + 1 });
    expect((await bus.streamState(ns.streamName)).messages).toBe(0);
    const fresh = await open(ns);
    expect(viewOf(fresh, tenants)).toEqual(viewOf(a, tenants));

    await publishHistory(a, tenants, 15, 5);
    await Promise.all([a.syncToLatest(), fresh.syncToLatest()]);
    expect(viewOf(fresh, tenants)).toEqual(viewOf(a, tenants));
  });

  it('skips a corrupt snapshot with a warning and uses the older one', async () => {
    const ns = namespace();
    const a = await open(ns);
    await publishHistory(a, [acme], 0, 6);
    await a.syncToLatest();
    const older = await a.snapshot(acme);
    await publishHistory(a, [acme], 6, 6);
    await a.syncToLatest();
    const newer = await a.snapshot(acme);
    expect(newer.seq).toBeGreaterThan(older.seq);
    await ns.store.put(newer.key, Buffer.from('definitely not a manifest snapshot'));

    const log = new CapturingLogger();
    const applied: AppliedDelta[] = [];
    const b = await open({ ...ns, log, onApplied: (e) => applied.push(e) });
    expect(log.warnings.map((w) => w.msg)).toContain('skipping unreadable manifest snapshot');
    expect(JSON.stringify(log.warnings)).toContain(newer.key);
    expect(applied[0].seq).toBe(older.seq + 1);
    expect(viewOf(b, [acme])).toEqual(viewOf(a, [acme]));
  });

  it('keeps only the newest two snapshots of a tenant', async () => {
    const ns = namespace();
    const a = await open(ns);
    const seqs: number[] = [];
    for (let i = 0; i < 4; i++) {
      await a.publish(adds(acme, segment(acme, `s${i}`)));
      await a.syncToLatest();
      seqs.push((await a.snapshot(acme)).seq);
    }
    const keys: string[] = [];
    for await (const o of ns.store.listAll(`${tenantPrefix(acme)}manifest/`)) keys.push(o.key);
    expect(keys).toEqual([snapshotKey(acme, seqs[2]), snapshotKey(acme, seqs[3])]);
  });

  it('snapshots a tenant by itself every snapshotEvery deltas', async () => {
    const ns = namespace();
    const a = await open({ ...ns, snapshotEvery: 3 });
    for (let i = 0; i < 3; i++) await a.publish(adds(acme, segment(acme, `s${i}`)));
    await a.syncToLatest();
    let found: string[] = [];
    for (let tries = 0; tries < 100 && found.length === 0; tries++) {
      found = [];
      for await (const o of ns.store.listAll(`${tenantPrefix(acme)}manifest/`)) found.push(o.key);
      if (found.length === 0) await new Promise((r) => setTimeout(r, 50));
    }
    expect(found).toEqual([snapshotKey(acme, 3)]);
  });
});

describe(`${ManifestLog.name} across a NATS restart`, () => {
  it('keeps following after the server comes back', async () => {
    const dataDir = makeTempDir('manifest-nats');
    let server = await startNats({ dataDir });
    const port = server.port;
    const local = await connectBus({ servers: [server.url], name: 'manifest-restart' });
    const ns = namespace();
    try {
      const a = await open({ ...ns, bus: local });
      // b is caught up when the server goes away; a may still be creating its consumer.
      const b = await open({ ...ns, bus: local });
      await a.publish(adds(acme, segment(acme, 'before', [[1, 5]])));
      await b.syncToLatest();
      await server.stop();
      server = await startNats({ dataDir, port });
      let seq: number | undefined;
      for (let tries = 0; tries < 100 && seq === undefined; tries++) {
        seq = await a.publish(adds(acme, segment(acme, 'after', [[6, 9]]))).catch(() => undefined);
        if (seq === undefined) await new Promise((r) => setTimeout(r, 100));
      }
      expect(seq).toBeDefined();
      for (const view of [a, b]) {
        await view.waitForSeq(seq!);
        expect(
          view
            .validSegments(acme)
            .map((e) => e.meta.id)
            .sort(),
        ).toEqual(['after', 'before']);
        await view.close();
      }
    } finally {
      await local.close();
      await server.stop();
      removeDir(dataDir);
    }
  });
});

import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { DuckDBInstance } from '@duckdb/node-api';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { Code, ConnectError, createClient } from '@connectrpc/connect';
import { createConnectTransport, createGrpcTransport } from '@connectrpc/connect-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectBus, type Bus } from '@firn/bus';
import { ManifestLog } from '@firn/manifest';
import { keysOfDir, readSegment, totalsBySeriesAndStack } from '@firn/segments';
import { S3Store } from '@firn/storage';
import { tenantFromTrustedSource } from '@firn/tenancy';
import { SampleBatchBuilder, samplesToArrow, samplesToPprof } from '@firn/profiles';
import { profilestoreV1alpha1 } from '@firn/proto';
import { startNats, startS3Server, type S3Server, type TestNats } from '@firn/testing';
import { startApp, type RunningApp } from './support/apps';
import { CPU_TYPE, addTotals, agentWrite, stackPool, totalsOf } from './support/profiles-data';
import { bearer, makeTokens, s3Env, sortedEntries, storedTotals, waitForIngestDrained } from './support/write-path';

const { ProfileStoreService } = profilestoreV1alpha1;
const TENANTS = ['acme', 'globex'];

/**
 * The write path end to end with every part real and separate: a gateway and two ingesters as
 * their own processes, nats-server (JetStream) and an S3-compatible server. Totals read back from
 * the manifest's segments must equal exactly what the gateway acknowledged.
 */
describe('write path', () => {
  let nats: TestNats;
  let s3: S3Server;
  let dir: string;
  let tokens: Record<string, string>;
  let gateway: RunningApp;
  let ingesters: RunningApp[] = [];
  let bus: Bus;
  let store: S3Store;
  let env: Record<string, string>;

  beforeAll(async () => {
    // A small max_payload so the larger writes take the claim-check path.
    [nats, s3] = await Promise.all([startNats({ maxPayloadBytes: 256 * 1024 }), startS3Server()]);
    dir = await mkdtemp(join(tmpdir(), 'firn-e2e-write-'));
    tokens = await makeTokens(join(dir, 'tokens.json'), TENANTS);
    env = {
      FIRN_NATS_URL: nats.url,
      ...s3Env(s3),
      FIRN_TOKENS_FILE: join(dir, 'tokens.json'),
      FIRN_INGESTER_FLUSH_MAX_AGE_MS: '300',
      FIRN_INGESTER_ACK_WAIT_MS: '4000',
    };
    [gateway, ...ingesters] = await Promise.all([
      startApp('gateway', { env }),
      startApp('ingester', { env: { ...env, FIRN_INGESTER_ID: 'ingester-a' } }),
      startApp('ingester', { env: { ...env, FIRN_INGESTER_ID: 'ingester-b' } }),
    ]);
    bus = await connectBus({ servers: [nats.url], name: 'e2e-write-path' });
    store = new S3Store({
      endpoint: s3.endpoint,
      bucket: s3.bucket,
      region: s3.region,
      accessKeyId: s3.accessKeyId,
      secretAccessKey: s3.secretAccessKey,
      forcePathStyle: true,
    });
  }, 90_000);

  afterAll(async () => {
    await Promise.all([gateway?.stop(), ...ingesters.map((i) => i.stop())]);
    await bus?.close();
    await store?.close();
    await Promise.all([nats?.stop(), s3?.stop()]);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('stores exactly what was acknowledged, through an ingester SIGKILL and restart', async () => {
    const expected = new Map<string, Map<string, number>>(TENANTS.map((t) => [t, new Map()]));
    const clients = Object.fromEntries(
      TENANTS.map((t) => [
        t,
        {
          grpc: createClient(ProfileStoreService, createGrpcTransport({ baseUrl: gateway.base, interceptors: [bearer(tokens[t])] })),
          connect: createClient(ProfileStoreService, createConnectTransport({ baseUrl: gateway.base, httpVersion: '1.1', interceptors: [bearer(tokens[t])] })),
        },
      ]),
    );
    const pool = stackPool(7, 300);
    const baseMs = Date.UTC(2026, 10, 22, 1, 0, 0);
    const rounds = 10;
    for (let round = 0; round < rounds; round++) {
      if (round === 3) await ingesters[0].signal('SIGKILL');
      if (round === 7) ingesters[0] = await startApp('ingester', { env: { ...env, FIRN_INGESTER_ID: 'ingester-a2' } });
      await Promise.all(
        TENANTS.flatMap((tenant, ti) =>
          [0, 1, 2].map(async (agent) => {
            const w = agentWrite({ seed: 1000 * ti + 10 * agent + round, pool, node: `${tenant}-node-${agent}`, round, baseMs });
            if (agent === 2) {
              // The Parca agent's pprof protocol: one series, the profile name in __name__.
              await clients[tenant].connect.writeRaw({
                series: [
                  {
                    labels: { labels: [{ name: '__name__', value: 'parca_agent' }, ...w.batch.series[0].map(([name, value]) => ({ name, value }))] },
                    samples: [{ rawProfile: samplesToPprof(w.batch, CPU_TYPE, { includeLabels: false }) }],
                  },
                ],
              });
            } else {
              await clients[tenant].grpc.writeArrow({ ipcBuffer: samplesToArrow(w.batch) });
            }
            addTotals(expected.get(tenant) as Map<string, number>, w.totals);
          }),
        ),
      );
    }
    // One write larger than a NATS message: stored first in object storage (claim check).
    const big = new SampleBatchBuilder();
    const pt = big.addProfileType(CPU_TYPE);
    const series = big.addSeries([['node', 'acme-big-node']]);
    for (let i = 0; i < 6000; i++)
      big.addRow(pt, series, big.addStack(pool[i % pool.length].map((f) => ({ ...f, line: f.line + Math.floor(i / 300) }))), 1 + (i % 7), baseMs, 0, 0);
    const bigBatch = big.build();
    const bigIpc = samplesToArrow(bigBatch);
    expect(bigIpc.length).toBeGreaterThan(256 * 1024);
    await clients.acme.grpc.writeArrow({ ipcBuffer: bigIpc });
    addTotals(expected.get('acme') as Map<string, number>, totalsOf(bigBatch));

    await waitForIngestDrained(bus);
    for (const tenant of TENANTS) {
      const stored = await storedTotals(bus, store, tenant);
      expect(stored.segments).toBeGreaterThan(0);
      expect(sortedEntries(stored.totals)).toEqual(sortedEntries(expected.get(tenant) as Map<string, number>));
    }
    // The claim-check object is gone once its data is in a segment.
    const claims = await store.list('tenants/acme/claims/');
    expect(claims.objects).toEqual([]);
  }, 180_000);

  it('writes standard Parquet: DuckDB reads an ingester-written segment to the same totals', async () => {
    const manifest = await ManifestLog.open({ bus, store });
    try {
      await manifest.syncToLatest();
      const seg = manifest.validSegments(tenantFromTrustedSource('acme'))[0];
      expect(seg).toBeDefined();
      const dirKey = seg.meta.objectKey;
      const { samples, stacks } = await readSegment(store, keysOfDir(dirKey));
      const ours = await totalsBySeriesAndStack(samples, stacks);
      await writeFile(join(dir, 'samples.parquet'), samples);
      await writeFile(join(dir, 'stacks.parquet'), stacks);
      const duck = await DuckDBInstance.create(':memory:');
      const conn = await duck.connect();
      try {
        const reader = await conn.runAndReadAll(`
          SELECT s.profile_type AS pt, k.stack_key AS sk, CAST(sum(s.value) AS VARCHAR) AS total
          FROM read_parquet('${join(dir, 'samples.parquet')}') s JOIN read_parquet('${join(dir, 'stacks.parquet')}') k USING (stack_id)
          GROUP BY 1, 2`);
        const theirs = new Map<string, number>();
        for (const r of reader.getRowObjects()) theirs.set(`${String(r.pt)}|${String(r.sk)}`, Number(r.total));
        const oursByStack = new Map<string, number>();
        for (const [k, v] of ours) {
          const [pt, , sk] = k.split('|');
          oursByStack.set(`${pt}|${sk}`, (oursByStack.get(`${pt}|${sk}`) ?? 0) + v);
        }
        expect(sortedEntries(theirs)).toEqual(sortedEntries(oursByStack));
        expect(theirs.size).toBeGreaterThan(0);
      } finally {
        conn.closeSync();
      }
    } finally {
      await manifest.close();
    }
  });

  it('rejects malformed input with INVALID_ARGUMENT / 400 naming the problem, without affecting others', async () => {
    const acme = createClient(ProfileStoreService, createConnectTransport({ baseUrl: gateway.base, httpVersion: '1.1', interceptors: [bearer(tokens.acme)] }));
    const invalid = async (p: Promise<unknown>, pattern: RegExp): Promise<void> => {
      const err = await p.then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(ConnectError);
      expect((err as ConnectError).code).toBe(Code.InvalidArgument);
      expect((err as ConnectError).rawMessage).toMatch(pattern);
    };
    const raw = (rawProfile: Uint8Array, labels = [{ name: '__name__', value: 'parca_agent' }]) =>
      acme.writeRaw({ series: [{ labels: { labels }, samples: [{ rawProfile }] }] });
    await invalid(raw(new Uint8Array([0x0a, 0xff, 0xff, 0xff])), /malformed pprof|pprof/i);
    await invalid(raw(Buffer.concat([Buffer.from([0x1f, 0x8b, 0x08, 0x00]), Buffer.alloc(32, 7)])), /gzip|decompress|pprof/i);
    await invalid(raw(gzipSync(Buffer.from('x')), [{ name: 'job', value: 'x' }]), /__name__/);
    await invalid(acme.writeArrow({ ipcBuffer: new Uint8Array([1, 2, 3, 4]) }), /arrow|ipc/i);

    const wrongSchema = samplesToArrow(agentWrite({ seed: 1, pool: stackPool(1, 5), node: 'n', round: 0, baseMs: Date.now() }).batch);
    // Corrupt the schema: rename a required column in the IPC bytes ('value' → 'vblue').
    const idx = Buffer.from(wrongSchema).indexOf('value');
    const mangled = Buffer.from(wrongSchema);
    mangled.write('vblue', idx);
    await invalid(acme.writeArrow({ ipcBuffer: mangled }), /value|vblue|column/);
    // An unknown/ill-formed profile type: 'parca_agent:samples:count:…' → 'parca_agent;samples;count:…'.
    const badType = Buffer.from(wrongSchema);
    const at = badType.indexOf('parca_agent:samples:count');
    badType.write('parca_agent;samples;count', at);
    await invalid(acme.writeArrow({ ipcBuffer: badType }), /profile type/i);

    const res = await fetch(`${gateway.base}/ingest?name=app&format=trie`, {
      method: 'POST',
      headers: { authorization: `Bearer ${tokens.acme}` },
      body: 'a;b 1',
    });
    // A format Pyroscope takes and Firn does not: 415 (never retried as it is), still naming the parameter.
    expect(res.status).toBe(415);
    expect(await res.json()).toMatchObject({ code: 'invalid_argument', message: expect.stringMatching(/format/) });
    const noToken = await fetch(`${gateway.base}/ingest?name=app`, { method: 'POST', body: 'a;b 1' });
    expect(noToken.status).toBe(401);

    // Another tenant's writes go on working, and Pyroscope folded ingest lands in its own type.
    const ok = await fetch(`${gateway.base}/ingest?name=shop.cpu{env=prod}&from=1763773200&until=1763773210&sampleRate=100`, {
      method: 'POST',
      headers: { authorization: `Bearer ${tokens.globex}` },
      body: 'main;handle;parse 3\nmain;handle;render 2\n',
    });
    expect(ok.status).toBe(200);
    await waitForIngestDrained(bus);
    const stored = await storedTotals(bus, store, 'globex');
    const folded = [...stored.totals].filter(([k]) => k.startsWith('process_cpu:cpu:nanoseconds:cpu:nanoseconds'));
    expect(folded.map(([k]) => k.split('|')[1])).toEqual([expect.stringContaining('service_name'), expect.stringContaining('service_name')]);
    expect(folded.reduce((s, [, v]) => s + v, 0)).toBe(5 * 10_000_000);
  }, 60_000);
});

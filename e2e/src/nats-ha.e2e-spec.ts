// The durability contract of FIRN_NATS_REPLICAS=3: on a real 3-node JetStream cluster, every
// stream and KV bucket Firn makes has 3 replicas, and killing one nats-server (SIGKILL, the
// stream leader's node) while agents push loses no acknowledged sample.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { createClient } from '@connectrpc/connect';
import { createGrpcTransport } from '@connectrpc/connect-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectBus, type Bus } from '@firn/bus';
import { INGEST_STREAM } from '@firn/ingest-log';
import { samplesToArrow } from '@firn/profiles';
import { profilestoreV1alpha1 } from '@firn/proto';
import { createObjectStore } from '@firn/storage';
import { freePort, startRedis, startS3Server, type S3Server, type ServerProcess, type TestRedis } from '@firn/testing';
import { buildAppRoot, startCompiledApp, type AppRoot } from './support/compiled';
import { startNatsCluster, type NatsCluster } from './support/nats-cluster';
import { addTotals, agentWrite, stackPool } from './support/profiles-data';
import { bearer, makeTokens, s3Env, sortedEntries, storedTotals, waitForIngestDrained } from './support/write-path';

describe('NATS JetStream cluster, R3', () => {
  let cluster: NatsCluster;
  let s3: S3Server;
  let redis: TestRedis;
  let root: AppRoot;
  let dir: string;
  const apps: ServerProcess[] = [];
  let gatewayBase = '';
  let tokens: Record<string, string>;
  let bus: Bus | undefined;

  beforeAll(async () => {
    [cluster, s3, redis] = await Promise.all([startNatsCluster(3), startS3Server(), startRedis()]);
    root = buildAppRoot();
    dir = await mkdtemp(join(tmpdir(), 'firn-e2e-natsha-'));
    tokens = await makeTokens(join(dir, 'tokens.json'), ['acme']);
    const env = {
      FIRN_NATS_URL: cluster.urls,
      FIRN_NATS_REPLICAS: '3',
      ...s3Env(s3),
      FIRN_TOKENS_FILE: join(dir, 'tokens.json'),
      FIRN_INGESTER_FLUSH_MAX_AGE_MS: '300',
      FIRN_REDIS_URL: redis.url,
      FIRN_INTERNAL_TOKEN: 'e2e-natsha-internal-0123456789',
    };
    const ports = {
      gateway: await freePort(),
      ingester: await freePort(),
      querier: await freePort(),
      compactor: await freePort(),
      symbolizer: await freePort(),
    };
    // Every component, so every stream and bucket Firn makes exists (leases, symbolize queue, ...).
    for (const [app, port] of Object.entries(ports)) {
      apps.push(
        await startCompiledApp({
          root,
          app,
          host: '127.0.0.1',
          port,
          env: { ...env, FIRN_HOST: '127.0.0.1', FIRN_PORT: String(port), FIRN_DATA_DIR: join(dir, app) },
        }),
      );
    }
    gatewayBase = `http://127.0.0.1:${ports.gateway}`;
  }, 600_000);

  afterAll(async () => {
    await bus?.close().catch(() => undefined);
    await Promise.all(apps.map((a) => a.stop()));
    await Promise.all([cluster?.stop(), s3?.stop(), redis?.stop()]);
    root?.remove();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('makes every stream and KV bucket with 3 replicas', async () => {
    bus = await connectBus({ servers: cluster.urls.split(','), name: 'e2e-natsha' });
    const streams = await bus.listStreams();
    const names = streams.map((s) => s.name).sort();
    // The ingest log, the manifest, tenants and tokens, compactor leases, the symbolize queue, ...
    expect(names.length).toBeGreaterThanOrEqual(5);
    expect(names).toContain(INGEST_STREAM);
    expect(streams.filter((s) => s.replicas !== 3).map((s) => `${s.name}: R${s.replicas}`)).toEqual([]);
  });

  it('loses no acknowledged sample when a nats-server dies under load', async () => {
    const w = createClient(profilestoreV1alpha1.ProfileStoreService, createGrpcTransport({ baseUrl: gatewayBase, interceptors: [bearer(tokens.acme)] }));
    const pool = stackPool(5, 60);
    const acked = new Map<string, number>();
    const baseMs = Date.now() - 60_000;
    let failures = 0;
    let killed: string | undefined;
    const info = await bus?.streamInfo(INGEST_STREAM);
    const leader = info?.leader;
    const victim = cluster.nodes.find((n) => n.name === leader) ?? cluster.nodes[0];
    // 4 agents, 12 rounds each; a push that fails is sent again (same bytes: the ingest log's
    // dedup window makes the retry exactly-once) until it is acknowledged.
    await Promise.all(
      [0, 1, 2, 3].map(async (agent) => {
        for (let round = 0; round < 12; round++) {
          if (agent === 0 && round === 4) {
            killed = victim.name;
            process.kill(victim.proc.pid, 'SIGKILL');
          }
          const a = agentWrite({ seed: agent * 100 + round, pool, node: `node-${agent}`, round, baseMs });
          const body = samplesToArrow(a.batch);
          for (let attempt = 0; ; attempt++) {
            try {
              await w.writeArrow({ ipcBuffer: body });
              break;
            } catch (err) {
              failures++;
              if (attempt > 120) throw err;
              await sleep(500);
            }
          }
          addTotals(acked, a.totals);
          await sleep(150);
        }
      }),
    );
    expect(killed).toBe(victim.name);
    await waitForIngestDrained(bus as Bus, 180_000);
    const store = createObjectStore({
      kind: 's3',
      bucket: s3.bucket,
      region: s3.region,
      endpoint: s3.endpoint,
      accessKeyId: s3.accessKeyId,
      secretAccessKey: s3.secretAccessKey,
      forcePathStyle: true,
    });
    const { totals } = await storedTotals(bus as Bus, store, 'acme');
    await store.close();
    expect(sortedEntries(totals)).toEqual(sortedEntries(acked));
    process.stderr.write(`[nats-ha e2e] killed ${victim.name} (stream leader: ${leader}); ${failures} pushes were retried\n`);
  }, 600_000);
});

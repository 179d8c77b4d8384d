// The Helm chart, rendered in scaled mode (2 replicas of every component) and run as local
// processes with exactly the rendered commands, args and environment (support/kube.ts), over a
// real nats-server (JetStream), redis-server and S3 server. Proves the chart's wiring: env names,
// ports, Secrets, the headless Service the queriers and the gateway find each other through,
// probe paths, preStop and SIGTERM drains. Then: the first tenant and token through the admin API,
// every public API through the gateway Service's one address, writes, reads, compaction, and a
// rolling restart of every Deployment while agents push and readers read: exact totals, zero
// failed reads; then symbolization: a tenant's debuginfo upload and address-only frames, named by
// the symbolizer pods through the chart's symbol cache backend and seen by the querier pods.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createRequire } from 'node:module';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { create } from '@bufbuild/protobuf';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import { createClient } from '@connectrpc/connect';
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from '@connectrpc/connect-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { connectBus, type Bus } from '@firn/bus';
import { SampleBatchBuilder, samplesFromPprof, samplesToArrow } from '@firn/profiles';
import { debuginfoV1alpha1, profilestoreV1alpha1, querierV1, queryV1alpha1 } from '@firn/proto';
import { createObjectStore } from '@firn/storage';
import { buildTestProgram, retryRefusedStreams, startNats, startRedis, startS3Server, type S3Server, type TestNats, type TestRedis } from '@firn/testing';
import { ROOT } from './support/apps';
import { buildAppRoot, type AppRoot } from './support/compiled';
import { FakeCluster, type K8sObj } from './support/kube';
import { CPU_TYPE, addTotals, agentWrite, stackPool, totalsOf } from './support/profiles-data';
import { bearer, sortedEntries, storedTotals, waitForIngestDrained } from './support/write-path';

const run = promisify(execFile);
const Q = queryV1alpha1;
const NS = 'obs';
const ADMIN = 'e2e-admin-bootstrap-secret-0123456789abcdef';
const DEPLOYMENTS = ['gateway', 'ingester', 'querier', 'compactor', 'symbolizer'].map((c) => `firn-${c}`);
const log = (line: string): void => void process.stderr.write(`[chart e2e] ${line}\n`);

describe('chart-driven cluster', () => {
  let nats: TestNats;
  let redis: TestRedis;
  let s3: S3Server;
  let root: AppRoot;
  let dir: string;
  let cluster: FakeCluster;
  let gateway = '';
  let token = '';
  let bus: Bus;
  const acked = new Map<string, number>();
  const baseMs = Date.now() - 40 * 60_000;
  const pool = stackPool(11, 60);
  let round = 0;

  beforeAll(async () => {
    [nats, redis, s3] = await Promise.all([startNats(), startRedis(), startS3Server()]);
    root = buildAppRoot();
    dir = await mkdtemp(join(tmpdir(), 'firn-e2e-chart-'));
    const { k8sTools } = createRequire(__filename)(join(ROOT, 'scripts', 'k8s-tools.cjs')) as { k8sTools: () => { helm: string } };
    const set = {
      'nats.url': nats.url,
      'nats.replicas': '1',
      'redis.url': redis.url,
      'storage.s3.endpoint': s3.endpoint,
      'storage.s3.bucket': s3.bucket,
      'storage.s3.region': s3.region,
      'storage.s3.existingSecret': 'firn-s3',
      'auth.admin.token': ADMIN,
      preStopSleepSeconds: '1',
      'compaction.interval': '2s',
      'compaction.l1.minSegments': '2',
      'compaction.l1.settle': '5s',
    };
    const { stdout } = await run(
      k8sTools().helm,
      ['template', 'firn', resolve(ROOT, 'charts/firn'), '--namespace', NS, ...Object.entries(set).flatMap(([k, v]) => ['--set', `${k}=${v}`])],
      { maxBuffer: 64 << 20 },
    );
    const objects = parseAllDocuments(stdout)
      .map((d) => d.toJSON() as K8sObj | null)
      .filter((o): o is K8sObj => o !== null);
    cluster = new FakeCluster({
      objects,
      root,
      dir,
      namespace: NS,
      log,
      logDir: process.env.FIRN_E2E_LOG_DIR,
      extraSecrets: { 'firn-s3': { AWS_ACCESS_KEY_ID: s3.accessKeyId, AWS_SECRET_ACCESS_KEY: s3.secretAccessKey } },
    });
    const services = await cluster.startServices();
    gateway = `http://${services.get('firn-gateway')}`;
    expect(
      cluster
        .deployments()
        .map((d) => d.metadata.name)
        .sort(),
    ).toEqual([...DEPLOYMENTS].sort());
    for (const d of cluster.deployments()) {
      const replicas = (d.spec as { replicas: number }).replicas;
      expect(replicas, d.metadata.name).toBe(2);
      // Started together, as a fresh install would.
      await Promise.all(Array.from({ length: replicas }, () => cluster.startPod(d.metadata.name)));
    }
    bus = await connectBus({ servers: [nats.url], name: 'e2e-chart' });
  }, 900_000);

  afterAll(async () => {
    await bus?.close().catch(() => undefined);
    await cluster?.stop();
    await Promise.all([nats?.stop(), redis?.stop(), s3?.stop()]);
    root?.remove();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const adminCall = async (path: string, body: unknown): Promise<Record<string, unknown>> => {
    const res = await fetch(`${gateway}/api/v1/admin/${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    expect(res.status, `${path}: ${res.status}`).toBe(201);
    return (await res.json()) as Record<string, unknown>;
  };

  const merge = (): queryV1alpha1.QueryRequest =>
    create(Q.QueryRequestSchema, {
      mode: Q.QueryRequest_Mode.MERGE,
      options: {
        case: 'merge',
        value: create(Q.MergeProfileSchema, { query: `${CPU_TYPE}{}`, start: timestampFromMs(baseMs - 60_000), end: timestampFromMs(Date.now() + 3600_000) }),
      },
      reportType: Q.QueryRequest_ReportType.FLAMEGRAPH_ARROW,
    });

  const sum = (m: Map<string, number>): number => [...m.values()].reduce((a, b) => a + b, 0);

  /** One agent flush through the gateway Service, sent again (same bytes: deduplicated) until acked. */
  async function push(agent: number): Promise<number> {
    const w = createClient(profilestoreV1alpha1.ProfileStoreService, createGrpcTransport({ baseUrl: gateway, interceptors: [bearer(token)] }));
    const a = agentWrite({ seed: agent * 1000 + round, pool, node: `node-${agent}`, round: round++ % 200, baseMs });
    const body = samplesToArrow(a.batch);
    let retries = 0;
    // An agent keeps its batch until the gateway acknowledges it (the real agent buffers too).
    const deadline = Date.now() + 10 * 60_000;
    for (;;) {
      try {
        await w.writeArrow({ ipcBuffer: body });
        break;
      } catch (err) {
        retries++;
        if (Date.now() > deadline) throw err;
        await sleep(250);
      }
    }
    addTotals(acked, a.totals);
    return retries;
  }

  it('makes the first tenant and token through the admin API on the gateway Service', async () => {
    await adminCall('tenants', { id: 'acme' });
    const t = await adminCall('tokens', { tenant: 'acme', scopes: ['write:profiles', 'read:profiles', 'write:debuginfo'], description: 'e2e' });
    token = String(t.secretToken);
    expect(token).toMatch(/^firn_/);
    const who = await fetch(`${gateway}/api/v1/whoami`, { headers: { authorization: `Bearer ${token}` } });
    expect(await who.json()).toMatchObject({ tenant: 'acme' });
  });

  it('answers every public API through the one gateway address; the queriers share the reads', async () => {
    for (let agent = 0; agent < 4; agent++) await push(agent);
    const folded = await fetch(`${gateway}/ingest?name=${encodeURIComponent('svc.cpu{env=e2e}')}&sampleRate=100`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}` },
      body: 'main;a 5\nmain;b 7\n',
    });
    expect(folded.status).toBe(200);
    await waitForIngestDrained(bus);
    for (const t of [
      createGrpcTransport({ baseUrl: gateway }),
      createGrpcWebTransport({ baseUrl: gateway, httpVersion: '1.1' }),
      createConnectTransport({ baseUrl: gateway, httpVersion: '1.1' }),
    ]) {
      const q = createClient(Q.QueryService, t);
      let total = 0;
      for (let i = 0; i < 60 && total !== sum(acked); i++) {
        total = Number((await q.query(merge(), { headers: { authorization: `Bearer ${token}` } })).total);
        if (total !== sum(acked)) await sleep(500);
      }
      expect(total).toBe(sum(acked));
    }
    const py = createClient(
      querierV1.QuerierService,
      createConnectTransport({ baseUrl: gateway, httpVersion: '1.1', useBinaryFormat: false, interceptors: [bearer(token)] }),
    );
    const fg = await py.selectMergeStacktraces({
      profileTypeID: 'process_cpu:cpu:nanoseconds:cpu:nanoseconds',
      labelSelector: '{service_name="svc"}',
      start: BigInt(Date.now() - 3600_000),
      end: BigInt(Date.now() + 60_000),
    });
    expect(Number(fg.flamegraph?.total)).toBe(12 * 10_000_000);
    const perQuerier = await Promise.all(
      cluster.pods
        .filter((p) => p.deployment === 'firn-querier')
        .map(async (p) => {
          const text = await (await fetch(`http://${p.ip}:${p.port}/metrics`)).text();
          return text
            .split('\n')
            .filter((l) => l.startsWith('firn_querier_rpc_requests_total{procedure="parca.query.v1alpha1.QueryService/Query"'))
            .reduce((a, l) => a + Number(l.split(' ').pop()), 0);
        }),
    );
    expect(
      perQuerier.every((n) => n > 0),
      `Query calls per querier: ${perQuerier.join(', ')}`,
    ).toBe(true);
  }, 600_000);

  it('rolls every Deployment one pod at a time while agents push and readers read: exact totals, no failed read', async () => {
    let stop = false;
    let reads = 0;
    const failedReads: string[] = [];
    let pushRetries = 0;
    const agents = [0, 1, 2].map(async (agent) => {
      while (!stop) {
        pushRetries += await push(agent);
        await sleep(300);
      }
    });
    // Reported after the rollout, not as unhandled rejections meanwhile.
    for (const a of agents) a.catch(() => undefined);
    // The gRPC reader is a standard HTTP/2 client: a call its own session refused on reading a
    // draining gateway's GOAWAY (never sent) goes again on a new connection; nothing else does.
    let refusedRetried = 0;
    const readers = [0, 1].map(async (r) => {
      const q = createClient(
        Q.QueryService,
        r === 0
          ? createGrpcTransport({ baseUrl: gateway, interceptors: [bearer(token), retryRefusedStreams(() => refusedRetried++)] })
          : createGrpcWebTransport({ baseUrl: gateway, httpVersion: '1.1', interceptors: [bearer(token)] }),
      );
      while (!stop) {
        try {
          await q.query(merge());
          reads++;
        } catch (err) {
          failedReads.push(`${new Date().toISOString()} ${String(err)}`);
        }
        await sleep(200);
      }
    });
    const exits: Array<{ pod: string; code: number | null }> = [];
    try {
      for (const d of DEPLOYMENTS) {
        log(`rolling ${d}`);
        exits.push(...(await cluster.rolloutRestart(d)));
      }
    } finally {
      stop = true;
      await Promise.all([...agents, ...readers]);
    }
    log(
      `${reads} reads during the rollout, ${failedReads.length} failed, ${refusedRetried} refused before sending and sent again; ${pushRetries} pushes retried`,
    );
    if (failedReads.length > 0) for (const line of cluster.errorLines()) log(line);
    // Soft: a failed drain or read is reported, and the totals below are still checked.
    expect
      .soft(
        exits.filter((e) => e.code !== 0),
        'pods that did not drain and exit 0 within the grace period',
      )
      .toEqual([]);
    expect(exits).toHaveLength(10);
    expect.soft(failedReads).toEqual([]);
    expect(reads).toBeGreaterThan(10);

    await waitForIngestDrained(bus, 180_000);
    const store = createObjectStore({
      kind: 's3',
      bucket: s3.bucket,
      region: s3.region,
      endpoint: s3.endpoint,
      accessKeyId: s3.accessKeyId,
      secretAccessKey: s3.secretAccessKey,
      forcePathStyle: true,
    });
    try {
      const parca = new Map([...(await storedTotals(bus, store, 'acme')).totals].filter(([k]) => k.startsWith(CPU_TYPE)));
      expect(sortedEntries(parca)).toEqual(sortedEntries(acked));
    } finally {
      await store.close();
    }
    const q = createClient(Q.QueryService, createGrpcTransport({ baseUrl: gateway, interceptors: [bearer(token)] }));
    let total = 0;
    for (let i = 0; i < 60 && total !== sum(acked); i++) {
      total = Number((await q.query(merge())).total);
      if (total !== sum(acked)) await sleep(500);
    }
    expect(total).toBe(sum(acked));
  }, 1_200_000);

  it('compacts the segments and still answers the same totals', async () => {
    let jobs = 0;
    for (let i = 0; i < 120 && jobs === 0; i++) {
      for (const p of cluster.pods.filter((x) => x.deployment === 'firn-compactor')) {
        const text = await (await fetch(`http://${p.ip}:${p.port}/metrics`)).text();
        jobs += text
          .split('\n')
          .filter((l) => l.startsWith('firn_compactor_jobs_total{') && l.includes('outcome="ok"'))
          .reduce((a, l) => a + Number(l.split(' ').pop()), 0);
      }
      if (jobs === 0) await sleep(1000);
    }
    expect(jobs).toBeGreaterThan(0);
    const q = createClient(Q.QueryService, createGrpcTransport({ baseUrl: gateway, interceptors: [bearer(token)] }));
    expect(Number((await q.query(merge())).total)).toBe(sum(acked));
  }, 600_000);

  it('symbolizes address-only frames from a debuginfo upload: symbolizer pods resolve, querier pods name them', async () => {
    // A real ELF: gcc -g, debug info split off, stripped; offsets of <prefix>_leaf/_middle/main
    // read from the unstripped build's symbol table by libs/elf (the layout the agent sees).
    const prog = await buildTestProgram(join(dir, 'prog'), 'chartsym');
    const expected = ['chartsym_leaf', 'chartsym_middle', 'main'];
    const offsets = expected.map((n) => prog.offsets[n]);
    const D = debuginfoV1alpha1;
    const di = createClient(D.DebuginfoService, createGrpcTransport({ baseUrl: gateway, interceptors: [bearer(token)] }));
    expect((await di.shouldInitiateUpload({ buildId: prog.buildId, hash: 'chart-e2e' })).shouldInitiateUpload).toBe(true);
    // The Parca agent's upload protocol through the gateway: initiate, client-stream the bytes, mark finished.
    for (const [path, type] of [
      [prog.binaryPath, D.DebuginfoType.EXECUTABLE],
      [prog.debugPath, D.DebuginfoType.DEBUGINFO_UNSPECIFIED],
    ] as const) {
      const bytes = await readFile(path);
      const init = await di.initiateUpload({ buildId: prog.buildId, size: BigInt(bytes.length), hash: 'chart-e2e', type });
      const ins = init.uploadInstructions;
      expect(ins?.uploadStrategy).toBe(D.UploadInstructions_UploadStrategy.GRPC);
      const res = await di.upload(
        (async function* () {
          yield create(D.UploadRequestSchema, { data: { case: 'info', value: { buildId: prog.buildId, uploadId: ins?.uploadId ?? '', type } } });
          for (let i = 0; i < bytes.length; i += 16_384)
            yield create(D.UploadRequestSchema, { data: { case: 'chunkData', value: bytes.subarray(i, i + 16_384) } });
        })(),
      );
      expect(Number(res.size)).toBe(bytes.length);
      await di.markUploadFinished({ buildId: prog.buildId, uploadId: ins?.uploadId ?? '', type });
    }
    expect((await di.shouldInitiateUpload({ buildId: prog.buildId, hash: 'chart-e2e' })).shouldInitiateUpload).toBe(false);

    // What the agent sends for a native stack: build id + file offset, no names.
    const b = new SampleBatchBuilder();
    const stack = b.addStack(
      offsets.map((address) => ({ buildId: prog.buildId, mappingFile: '/usr/bin/chartsym', address, functionName: '', fileName: '', line: 0, inlined: false })),
    );
    b.addRow(b.addProfileType(CPU_TYPE), b.addSeries([['comm', 'chartsym']]), stack, 9, Date.now() - 60_000, 10_000_000_000, 52_631_578);
    const batch = b.build();
    const w = createClient(profilestoreV1alpha1.ProfileStoreService, createGrpcTransport({ baseUrl: gateway, interceptors: [bearer(token)] }));
    await w.writeArrow({ ipcBuffer: samplesToArrow(batch) });
    addTotals(acked, totalsOf(batch));

    // Read through the gateway (forwarded to a querier pod) until the names appear.
    const q = createClient(Q.QueryService, createGrpcTransport({ baseUrl: gateway, interceptors: [bearer(token)] }));
    const names = async (): Promise<{ names: string[][]; total: number }> => {
      const res = await q.query(
        create(Q.QueryRequestSchema, {
          mode: Q.QueryRequest_Mode.MERGE,
          options: {
            case: 'merge',
            value: create(Q.MergeProfileSchema, {
              query: `${CPU_TYPE}{comm="chartsym"}`,
              start: timestampFromMs(Date.now() - 3600_000),
              end: timestampFromMs(Date.now() + 60_000),
            }),
          },
          reportType: Q.QueryRequest_ReportType.PPROF,
        }),
      );
      const d = samplesFromPprof(res.report.value as Uint8Array, {
        name: 'q',
        seriesLabels: [],
        nowMs: 0,
        limits: { maxDecompressedBytes: 1e8, maxSamples: 1e6, maxStackDepth: 1e4 },
      });
      return { names: d.stacks.map((st) => st.map((f) => f.functionName)), total: Number(res.total) };
    };
    let got: { names: string[][]; total: number } = { names: [], total: 0 };
    for (let i = 0; i < 240 && !got.names.some((st) => st.includes(expected[0])); i++) {
      got = await names();
      if (!got.names.some((st) => st.includes(expected[0]))) await sleep(500);
    }
    expect(got.total).toBe(9);
    expect(got.names).toEqual([expected]);

    // More reads go round-robin over both querier pods: each names the frames from the shared
    // symbol cache (what one symbolizer pod wrote is seen by every querier).
    for (let i = 0; i < 4; i++) expect((await names()).names).toEqual([expected]);
    const resolved = await Promise.all(
      cluster.pods
        .filter((p) => p.deployment === 'firn-symbolizer')
        .map(async (p) => {
          const text = await (await fetch(`http://${p.ip}:${p.port}/metrics`)).text();
          return text
            .split('\n')
            .filter((l) => l.startsWith('firn_symbolizer_addresses_total{') && l.includes('outcome="resolved"'))
            .reduce((a, l) => a + Number(l.split(' ').pop()), 0);
        }),
    );
    expect(resolved.reduce((a, n) => a + n, 0)).toBeGreaterThanOrEqual(3);
    const hits = await Promise.all(
      cluster.pods
        .filter((p) => p.deployment === 'firn-querier')
        .map(async (p) => {
          const text = await (await fetch(`http://${p.ip}:${p.port}/metrics`)).text();
          return text
            .split('\n')
            .filter((l) => l.startsWith('firn_querier_symbol_lookups_total{') && l.includes('outcome="hit"'))
            .reduce((a, l) => a + Number(l.split(' ').pop()), 0);
        }),
    );
    expect(
      hits.every((n) => n >= 3),
      `symbol cache hits per querier: ${hits.join(', ')}`,
    ).toBe(true);
  }, 600_000);
});

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { create } from '@bufbuild/protobuf';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import { Code, ConnectError, createClient } from '@connectrpc/connect';
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from '@connectrpc/connect-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectBus, type Bus } from '@firn/bus';
import { samplesToArrow } from '@firn/profiles';
import { firnQueryV1, profilestoreV1alpha1, querierV1, queryV1alpha1 } from '@firn/proto';
import { freePort, startNats, startS3Server, type S3Server, type TestNats } from '@firn/testing';
import { startApp, type RunningApp } from './support/apps';
import { CPU_TYPE, agentWrite, stackPool } from './support/profiles-data';
import { bearer, makeTokens, s3Env, waitForIngestDrained } from './support/write-path';

const Q = queryV1alpha1;


/**
 * Two queriers as separate processes, peers of each other: a query to either one is split across
 * both (only partial aggregates cross between them) and the merged result equals what was written.
 */
describe('querier fan-out', () => {
  let nats: TestNats;
  let s3: S3Server;
  let dir: string;
  let bus: Bus;
  let apps: RunningApp[] = [];
  let queriers: RunningApp[] = [];
  let tokens: Record<string, string>;
  const totals = new Map<string, number>();
  const baseMs = Date.UTC(2026, 10, 22, 2, 0, 0);

  beforeAll(async () => {
    [nats, s3] = await Promise.all([startNats(), startS3Server()]);
    dir = await mkdtemp(join(tmpdir(), 'firn-e2e-fanout-'));
    tokens = await makeTokens(join(dir, 'tokens.json'), ['acme', 'globex']);
    const env = {
      FIRN_NATS_URL: nats.url,
      ...s3Env(s3),
      FIRN_TOKENS_FILE: join(dir, 'tokens.json'),
      FIRN_INGESTER_FLUSH_MAX_AGE_MS: '200',
      FIRN_SYMBOL_CACHE: 'memory',
      FIRN_INTERNAL_TOKEN: 'e2e-internal-token-0123456789',
    };
    apps = await Promise.all([startApp('gateway', { env }), startApp('ingester', { env })]);
    const [p1, p2] = [await freePort(), await freePort()];
    queriers = await Promise.all([
      startApp('querier', { port: p1, env: { ...env, FIRN_QUERIER_PEERS: `http://127.0.0.1:${p2}` } }),
      startApp('querier', { port: p2, env: { ...env, FIRN_QUERIER_PEERS: `http://127.0.0.1:${p1}` } }),
    ]);
    bus = await connectBus({ servers: [nats.url], name: 'e2e-fanout' });

    const pool = stackPool(21, 80);
    for (const tenant of ['acme', 'globex']) {
      const w = createClient(profilestoreV1alpha1.ProfileStoreService, createGrpcTransport({ baseUrl: apps[0].base, interceptors: [bearer(tokens[tenant])] }));
      // Spread writes over time so the ingester cuts several segments to split.
      for (let round = 0; round < 6; round++) {
        const a = agentWrite({ seed: round + (tenant === 'acme' ? 0 : 50), pool, node: `${tenant}-n`, round, baseMs });
        await w.writeArrow({ ipcBuffer: samplesToArrow(a.batch) });
        totals.set(tenant, (totals.get(tenant) ?? 0) + Array.from(a.batch.value).reduce((x, y) => x + y, 0));
        await new Promise((r) => setTimeout(r, 300));
      }
    }
    await waitForIngestDrained(bus);
  }, 120_000);

  afterAll(async () => {
    await Promise.all([...apps, ...queriers].map((a) => a.stop()));
    await bus?.close();
    await Promise.all([nats?.stop(), s3?.stop()]);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  function merge(): queryV1alpha1.QueryRequest {
    return create(Q.QueryRequestSchema, {
      mode: Q.QueryRequest_Mode.MERGE,
      options: { case: 'merge', value: create(Q.MergeProfileSchema, { query: `${CPU_TYPE}{}`, start: timestampFromMs(baseMs - 60_000), end: timestampFromMs(baseMs + 3600_000) }) },
      reportType: Q.QueryRequest_ReportType.FLAMEGRAPH_ARROW,
    });
  }

  it('splits a query across both queriers and merges to the written totals, per tenant', async () => {
    for (const tenant of ['acme', 'globex']) {
      for (const q of queriers) {
        const client = createClient(Q.QueryService, createGrpcWebTransport({ baseUrl: q.base, httpVersion: '1.1', interceptors: [bearer(tokens[tenant])] }));
        let total = 0;
        for (let i = 0; i < 50 && total !== totals.get(tenant); i++) {
          total = Number((await client.query(merge())).total);
          if (total !== totals.get(tenant)) await new Promise((r) => setTimeout(r, 200));
        }
        expect(total).toBe(totals.get(tenant));
      }
    }
    for (const q of queriers) {
      const metrics = await (await fetch(`${q.base}/metrics`)).text();
      expect(metrics).toMatch(/firn_querier_fanout_queries_total\{peers="1"\} [1-9]/);
      expect(metrics).toMatch(/firn_querier_rpc_requests_total\{procedure="firn\.query\.v1\.PartialQueryService\/Partial",code="ok"\} [1-9]/);
    }
  });

  it('serves the Pyroscope API and label metadata from either querier, per tenant', async () => {
    for (const q of queriers) {
      const py = createClient(querierV1.QuerierService, createConnectTransport({ baseUrl: q.base, httpVersion: '1.1', interceptors: [bearer(tokens.globex)] }));
      const res = await py.selectMergeStacktraces({ profileTypeID: 'parca_agent:samples:count:cpu:nanoseconds', labelSelector: '{}', start: BigInt(baseMs - 60_000), end: BigInt(baseMs + 3600_000) });
      expect(Number(res.flamegraph?.total)).toBe(totals.get('globex'));
      expect((await py.labelValues({ name: 'node', start: BigInt(baseMs - 60_000), end: BigInt(baseMs + 3600_000) })).names).toEqual(['globex-n']);
      const parca = createClient(Q.QueryService, createGrpcTransport({ baseUrl: q.base, interceptors: [bearer(tokens.acme)] }));
      expect((await parca.values({ labelName: 'node' })).labelValues).toEqual(['acme-n']);
    }
  });

  it('refuses internal calls without the internal token', async () => {
    const client = createClient(firnQueryV1.PartialQueryService, createGrpcTransport({ baseUrl: queriers[0].base }));
    const err = await client.partial({ selector: `${CPU_TYPE}{}`, startMs: 0n, endMs: 1n, segmentIds: [] }, { headers: { 'x-firn-tenant': 'acme' } }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ConnectError);
    expect((err as ConnectError).code).toBe(Code.PermissionDenied);
  });
});

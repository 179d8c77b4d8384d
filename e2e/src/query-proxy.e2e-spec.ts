import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { create, equals, fromBinary, fromJson, toBinary, type JsonValue } from '@bufbuild/protobuf';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import { Code, ConnectError, createClient, type Transport } from '@connectrpc/connect';
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from '@connectrpc/connect-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectBus, type Bus } from '@firn/bus';
import { samplesToArrow } from '@firn/profiles';
import { firnInsightsV1, profilestoreV1alpha1, querierV1, queryV1alpha1 } from '@firn/proto';
import { freePort, metricValue, startNats, startS3Server, type S3Server, type TestNats } from '@firn/testing';
import { startApp, warningsOf, type RunningApp } from './support/apps';
import { auth, pollUntil, SAMPLE_NS, spanProfile, upstreamQuerier } from './support/grafana-pyroscope';
import { CPU_TYPE, agentWrite, stackPool } from './support/profiles-data';
import { bearer, makeTokens, s3Env, waitForIngestDrained } from './support/write-path';

const Q = queryV1alpha1;
const INTERNAL = 'e2e-proxy-internal-token-0123456789';
const SPAN_A = '9a1b2c3d4e5f6071';
const SPAN_B = '0fedcba987654321';

/**
 * The gateway as the one public address for reads: Parca's QueryService, Pyroscope's
 * QuerierService and Firn's InsightsService, over gRPC, gRPC-web and Connect, forwarded to two queriers (processes of their
 * own) with the tenant authenticated once at the gateway, spread across both, deadlines carried,
 * and a stopped querier skipped.
 */
describe('gateway query proxy', () => {
  let nats: TestNats;
  let s3: S3Server;
  let dir: string;
  let bus: Bus;
  let gateway: RunningApp;
  let ingester: RunningApp;
  const queriers: RunningApp[] = [];
  let tokens: Record<string, string>;
  let total = 0;
  const baseMs = Date.UTC(2026, 10, 22, 2, 0, 0);

  beforeAll(async () => {
    [nats, s3] = await Promise.all([startNats(), startS3Server()]);
    dir = await mkdtemp(join(tmpdir(), 'firn-e2e-proxy-'));
    tokens = await makeTokens(join(dir, 'tokens.json'), ['acme']);
    const env = {
      FIRN_NATS_URL: nats.url,
      ...s3Env(s3),
      FIRN_TOKENS_FILE: join(dir, 'tokens.json'),
      FIRN_INGESTER_FLUSH_MAX_AGE_MS: '200',
      FIRN_SYMBOL_CACHE: 'memory',
      FIRN_INTERNAL_TOKEN: INTERNAL,
    };
    const [p1, p2] = [await freePort(), await freePort()];
    [queriers[0], queriers[1]] = await Promise.all([
      startApp('querier', { readyTimeoutMs: 120_000, port: p1, env: { ...env, FIRN_QUERIER_PEERS: `http://127.0.0.1:${p2}` } }),
      startApp('querier', { readyTimeoutMs: 120_000, port: p2, env: { ...env, FIRN_QUERIER_PEERS: `http://127.0.0.1:${p1}` } }),
    ]);
    [gateway, ingester] = await Promise.all([
      startApp('gateway', { readyTimeoutMs: 120_000, env: { ...env, FIRN_QUERIERS: `http://127.0.0.1:${p1},http://127.0.0.1:${p2}` } }),
      startApp('ingester', { readyTimeoutMs: 120_000, env }),
    ]);
    bus = await connectBus({ servers: [nats.url], name: 'e2e-proxy' });
    const w = createClient(profilestoreV1alpha1.ProfileStoreService, createGrpcTransport({ baseUrl: gateway.base, interceptors: [bearer(tokens.acme)] }));
    const pool = stackPool(7, 40);
    for (let round = 0; round < 4; round++) {
      const a = agentWrite({ seed: round, pool, node: 'n1', round, baseMs });
      await w.writeArrow({ ipcBuffer: samplesToArrow(a.batch) });
      total += Array.from(a.batch.value).reduce((x, y) => x + y, 0);
      await new Promise((r) => setTimeout(r, 300));
    }
    // A Pyroscope SDK's span profile, pushed through the gateway's /ingest.
    const s0 = Math.floor(baseMs / 1000);
    const res = await fetch(`${gateway.base}/ingest?name=spans-app&format=pprof&from=${s0}&until=${s0 + 10}&spyName=gospy`, {
      method: 'POST',
      headers: { authorization: `Bearer ${tokens.acme}` },
      body: spanProfile(baseMs, SPAN_A, SPAN_B),
    });
    expect(res.status, await res.text()).toBe(200);
    await waitForIngestDrained(bus);
  }, 300_000);

  afterAll(async () => {
    await Promise.all([gateway, ingester, ...queriers].filter(Boolean).map((a) => a.stop()));
    await bus?.close();
    await Promise.all([nats?.stop(), s3?.stop()]);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const merge = (): queryV1alpha1.QueryRequest =>
    create(Q.QueryRequestSchema, {
      mode: Q.QueryRequest_Mode.MERGE,
      options: {
        case: 'merge',
        value: create(Q.MergeProfileSchema, { query: `${CPU_TYPE}{}`, start: timestampFromMs(baseMs - 60_000), end: timestampFromMs(baseMs + 3600_000) }),
      },
      reportType: Q.QueryRequest_ReportType.FLAMEGRAPH_ARROW,
    });

  const transports = (token?: string): Array<[string, Transport]> => {
    const interceptors = token ? [bearer(token)] : [];
    return [
      ['grpc', createGrpcTransport({ baseUrl: gateway.base, interceptors })],
      ['grpc-web', createGrpcWebTransport({ baseUrl: gateway.base, httpVersion: '1.1', interceptors })],
      ['connect', createConnectTransport({ baseUrl: gateway.base, httpVersion: '1.1', interceptors })],
    ];
  };

  it('answers Parca queries with the written totals over gRPC, gRPC-web and Connect', async () => {
    for (const [name, t] of transports(tokens.acme)) {
      const client = createClient(Q.QueryService, t);
      let got = 0;
      for (let i = 0; i < 50 && got !== total; i++) {
        got = Number((await client.query(merge())).total);
        if (got !== total) await new Promise((r) => setTimeout(r, 200));
      }
      expect(got, name).toBe(total);
      expect(
        (await client.profileTypes({})).types.map((x) => x.name),
        name,
      ).toContain('parca_agent');
    }
  });

  it('answers Pyroscope queries to a Connect JSON caller (a browser or curl) and over gRPC', async () => {
    const res = await fetch(`${gateway.base}/querier.v1.QuerierService/SelectMergeStacktraces`, {
      method: 'POST',
      headers: { authorization: `Bearer ${tokens.acme}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        profileTypeID: 'parca_agent:samples:count:cpu:nanoseconds',
        labelSelector: '{}',
        start: String(baseMs - 60_000),
        end: String(baseMs + 3600_000),
      }),
    });
    expect(res.status).toBe(200);
    expect(Number(((await res.json()) as { flamegraph: { total: string } }).flamegraph.total)).toBe(total);
    const client = createClient(querierV1.QuerierService, createGrpcTransport({ baseUrl: gateway.base, interceptors: [bearer(tokens.acme)] }));
    expect((await client.labelNames({ start: BigInt(baseMs - 60_000), end: BigInt(baseMs + 3600_000) })).names).toContain('node');
  });

  it("forwards Pyroscope's span profiles, GetProfileStats and AnalyzeQuery, with Basic auth at the edge (clients from Pyroscope's protos)", async () => {
    const range = { start: BigInt(baseMs - 60_000), end: BigInt(baseMs + 3600_000) };
    const CPU = 'process_cpu:cpu:nanoseconds:cpu:nanoseconds';
    for (const py of [upstreamQuerier(gateway.base, 'connect', auth(tokens.acme, 'basic')), upstreamQuerier(gateway.base, 'grpc', auth(tokens.acme))]) {
      const span = async (ids: string[]) =>
        Number(
          (await py.selectMergeSpanProfile({ profileTypeID: CPU, labelSelector: '{service_name="spans-app"}', spanSelector: ids, ...range })).flamegraph
            ?.total ?? 0,
        );
      await pollUntil(async () => (await span([SPAN_A])) === 7 * SAMPLE_NS, 60_000);
      expect(await span([SPAN_A])).toBe(7 * SAMPLE_NS);
      expect(await span([SPAN_A, SPAN_B])).toBe(10 * SAMPLE_NS);
      expect((await py.profileTypes(range)).profileTypes.map((t) => t.ID)).toContain(CPU);
      const stats = await py.getProfileStats({});
      expect(stats.dataIngested).toBe(true);
      expect(stats.oldestProfileTime).toBeLessThanOrEqual(BigInt(baseMs));
      const analysis = await py.analyzeQuery({ query: `${CPU}{service_name="spans-app"}`, ...range });
      expect(analysis.queryImpact?.totalQueriedSeries).toBe(3n); // span_name is a series label (GET /a, GET /b, none); span_id is not
      expect(analysis.queryScopes[0]?.blockCount).toBeGreaterThan(0n);
    }
    // Unauthenticated through the proxy: refused at the edge, for the new methods too.
    const anon = upstreamQuerier(gateway.base, 'connect', (next) => (req) => next(req));
    await expect(anon.getProfileStats({})).rejects.toMatchObject({ code: Code.Unauthenticated });
  });

  it('passes a binary answer on as the querier encoded it, and decodes it for a JSON caller', async () => {
    const range = { start: BigInt(baseMs - 60_000), end: BigInt(baseMs + 3600_000) };
    const profileTypeID = 'parca_agent:samples:count:cpu:nanoseconds';
    const calls: Array<[string, Uint8Array]> = [
      [
        'querier.v1.QuerierService/SelectMergeStacktraces',
        toBinary(
          querierV1.SelectMergeStacktracesRequestSchema,
          create(querierV1.SelectMergeStacktracesRequestSchema, { profileTypeID, labelSelector: '{}', maxNodes: 64n, ...range }),
        ),
      ],
      [
        'querier.v1.QuerierService/SelectMergeProfile',
        toBinary(
          querierV1.SelectMergeProfileRequestSchema,
          create(querierV1.SelectMergeProfileRequestSchema, { profileTypeID, labelSelector: '{}', ...range }),
        ),
      ],
    ];
    // Connect's unary protocol, binary: the response body is the message's bytes.
    const post = async (base: string, path: string, body: Uint8Array, headers: Record<string, string>) => {
      const res = await fetch(`${base}/${path}`, { method: 'POST', headers: { 'content-type': 'application/proto', ...headers }, body });
      expect(res.status, path).toBe(200);
      return new Uint8Array(await res.arrayBuffer());
    };
    const internal = { 'x-firn-tenant': 'acme', 'x-firn-internal-token': INTERNAL };
    for (const [path, body] of calls) {
      const viaGateway = await post(gateway.base, path, body, { authorization: `Bearer ${tokens.acme}` });
      // The same bytes as one of the queriers' own (decoded and encoded again, the levels a querier
      // writes after the flame graph's other fields would come back in field order instead).
      const direct = await Promise.all(queriers.map((q) => post(q.base, path, body, internal)));
      expect(
        direct.some((d) => Buffer.from(d).equals(viaGateway)),
        path,
      ).toBe(true);
      expect(viaGateway.length, path).toBeGreaterThan(100);
    }
    // The flame graph as a JSON caller (curl, Connect JSON from a browser) gets it through the gateway: the same levels.
    const binary = fromBinary(
      querierV1.SelectMergeStacktracesResponseSchema,
      await post(gateway.base, calls[0][0], calls[0][1], { authorization: `Bearer ${tokens.acme}` }),
    );
    const res = await fetch(`${gateway.base}/${calls[0][0]}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${tokens.acme}`, 'content-type': 'application/json' },
      body: JSON.stringify({ profileTypeID, labelSelector: '{}', maxNodes: '64', start: String(range.start), end: String(range.end) }),
    });
    expect(res.status).toBe(200);
    const json = fromJson(querierV1.SelectMergeStacktracesResponseSchema, (await res.json()) as JsonValue);
    expect(Number(json.flamegraph?.total)).toBe(total);
    expect(json.flamegraph?.levels.length).toBeGreaterThan(1);
    expect(equals(querierV1.SelectMergeStacktracesResponseSchema, json, binary)).toBe(true);
  });

  it('answers Firn insights (cost per node) with the same groups as a querier asked directly', async () => {
    const req = {
      selection: { query: CPU_TYPE, start: timestampFromMs(baseMs - 60_000), end: timestampFromMs(baseMs + 3600_000) },
      groupBy: ['node'],
      topFunctions: 2,
    };
    const groups = async (base: string) => {
      const r = await createClient(firnInsightsV1.InsightsService, createGrpcTransport({ baseUrl: base, interceptors: [bearer(tokens.acme)] })).costReport(req);
      return r.groups.map((g) => [g.labels.map((l) => `${l.name}=${l.value}`), g.samples, g.cpuSeconds, g.topFunctions.map((f) => f.functionName)]);
    };
    const viaGateway = await groups(gateway.base);
    expect(viaGateway.reduce((t, g) => t + Number(g[1]), 0)).toBe(total);
    expect(viaGateway).toEqual(await groups(queriers[0].base));
    // Connect JSON through the gateway, as the web UI and curl send it; no token → UNAUTHENTICATED.
    const res = await fetch(`${gateway.base}/firn.insights.v1.InsightsService/CostReport`, {
      method: 'POST',
      headers: { authorization: `Bearer ${tokens.acme}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        selection: { query: CPU_TYPE, start: new Date(baseMs - 60_000).toISOString(), end: new Date(baseMs + 3600_000).toISOString() },
        groupBy: ['node'],
      }),
    });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { groups: Array<{ samples: string }> }).groups.reduce((t, g) => t + Number(g.samples), 0)).toBe(total);
    await expect(createClient(firnInsightsV1.InsightsService, createGrpcTransport({ baseUrl: gateway.base })).costReport(req)).rejects.toMatchObject({
      code: Code.Unauthenticated,
    });
  });

  it('spreads forwarded calls over both queriers', async () => {
    const client = createClient(Q.QueryService, createGrpcTransport({ baseUrl: gateway.base, interceptors: [bearer(tokens.acme)] }));
    for (let i = 0; i < 6; i++) await client.profileTypes({});
    const series = 'firn_querier_rpc_requests_total{procedure="parca.query.v1alpha1.QueryService/ProfileTypes",code="ok"}';
    for (const q of queriers) expect(metricValue(await (await fetch(`${q.base}/metrics`)).text(), series), q.base).toBeGreaterThanOrEqual(3);
  });

  it('authenticates once at the edge and trusts a forwarded tenant only with the internal token', async () => {
    for (const [name, t] of transports()) {
      await expect(createClient(Q.QueryService, t).profileTypes({}), name).rejects.toMatchObject({ code: Code.Unauthenticated });
    }
    const direct = (headers: Record<string, string>) =>
      createClient(Q.QueryService, createGrpcTransport({ baseUrl: queriers[0].base })).profileTypes({}, { headers });
    // A tenant header without the internal token is ignored: the querier wants a bearer token.
    await expect(direct({ 'x-firn-tenant': 'acme' })).rejects.toMatchObject({ code: Code.Unauthenticated });
    await expect(direct({ 'x-firn-tenant': 'acme', 'x-firn-internal-token': 'wrong-internal-token-0000' })).rejects.toMatchObject({
      code: Code.PermissionDenied,
    });
    expect((await direct({ 'x-firn-tenant': 'acme', 'x-firn-internal-token': INTERNAL })).types.length).toBeGreaterThan(0);
  });

  it("carries the caller's deadline to the querier", async () => {
    const client = createClient(Q.QueryService, createGrpcTransport({ baseUrl: gateway.base, interceptors: [bearer(tokens.acme)] }));
    const err = await client.query(merge(), { timeoutMs: 1 }).then(
      () => undefined,
      (e: unknown) => ConnectError.from(e),
    );
    expect(err?.code).toBe(Code.DeadlineExceeded);
  });

  it('keeps answering with the written totals when a querier stops', async () => {
    await queriers[1].stop();
    const client = createClient(Q.QueryService, createGrpcTransport({ baseUrl: gateway.base, interceptors: [bearer(tokens.acme)] }));
    for (let i = 0; i < 6; i++) {
      const res = await client.query(merge()).catch((err: unknown) => {
        // Failed once in CI (UNAVAILABLE, the stopped querier's ECONNREFUSED) and not since in 52
        // runs: if it comes back, the message carries what the gateway and the live querier logged.
        throw new Error(`query ${i} failed: ${ConnectError.from(err).message}\n${warningsOf(gateway, queriers[0])}`, { cause: err });
      });
      expect(Number(res.total)).toBe(total);
    }
  });
});

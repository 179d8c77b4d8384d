import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { create } from '@bufbuild/protobuf';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import { Code, ConnectError, createClient } from '@connectrpc/connect';
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from '@connectrpc/connect-node';
import { tableFromIPC } from 'apache-arrow';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectBus, type Bus } from '@firn/bus';
import { SampleBatchBuilder, samplesToArrow } from '@firn/profiles';
import { firnInsightsV1, firnQueryV1, profilestoreV1alpha1, querierV1, queryV1alpha1 } from '@firn/proto';
import { freePort, metricValue, startNats, startS3Server, type S3Server, type TestNats } from '@firn/testing';
import { startApp, type RunningApp } from './support/apps';
import { CPU_TYPE, agentWrite, stackPool } from './support/profiles-data';
import { bearer, makeTokens, s3Env, waitForIngestDrained } from './support/write-path';

const Q = queryV1alpha1;
const MAX_NODES_GLOBEX = 5;
const SPAN_TYPE = 'spans:samples:count:cpu:nanoseconds:delta';
const SPAN_A = '00000000000000aa';
const SPAN_B = '00000000000000bb';

/** Retries `fn` until it returns what `ok` accepts (data reach every querier's manifest view in time). */
async function eventually<T>(fn: () => Promise<T>, ok: (v: T) => boolean, tries = 50): Promise<T> {
  let v = await fn();
  for (let i = 1; i < tries && !ok(v); i++) {
    await new Promise((r) => setTimeout(r, 200));
    v = await fn();
  }
  return v;
}

/** A metric's value in a Prometheus text exposition (0 when absent). */
/**
 * Two queriers as separate processes, peers of each other: a query to either one is split across
 * both (only partial aggregates cross between them) and the merged result equals what was written.
 * A third querier without peers gives the single-querier answer every fan-out result must equal.
 */
describe('querier fan-out', () => {
  let nats: TestNats;
  let s3: S3Server;
  let dir: string;
  let bus: Bus;
  let apps: RunningApp[] = [];
  const queriers: RunningApp[] = [];
  let single: RunningApp;
  let tokens: Record<string, string>;
  const totals = new Map<string, number>();
  let spanTotal = 0;
  const baseMs = Date.UTC(2026, 10, 22, 2, 0, 0);

  beforeAll(async () => {
    [nats, s3] = await Promise.all([startNats(), startS3Server()]);
    dir = await mkdtemp(join(tmpdir(), 'firn-e2e-fanout-'));
    tokens = await makeTokens(join(dir, 'tokens.json'), ['acme', 'globex']);
    // A tiny flame graph node cap for globex: totals must survive it (Parca and Pyroscope).
    await writeFile(join(dir, 'limits.json'), JSON.stringify({ tenants: { globex: { max_flame_graph_nodes: MAX_NODES_GLOBEX } } }));
    const env = {
      FIRN_NATS_URL: nats.url,
      ...s3Env(s3),
      FIRN_TOKENS_FILE: join(dir, 'tokens.json'),
      FIRN_INGESTER_FLUSH_MAX_AGE_MS: '200',
      FIRN_SYMBOL_CACHE: 'memory',
      FIRN_INTERNAL_TOKEN: 'e2e-internal-token-0123456789',
      FIRN_LIMITS_FILE: join(dir, 'limits.json'),
    };
    apps = await Promise.all([startApp('gateway', { env, readyTimeoutMs: 120_000 }), startApp('ingester', { env, readyTimeoutMs: 120_000 })]);
    const [p1, p2] = [await freePort(), await freePort()];
    [queriers[0], queriers[1], single] = await Promise.all([
      startApp('querier', { port: p1, env: { ...env, FIRN_QUERIER_PEERS: `http://127.0.0.1:${p2}` }, readyTimeoutMs: 120_000 }),
      startApp('querier', { port: p2, env: { ...env, FIRN_QUERIER_PEERS: `http://127.0.0.1:${p1}` }, readyTimeoutMs: 120_000 }),
      startApp('querier', { env, readyTimeoutMs: 120_000 }),
    ]);
    bus = await connectBus({ servers: [nats.url], name: 'e2e-fanout' });

    const pool = stackPool(21, 80);
    for (const tenant of ['acme', 'globex']) {
      const w = createClient(profilestoreV1alpha1.ProfileStoreService, createGrpcTransport({ baseUrl: apps[0].base, interceptors: [bearer(tokens[tenant])] }));
      // Spread writes over time so the ingester cuts several segments to split.
      for (let round = 0; round < 6; round++) {
        const a = agentWrite({ seed: round + (tenant === 'acme' ? 0 : 50), pool, node: `${tenant}-n`, round, baseMs });
        await w.writeArrow({ ipcBuffer: samplesToArrow(a.batch) });
        if (tenant === 'acme') {
          // Span profiles of their own type, so every other answer of this suite stays the same.
          const b = new SampleBatchBuilder();
          b.add(SPAN_TYPE, [['node', 'acme-n']], pool[round], 3 + round, baseMs + round * 10_000, 0, 0, SPAN_A);
          b.add(SPAN_TYPE, [['node', 'acme-n']], pool[round], 5, baseMs + round * 10_000, 0, 0, SPAN_B);
          await w.writeArrow({ ipcBuffer: samplesToArrow(b.build()) });
          spanTotal += 3 + round;
        }
        totals.set(tenant, (totals.get(tenant) ?? 0) + Array.from(a.batch.value).reduce((x, y) => x + y, 0));
        await new Promise((r) => setTimeout(r, 300));
      }
    }
    await waitForIngestDrained(bus);
  }, 300_000);

  afterAll(async () => {
    await Promise.all([...apps, ...queriers, ...(single ? [single] : [])].map((a) => a.stop()));
    await bus?.close();
    await Promise.all([nats?.stop(), s3?.stop()]);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  function merge(): queryV1alpha1.QueryRequest {
    return create(Q.QueryRequestSchema, {
      mode: Q.QueryRequest_Mode.MERGE,
      options: {
        case: 'merge',
        value: create(Q.MergeProfileSchema, { query: `${CPU_TYPE}{}`, start: timestampFromMs(baseMs - 60_000), end: timestampFromMs(baseMs + 3600_000) }),
      },
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
        // The tenant's node cap applies to Parca's flame graph too: trimmed, total kept.
        const res = await client.query(merge());
        if (res.report.case !== 'flamegraphArrow') throw new Error(`unexpected report ${res.report.case}`);
        const rows = tableFromIPC(res.report.value.record).numRows;
        if (tenant === 'globex') {
          expect(rows).toBe(MAX_NODES_GLOBEX + 1);
          expect(res.report.value.trimmed).toBeGreaterThan(0n);
        } else {
          expect(rows).toBeGreaterThan(MAX_NODES_GLOBEX + 1);
          expect(res.report.value.trimmed).toBe(0n);
        }
        expect(Number(res.total)).toBe(totals.get(tenant));
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
      const res = await py.selectMergeStacktraces({
        profileTypeID: 'parca_agent:samples:count:cpu:nanoseconds',
        labelSelector: '{}',
        start: BigInt(baseMs - 60_000),
        end: BigInt(baseMs + 3600_000),
      });
      expect(Number(res.flamegraph?.total)).toBe(totals.get('globex'));
      expect((await py.labelValues({ name: 'node', start: BigInt(baseMs - 60_000), end: BigInt(baseMs + 3600_000) })).names).toEqual(['globex-n']);
      const parca = createClient(Q.QueryService, createGrpcTransport({ baseUrl: q.base, interceptors: [bearer(tokens.acme)] }));
      expect((await parca.values({ labelName: 'node' })).labelValues).toEqual(['acme-n']);
    }
  });

  it('splits span profiles across both queriers (the span selector travels to the peer) to the single-querier answer', async () => {
    for (const q of [...queriers, single]) {
      const py = createClient(querierV1.QuerierService, createGrpcTransport({ baseUrl: q.base, interceptors: [bearer(tokens.acme)] }));
      const req = {
        profileTypeID: 'spans:samples:count:cpu:nanoseconds',
        labelSelector: '{}',
        spanSelector: [SPAN_A],
        start: BigInt(baseMs - 60_000),
        end: BigInt(baseMs + 3600_000),
      };
      const res = await eventually(
        () => py.selectMergeSpanProfile(req),
        (r) => Number(r.flamegraph?.total) === spanTotal,
      );
      expect(Number(res.flamegraph?.total)).toBe(spanTotal);
    }
  });

  const range = { start: baseMs - 60_000, end: baseMs + 3600_000 };
  const parcaOf = (q: RunningApp, tenant: string) =>
    createClient(Q.QueryService, createGrpcTransport({ baseUrl: q.base, interceptors: [bearer(tokens[tenant])] }));
  const pyroscopeOf = (q: RunningApp, tenant: string) =>
    createClient(querierV1.QuerierService, createConnectTransport({ baseUrl: q.base, httpVersion: '1.1', interceptors: [bearer(tokens[tenant])] }));

  /** Every series and label answer, in a comparable form; the same calls on any querier. */
  async function seriesAndLabels(q: RunningApp, tenant: string) {
    const parca = parcaOf(q, tenant);
    const py = pyroscopeOf(q, tenant);
    const queryRange = await parca.queryRange({
      query: `${CPU_TYPE}{}`,
      start: timestampFromMs(range.start),
      end: timestampFromMs(range.end),
      step: { seconds: 10n },
    });
    const bySeries = queryRange.series
      .map((s) => ({
        labels: s.labelset?.labels.map((l) => `${l.name}=${l.value}`).join(','),
        points: s.samples.map((p) => [Number(p.timestamp?.seconds), Number(p.value), p.count, Number(p.duration)]),
      }))
      .sort((a, b) => String(a.labels).localeCompare(String(b.labels)));
    const select = async (groupBy: string[]) =>
      (
        await py.selectSeries({
          profileTypeID: 'parca_agent:samples:count:cpu:nanoseconds',
          labelSelector: '{}',
          start: BigInt(range.start),
          end: BigInt(range.end),
          step: 10,
          groupBy,
        })
      ).series
        .map((s) => ({ labels: s.labels.map((l) => `${l.name}=${l.value}`).join(','), points: s.points.map((p) => [Number(p.timestamp), p.value]) }))
        .sort((a, b) => a.labels.localeCompare(b.labels));
    const pySeries = (await py.series({ matchers: ['{}'], labelNames: ['namespace', 'node'], start: BigInt(range.start), end: BigInt(range.end) })).labelsSet
      .map((l) => l.labels.map((x) => `${x.name}=${x.value}`).join(','))
      .sort();
    // Matchers make the summaries insufficient, so these read segments (and fan out).
    const match = [`{node="${tenant}-n"}`];
    const labels = (await parca.labels({ match, start: timestampFromMs(range.start), end: timestampFromMs(range.end) })).labelNames;
    const values = (await parca.values({ labelName: 'namespace', match, start: timestampFromMs(range.start), end: timestampFromMs(range.end) })).labelValues;
    const pyNames = (await py.labelNames({ matchers: [`{node=~"${tenant}.*"}`], start: BigInt(range.start), end: BigInt(range.end) })).names;
    const pyValues = (await py.labelValues({ name: 'namespace', matchers: [`{comm="app"}`], start: BigInt(range.start), end: BigInt(range.end) })).names;
    const total = bySeries.reduce((t, s) => t + s.points.reduce((u, p) => u + p[1], 0), 0);
    return { total, bySeries, all: await select([]), byNamespace: await select(['namespace']), pySeries, labels, values, pyNames, pyValues };
  }

  it('splits series, label names and label values across both queriers, equal to the single-querier answer', async () => {
    const kinds = ['series', 'label_names', 'label_values'] as const;
    const before = await Promise.all(queriers.map(async (q) => await (await fetch(`${q.base}/metrics`)).text()));
    for (const tenant of ['acme', 'globex']) {
      const alone = await eventually(
        () => seriesAndLabels(single, tenant),
        (v) => v.total === totals.get(tenant),
      );
      expect(alone.total).toBe(totals.get(tenant));
      expect(alone.bySeries.length).toBeGreaterThan(1);
      expect(alone.byNamespace.length).toBeGreaterThan(1);
      expect(alone.all).toHaveLength(1);
      expect(alone.values.length).toBeGreaterThan(1);
      expect(alone.labels).toEqual(expect.arrayContaining(['namespace', 'node', 'comm']));
      for (const q of queriers) {
        const fanned = await eventually(
          () => seriesAndLabels(q, tenant),
          (v) => v.total === totals.get(tenant),
        );
        expect(fanned).toEqual(alone);
      }
    }
    // Each querier asked the other for shares of every kind, and the other scanned segments for it.
    const after = await Promise.all(queriers.map(async (q) => await (await fetch(`${q.base}/metrics`)).text()));
    const rpc: Record<(typeof kinds)[number], string> = { series: 'PartialSeries', label_names: 'PartialLabelNames', label_values: 'PartialLabelValues' };
    for (const [i, text] of after.entries()) {
      for (const kind of kinds) {
        const served = `firn_querier_peer_share_segments_total{kind="${kind}"}`;
        expect(metricValue(text, served) - metricValue(before[i], served), `${served} on querier ${i}`).toBeGreaterThan(0);
        const calls = `firn_querier_rpc_requests_total{procedure="firn.query.v1.PartialQueryService/${rpc[kind]}",code="ok"}`;
        expect(metricValue(text, calls) - metricValue(before[i], calls), `${calls} on querier ${i}`).toBeGreaterThan(0);
      }
    }
  });

  it('splits grouped insights (cost per namespace and sampling period) across both queriers, equal to the single-querier answer', async () => {
    const cost = async (base: string) => {
      const c = createClient(firnInsightsV1.InsightsService, createGrpcTransport({ baseUrl: base, interceptors: [bearer(tokens.acme)] }));
      const r = await c.costReport({
        selection: { query: CPU_TYPE, start: timestampFromMs(baseMs - 60_000), end: timestampFromMs(baseMs + 3600_000) },
        groupBy: ['namespace'],
        topFunctions: 3,
      });
      return r.groups.map((g) => [g.labels[0]?.value, g.samples, g.cpuSeconds, g.topFunctions.map((f) => [f.functionName, f.selfCpuSeconds])]);
    };
    const complete = (g: Awaited<ReturnType<typeof cost>>) => g.reduce((t, x) => t + Number(x[1]), 0) === totals.get('acme');
    const partials = `firn_querier_rpc_requests_total{procedure="firn.query.v1.PartialQueryService/Partial",code="ok"}`;
    const before = await Promise.all(queriers.map(async (q) => metricValue(await (await fetch(`${q.base}/metrics`)).text(), partials)));
    const want = await eventually(() => cost(single.base), complete);
    expect(complete(want)).toBe(true);
    expect(want.length).toBeGreaterThan(1);
    for (const q of queriers) expect(await eventually(() => cost(q.base), complete)).toEqual(want);
    // The grouped merges went through the peers' partial RPC (each querier served the other's share).
    for (const [i, q] of queriers.entries()) {
      const after = metricValue(await (await fetch(`${q.base}/metrics`)).text(), partials);
      expect(after - before[i], `${partials} on querier ${i}`).toBeGreaterThan(0);
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
    for (const call of [
      () =>
        client.partialSeries(
          { selector: `${CPU_TYPE}{}`, startMs: 0n, endMs: 1n, stepMs: 1n, segmentIds: [] },
          { headers: { 'x-firn-tenant': 'acme', 'x-firn-internal-token': 'wrong-token-0123456789' } },
        ),
      () => client.partialLabelNames({ startMs: 0n, endMs: 1n, segmentIds: [] }, { headers: { 'x-firn-tenant': 'acme' } }),
      () => client.partialLabelValues({ name: 'node', startMs: 0n, endMs: 1n, segmentIds: [] }, { headers: { 'x-firn-tenant': 'acme' } }),
    ]) {
      const e = await call().then(
        () => undefined,
        (x: unknown) => x,
      );
      expect((e as ConnectError).code).toBe(Code.PermissionDenied);
    }
  });
});

import { join } from 'node:path';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import { createClient } from '@connectrpc/connect';
import { createGrpcTransport } from '@connectrpc/connect-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ingesterServer } from '@firn/ingester';
import { appendIngest } from '@firn/ingest-log';
import { queryV1alpha1 } from '@firn/proto';
import { tenantFromTrustedSource } from '@firn/tenancy';
import { CLUSTER_CPU_TYPE, clusterWrite, eventually, queryMergeTotal, startTestCluster, type ClusterComponent, type TestCluster } from '@firn/test-cluster';
import { makeTempDir, makeTokens, metricValue, removeDir } from '@firn/testing';
import { querierServer } from './querier.server';

const TENANT = 'acme';
const WRITES = 6;
const BASE_MS = Date.UTC(2026, 10, 22, 4, 0, 0);
const RANGE = [BASE_MS - 60_000, BASE_MS + 3_600_000] as const;
const INTERNAL_TOKEN = 'cluster-test-internal-token-0123';

const SERVED = 'firn_querier_peer_share_segments_total{kind="stacks"}';
const SERVED_SERIES = 'firn_querier_peer_share_segments_total{kind="series"}';
const FAN_OUTS = 'firn_querier_fanout_queries_total{peers="1"}';
const LOCAL_SHARES = 'firn_querier_share_seconds_count{where="local"}';
const FALLBACKS = 'firn_querier_peer_fallbacks_total';
const RANGE_CALLS = 'firn_querier_rpc_requests_total{procedure="parca.query.v1alpha1.QueryService/QueryRange",code="ok"}';
const SELECT_SERIES_CALLS = 'firn_querier_rpc_requests_total{procedure="querier.v1.QuerierService/SelectSeries",code="ok"}';
const QUERY_CALLS = 'firn_querier_rpc_requests_total{procedure="parca.query.v1alpha1.QueryService/Query",code="ok"}';
const MERGE_STACKTRACES_CALLS = 'firn_querier_rpc_requests_total{procedure="querier.v1.QuerierService/SelectMergeStacktraces",code="ok"}';

/**
 * Querier fan-out in one process: two queriers that are each other's peer split every query's
 * segments round-robin (each scans its share), and their answers equal a lone querier's. The
 * process-per-component version, with every API, is e2e/src/querier-fanout.e2e-spec.ts.
 */
describe('querier fan-out (in-process cluster)', () => {
  let cluster: TestCluster;
  let a: ClusterComponent;
  let b: ClusterComponent;
  let single: ClusterComponent;
  let dir: string;
  let token: string;
  let expected = 0;

  beforeAll(async () => {
    cluster = await startTestCluster();
    dir = makeTempDir('fan-out');
    token = (await makeTokens(join(dir, 'tokens.json'), [TENANT]))[TENANT];
    const env = { FIRN_TOKENS_FILE: join(dir, 'tokens.json'), FIRN_INTERNAL_TOKEN: INTERNAL_TOKEN };
    const [urlA, urlB] = await Promise.all([cluster.reserve('querier-a'), cluster.reserve('querier-b')]);
    // One segment per write, so there are WRITES segments to split.
    const ingester = cluster.start(ingesterServer, { env: { FIRN_INGESTER_FLUSH_MAX_ROWS: '1' } });
    // a and b keep no series tables, hence no stack sums: every merge they front splits its segments
    // (a querier keeps the segments whose sums it holds; see the test of that below).
    const split = { ...env, FIRN_QUERIER_SERIES_CACHE_BYTES: '0' };
    [a, b, single] = await Promise.all([
      cluster.start(querierServer, { name: 'querier-a', env: { ...split, FIRN_QUERIER_PEERS: urlB } }),
      cluster.start(querierServer, { name: 'querier-b', env: { ...split, FIRN_QUERIER_PEERS: urlA } }),
      cluster.start(querierServer, { name: 'querier-alone', env }),
    ]);
    await ingester;
    for (let i = 0; i < WRITES; i++) {
      const w = clusterWrite(100 + i, BASE_MS + i * 10_000);
      await appendIngest(cluster.bus, cluster.store, { tenant: tenantFromTrustedSource(TENANT), requestId: `w${i}`, payload: w.payload });
      expected += w.total;
    }
    // Every querier follows the manifest on its own: wait until each sees every segment.
    for (const q of [single, a, b])
      await eventually(
        () => queryMergeTotal(q.url, token, ...RANGE),
        (t) => t === expected,
      );
  });

  afterAll(async () => {
    await cluster?.stop();
    if (dir) removeDir(dir);
  });

  const metric = async (q: ClusterComponent, series: string) => metricValue(await q.metrics(), series);

  /** Every series of a QueryRange, sorted, in a comparable form. */
  async function series(q: ClusterComponent) {
    const client = createClient(queryV1alpha1.QueryService, createGrpcTransport({ baseUrl: q.url }));
    const res = await client.queryRange(
      { query: `${CLUSTER_CPU_TYPE}{}`, start: timestampFromMs(RANGE[0]), end: timestampFromMs(RANGE[1]), step: { seconds: 10n } },
      { headers: { authorization: `Bearer ${token}` } },
    );
    return res.series
      .map((s) => ({
        labels: s.labelset?.labels.map((l) => `${l.name}=${l.value}`).join(','),
        points: s.samples.map((p) => [Number(p.timestamp?.seconds), Number(p.value)]),
      }))
      .sort((x, y) => String(x.labels).localeCompare(String(y.labels)));
  }

  it('splits a query through either querier across both, to the lone querier’s answer', async () => {
    expect(await queryMergeTotal(single.url, token, ...RANGE)).toBe(expected);
    const alone = await series(single);
    expect(alone.length).toBeGreaterThan(1);
    // The ingester wrote each segment's series rollup: the querier read those, no rows.
    expect(await metric(single, 'firn_querier_series_tables_read_total{source="rollup"}')).toBe(WRITES);
    expect(await metric(single, 'firn_querier_series_tables_read_total{source="rows"}')).toBe(0);
    expect(await metric(single, 'firn_querier_series_rollup_errors_total')).toBe(0);
    for (const [front, peer] of [
      [a, b],
      [b, a],
    ]) {
      const before = {
        fanOuts: await metric(front, FAN_OUTS),
        local: await metric(front, LOCAL_SHARES),
        served: await metric(peer, SERVED),
        servedSeries: await metric(peer, SERVED_SERIES),
      };
      expect(await queryMergeTotal(front.url, token, ...RANGE)).toBe(expected);
      expect(await series(front)).toEqual(alone);
      // The front scanned its share (share 0) and the peer scanned the other half of the segments.
      expect(await metric(front, FAN_OUTS)).toBe(before.fanOuts + 2);
      expect(await metric(front, LOCAL_SHARES)).toBe(before.local + 2);
      expect(await metric(peer, SERVED)).toBe(before.served + WRITES / 2);
      expect(await metric(peer, SERVED_SERIES)).toBe(before.servedSeries + WRITES / 2);
    }
    expect(await metric(a, FALLBACKS)).toBe(0);
    expect(await metric(b, FALLBACKS)).toBe(0);
  });

  it('keeps the segments whose stack sums the front holds: with all of them preloaded, a merge asks no peer', async () => {
    const env = { FIRN_TOKENS_FILE: join(dir, 'tokens.json'), FIRN_INTERNAL_TOKEN: INTERNAL_TOKEN };
    const [urlC, urlD] = await Promise.all([cluster.reserve('querier-c'), cluster.reserve('querier-d')]);
    // Defaults: the series preload reads the last hour's tables and their stack sums before ready.
    const [c, d] = await Promise.all([
      cluster.start(querierServer, { name: 'querier-c', env: { ...env, FIRN_QUERIER_PEERS: urlD } }),
      cluster.start(querierServer, { name: 'querier-d', env: { ...env, FIRN_QUERIER_PEERS: urlC } }),
    ]);
    const fanOuts = await metric(c, FAN_OUTS);
    expect(await queryMergeTotal(c.url, token, ...RANGE)).toBe(expected);
    // Label-filtered too (this matcher accepts every series): its segments stay here as well.
    expect(await queryMergeTotal(c.url, token, ...RANGE, `${CLUSTER_CPU_TYPE}{unset_label!="x"}`)).toBe(expected);
    expect(await metric(c, FAN_OUTS)).toBe(fanOuts);
    expect(await metric(d, SERVED)).toBe(0);
    // A series query still splits: its shares carry no frames. (c's warm-up range queries may
    // have split to d already, when d was up first: count from here.)
    const servedSeries = await metric(d, SERVED_SERIES);
    expect(await series(c)).toEqual(await series(single));
    expect(await metric(c, FAN_OUTS)).toBe(fanOuts + 1);
    expect(await metric(d, SERVED_SERIES)).toBe(servedSeries + WRITES / 2);
  });

  it('reads the last hour’s series tables and runs warm-up queries before it is ready, so its first QueryRange reads no segment', async () => {
    const tokens = { FIRN_TOKENS_FILE: join(dir, 'tokens.json') };
    const off = await cluster.start(querierServer, {
      name: 'querier-late-off',
      env: { ...tokens, FIRN_QUERIER_SERIES_PRELOAD: '0', FIRN_QUERIER_WARM_UP: 'false' },
    });
    expect(await metric(off, 'firn_querier_series_cache_segments')).toBe(0);
    expect(await metric(off, 'firn_querier_footer_cache_misses_total')).toBe(0);
    const late = await cluster.start(querierServer, { name: 'querier-late', env: tokens });
    expect(await metric(late, 'firn_querier_series_cache_segments')).toBe(WRITES);
    expect(await metric(late, 'firn_querier_series_tables_read_total{source="rollup"}')).toBe(WRITES);
    // The preload opened the segments' Parquet objects; the two warm-up flame graphs (unfiltered,
    // label-filtered) covered the newest segment whole and summed its cached table's stack sums,
    // the last one, over the preload's hour, every segment's (WRITES); then the RPC warm-up's
    // three series queries (below) over the newest segment and over the hour, 1 + WRITES each,
    // and its two flame graphs over the newest segment, 1 each.
    expect(await metric(late, 'firn_querier_footer_cache_misses_total')).toBeGreaterThan(0);
    expect(await metric(off, 'firn_querier_series_cache_hits_total')).toBe(0);
    expect(await metric(late, 'firn_querier_series_cache_hits_total')).toBe(2 + WRITES + 3 * (1 + WRITES) + 2);
    // Then, once serving and before ready, a dashboard's range queries through its own services
    // (no internal token configured here: a process-local one), over the newest segment and over
    // the preload's hour: QueryRange over gRPC and gRPC-web, SelectSeries; and a flame graph of
    // the newest segment as each data source asks for it (Parca's over gRPC-web, Pyroscope's over
    // Connect). Nobody else queried it yet.
    expect(await metric(off, RANGE_CALLS)).toBe(0);
    expect(await metric(late, RANGE_CALLS)).toBe(4);
    expect(await metric(late, SELECT_SERIES_CALLS)).toBe(2);
    expect(await metric(off, QUERY_CALLS)).toBe(0);
    expect(await metric(late, QUERY_CALLS)).toBe(1);
    expect(await metric(late, MERGE_STACKTRACES_CALLS)).toBe(1);
    expect(await queryMergeTotal(late.url, token, ...RANGE)).toBe(expected);
    // The merge covering whole segments summed their tables' stack sums (read from rows once).
    const hits = await metric(late, 'firn_querier_series_cache_hits_total');
    expect(await series(late)).toEqual(await series(single));
    expect(await metric(late, 'firn_querier_series_cache_hits_total')).toBe(hits + WRITES);
    expect(await metric(late, 'firn_querier_series_cache_misses_total')).toBe(0);
    expect(await metric(late, 'firn_querier_series_tables_read_total{source="rollup"}')).toBe(WRITES);
  });

  it('scans a dead peer’s share itself: same answer', async () => {
    b.kill();
    expect(await queryMergeTotal(a.url, token, ...RANGE)).toBe(expected);
    expect(await metric(a, FALLBACKS)).toBe(1);
    expect(await series(a)).toEqual(await series(single));
  });
});

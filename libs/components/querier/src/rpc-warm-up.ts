import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import { createClient, type Transport } from '@connectrpc/connect';
import { Http2SessionManager, createConnectTransport, createGrpcWebTransport } from '@connectrpc/connect-node';
import type { Logger } from '@firn/observability';
import { internalGrpcTransport } from '@firn/platform';
import { querierV1, queryV1alpha1 } from '@firn/proto';
import type { TenantId } from '@firn/tenancy';
import { INTERNAL_TENANT_HEADER, INTERNAL_TOKEN_HEADER, WARM_UP_HEADER } from './internal-auth';

interface Range {
  startMs: number;
  endMs: number;
}

/** What the warm-up asks about: a tenant's recent ranges, a profile type it has and a label to sum by. */
export interface RpcWarmUpProbe {
  tenant: TenantId;
  /** Each range is asked in turn (differently sized ranges leave the sums compiled for both). */
  ranges: readonly Range[];
  profileType: string;
  /** A label name of the data (the range queries sum by it, as a dashboard does); none: no sum. */
  sumBy?: string;
}

/** As many points as Grafana asks of a panel. */
const POINTS = 300;
/** The node cap Grafana's flame graph panel asks Pyroscope for. */
export const GRAFANA_MAX_NODES = 16384;

/**
 * Range queries through this querier's own public services before it is ready (answers
 * discarded), so a restarted querier's first dashboard query does not pay for the first run of
 * the RPC handlers, the response encoding and the series sums as a real call drives them, which
 * no in-process warm-up reaches: Parca QueryRange over gRPC (how the gateway forwards every query)
 * and over gRPC-web (Grafana's Parca data source, directly), Pyroscope SelectSeries over gRPC.
 * Before them, one flame graph of the first range as each data source asks for it, Parca's Arrow
 * record over gRPC-web and Pyroscope's SelectMergeStacktraces over Connect, both compressed as
 * clients accept them: the in-process warm-up built the same flame graphs, but a fleet flame
 * graph is a response of megabytes, and without these calls a restarted querier's first
 * whole-range flame graph cost 1.2-2.3× a warm one's CPU (0.6-1.3× with them; `docs/benchmarks.md`,
 * "Issue #19, twenty-sixth step"). Each call carries the internal token and the warm-up header:
 * served as a forwarded query, not metered as the tenant's usage. A failure is logged and only
 * costs the first query its start-up.
 */
export async function warmUpOverRpc(baseUrl: string, token: string, probe: RpcWarmUpProbe, signal: AbortSignal, log: Logger): Promise<void> {
  const headers = { [INTERNAL_TOKEN_HEADER]: token, [INTERNAL_TENANT_HEADER]: probe.tenant, [WARM_UP_HEADER]: '1' };
  const sumBy = probe.sumBy === undefined ? [] : [probe.sumBy];
  const parcaRange = (transport: Transport, r: Range) => () =>
    createClient(queryV1alpha1.QueryService, transport).queryRange(
      { query: probe.profileType, start: timestampFromMs(r.startMs), end: timestampFromMs(r.endMs - 1), limit: POINTS, sumBy },
      { headers, signal },
    );
  // Its own HTTP/2 session, closed at the end: none stays open to this server after start-up.
  const session = new Http2SessionManager(baseUrl);
  // As the gateway calls a querier (responses uncompressed), so the first forwarded query finds that path compiled.
  const grpc = internalGrpcTransport(baseUrl, { sessionManager: session });
  const grpcWeb = createGrpcWebTransport({ baseUrl, httpVersion: '1.1' });
  const selectSeries = (r: Range) => () =>
    createClient(querierV1.QuerierService, grpc).selectSeries(
      {
        profileTypeID: probe.profileType,
        labelSelector: '{}',
        start: BigInt(r.startMs),
        end: BigInt(r.endMs - 1),
        step: Math.max(1, Math.ceil((r.endMs - r.startMs) / POINTS / 1000)),
        groupBy: sumBy,
      },
      { headers, signal },
    );
  const Q = queryV1alpha1;
  const parcaFlameGraph = (r: Range) => () =>
    createClient(Q.QueryService, grpcWeb).query(
      {
        mode: Q.QueryRequest_Mode.MERGE,
        options: { case: 'merge', value: { query: probe.profileType, start: timestampFromMs(r.startMs), end: timestampFromMs(r.endMs - 1) } },
        reportType: Q.QueryRequest_ReportType.FLAMEGRAPH_ARROW,
      },
      { headers, signal },
    );
  const connect = createConnectTransport({ baseUrl, httpVersion: '1.1' });
  const pyroscopeFlameGraph = (r: Range) => () =>
    createClient(querierV1.QuerierService, connect).selectMergeStacktraces(
      { profileTypeID: probe.profileType, labelSelector: '{}', start: BigInt(r.startMs), end: BigInt(r.endMs - 1), maxNodes: BigInt(GRAFANA_MAX_NODES) },
      { headers, signal },
    );
  // The flame graphs first: the range queries after them collect their garbage before ready,
  // which a dashboard's first QueryRange paid for when they came last (0.02 s of its 0.03-0.06 s).
  const first = probe.ranges[0];
  const calls: Array<{ call: string; r: Range; run: () => Promise<unknown> }> = first
    ? [
        { call: 'parca flame graph (gRPC-web)', r: first, run: parcaFlameGraph(first) },
        { call: 'pyroscope SelectMergeStacktraces (Connect)', r: first, run: pyroscopeFlameGraph(first) },
      ]
    : [];
  for (const r of probe.ranges) {
    calls.push(
      { call: 'parca QueryRange (gRPC)', r, run: parcaRange(grpc, r) },
      { call: 'parca QueryRange (gRPC-web)', r, run: parcaRange(grpcWeb, r) },
      { call: 'pyroscope SelectSeries (gRPC)', r, run: selectSeries(r) },
    );
  }
  try {
    for (const { call, r, run } of calls) {
      const t0 = performance.now();
      const at = { tenant: probe.tenant, call, startMs: r.startMs, endMs: r.endMs };
      try {
        await run();
        log.info({ ...at, ms: Math.round(performance.now() - t0) }, 'query path warmed up over RPC');
      } catch (err) {
        log.warn({ ...at, err }, 'warm-up call failed; the first such query pays its start-up');
        return;
      }
    }
  } finally {
    session.abort();
  }
}

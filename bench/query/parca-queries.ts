// The queries the benchmark times, as Grafana's data sources send them: Parca's (gRPC-web over
// HTTP/1.1 to a querier's public QueryService) and Pyroscope's (Connect, binary protobuf, to its
// QuerierService).
import { create } from '@bufbuild/protobuf';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import { createClient, type Client } from '@connectrpc/connect';
import { bearer } from '../cli';
import { createConnectTransport, createGrpcWebTransport } from '@connectrpc/connect-node';
import { tableFromIPC } from 'apache-arrow';
import { querierV1, queryV1alpha1 } from '@firn/proto';

const Q = queryV1alpha1;
export type QueryClient = Client<typeof Q.QueryService>;
export type PyroscopeClient = Client<typeof querierV1.QuerierService>;

/** Both APIs of one querier (or gateway). */
export interface QueryClients {
  parca: QueryClient;
  pyroscope: PyroscopeClient;
}

export function queryClients(base: string, token: string): QueryClients {
  const interceptors = [bearer(token)];
  return {
    parca: createClient(Q.QueryService, createGrpcWebTransport({ baseUrl: base, httpVersion: '1.1', interceptors })),
    pyroscope: createClient(querierV1.QuerierService, createConnectTransport({ baseUrl: base, httpVersion: '1.1', interceptors })),
  };
}

/**
 * Pyroscope SelectMergeStacktraces over [startMs, endMs) with at most `maxNodes` nodes (Grafana's
 * flame graph panel sends 16384 by default): the flame graph's total and node count. The profile
 * type is Parca's without its delta suffix, as Pyroscope names it.
 */
export async function pyroscopeFlamegraph(
  client: PyroscopeClient,
  profileType: string,
  labelSelector: string,
  startMs: number,
  endMs: number,
  maxNodes: number,
): Promise<{ total: number; nodes: number }> {
  const res = await client.selectMergeStacktraces({
    profileTypeID: profileType.split(':').slice(0, 5).join(':'),
    labelSelector,
    start: BigInt(startMs),
    end: BigInt(endMs - 1),
    maxNodes: BigInt(maxNodes),
  });
  const fg = res.flamegraph;
  if (!fg) throw new Error('SelectMergeStacktraces returned no flame graph');
  return { total: Number(fg.total), nodes: fg.levels.reduce((n, l) => n + l.values.length / 4, 0) };
}

export interface FlameResult {
  /** `total` of the response. */
  total: number;
  /** Cumulative value of row 0 (the root) of the Arrow record. */
  rootCumulative: number;
  nodes: number;
  recordBytes: number;
}

/** Parca Query MERGE → FLAMEGRAPH_ARROW over [startMs, endMs) (Parca ranges are inclusive). */
export async function mergeFlamegraph(client: QueryClient, selector: string, startMs: number, endMs: number): Promise<FlameResult> {
  const res = await client.query(
    create(Q.QueryRequestSchema, {
      mode: Q.QueryRequest_Mode.MERGE,
      options: { case: 'merge', value: create(Q.MergeProfileSchema, { query: selector, start: timestampFromMs(startMs), end: timestampFromMs(endMs - 1) }) },
      reportType: Q.QueryRequest_ReportType.FLAMEGRAPH_ARROW,
    }),
  );
  if (res.report.case !== 'flamegraphArrow') throw new Error(`expected a flamegraphArrow report, got ${res.report.case}`);
  const record = res.report.value.record;
  const table = tableFromIPC(record);
  const cumulative = table.getChild('cumulative');
  if (!cumulative) throw new Error('flame graph record has no cumulative column');
  return { total: Number(res.total), rootCumulative: table.numRows > 0 ? Number(cumulative.get(0)) : 0, nodes: table.numRows, recordBytes: record.length };
}

export interface RangeResult {
  series: number;
  points: number;
  total: number;
}

/** Parca QueryRange with `limit` points summed by the given labels, as Grafana asks for them. */
export async function queryRange(client: QueryClient, selector: string, startMs: number, endMs: number, points: number, sumBy: string[]): Promise<RangeResult> {
  const res = await client.queryRange({ query: selector, start: timestampFromMs(startMs), end: timestampFromMs(endMs - 1), limit: points, sumBy });
  let total = 0;
  let n = 0;
  for (const s of res.series) {
    n = Math.max(n, s.samples.length);
    for (const p of s.samples) total += Number(p.value);
  }
  return { series: res.series.length, points: n, total };
}

// The queries the benchmark times, as Grafana's Parca data source sends them (gRPC-web over
// HTTP/1.1 to a querier's public QueryService).
import { create } from '@bufbuild/protobuf';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import { createClient, type Client } from '@connectrpc/connect';
import { bearer } from '../cli';
import { createGrpcWebTransport } from '@connectrpc/connect-node';
import { tableFromIPC } from 'apache-arrow';
import { queryV1alpha1 } from '@firn/proto';

const Q = queryV1alpha1;
export type QueryClient = Client<typeof Q.QueryService>;

export function queryClient(base: string, token: string): QueryClient {
  return createClient(Q.QueryService, createGrpcWebTransport({ baseUrl: base, httpVersion: '1.1', interceptors: [bearer(token)] }));
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

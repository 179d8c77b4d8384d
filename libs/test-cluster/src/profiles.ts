import { create } from '@bufbuild/protobuf';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import { createClient } from '@connectrpc/connect';
import { createGrpcTransport } from '@connectrpc/connect-node';
import { SampleBatchBuilder, samplesToArrow, type Frame } from '@firn/profiles';
import { queryV1alpha1 } from '@firn/proto';
import { mulberry32 } from '@firn/testing';

/** The profile type cluster tests write (the Parca agent's CPU samples). */
export const CLUSTER_CPU_TYPE = 'parca_agent:samples:count:cpu:nanoseconds:delta';

const frame = (fn: string): Frame => ({
  buildId: 'c1u5',
  mappingFile: '/app/bin',
  address: BigInt(0x1000 + fn.length * 16),
  functionName: fn,
  fileName: `${fn}.go`,
  line: 1,
  inlined: false,
});

/**
 * One seeded write of firn.samples.v1 Arrow (what agents send and the ingest log carries): a few
 * series and stacks at `tsMs`; `total` is the sum of its sample values.
 */
export function clusterWrite(seed: number, tsMs: number): { payload: Uint8Array; total: number } {
  const rnd = mulberry32(seed);
  const b = new SampleBatchBuilder();
  let total = 0;
  for (let i = 0; i < 12; i++) {
    const value = 1 + Math.floor(rnd() * 50);
    const leaf = `fn_${Math.floor(rnd() * 9)}`;
    b.add(
      CLUSTER_CPU_TYPE,
      [
        ['node', `node-${Math.floor(rnd() * 3)}`],
        ['namespace', `ns-${seed % 2}`],
      ],
      [frame(leaf), frame('handler'), frame('main')],
      value,
      tsMs,
      10_000_000_000,
      10_000_000,
    );
    total += value;
  }
  return { payload: samplesToArrow(b.build()), total };
}

/** The total of a Parca MERGE query over `[startMs, endMs)` through a querier, as a tenant. */
export async function queryMergeTotal(baseUrl: string, token: string, startMs: number, endMs: number, query = `${CLUSTER_CPU_TYPE}{}`): Promise<number> {
  const Q = queryV1alpha1;
  const client = createClient(Q.QueryService, createGrpcTransport({ baseUrl }));
  const res = await client.query(
    create(Q.QueryRequestSchema, {
      mode: Q.QueryRequest_Mode.MERGE,
      options: { case: 'merge', value: create(Q.MergeProfileSchema, { query, start: timestampFromMs(startMs), end: timestampFromMs(endMs) }) },
      reportType: Q.QueryRequest_ReportType.FLAMEGRAPH_ARROW,
    }),
    { headers: { authorization: `Bearer ${token}` } },
  );
  return Number(res.total);
}

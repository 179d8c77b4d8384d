import { create } from '@bufbuild/protobuf';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import type { UsageReport } from '@firn/insights';
import { firnAdminUsageV1 } from '@firn/proto';

const U = firnAdminUsageV1;

export function usageResponse(r: UsageReport): firnAdminUsageV1.GetUsageResponse {
  return create(U.GetUsageResponseSchema, {
    usage: r.usage.map((u) =>
      create(U.TenantUsageSchema, {
        tenant: u.tenant,
        ingestedSamples: u.ingestedSamples,
        ingestedRows: u.ingestedRows,
        ingestedBytes: u.ingestedBytes,
        ingestedSegmentBytes: u.ingestedSegmentBytes,
        ingestedSegments: BigInt(u.ingestedSegments),
        storedBytes: u.storedBytes,
        storedSegments: BigInt(u.storedSegments),
        storedSamples: u.storedSamples,
        queries: BigInt(u.queries),
        queryCpuSeconds: u.queryCpuMicros / 1e6,
      }),
    ),
    asOf: timestampFromMs(r.asOfMs),
    manifestSeq: BigInt(r.manifestSeq),
  });
}

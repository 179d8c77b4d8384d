import { Inject, Injectable } from '@nestjs/common';
import { FirnError } from '@firn/errors';
import {
  LimitMetrics,
  RateLimiter,
  RuntimeLimits,
  checkBatchLimits,
  defaultLimitsFrom,
  limitExceeded,
  limitOf,
  type TenantLimits,
  type TenantLimitsSource,
} from '@firn/limits';
import type { Registry } from '@firn/observability';
import { TENANT_LIMITS } from '@firn/platform';
import type { PprofLimits } from '@firn/profiles';
import { METRICS } from '@firn/server-runtime';
import type { TenantId } from '@firn/tenancy';
import { GATEWAY_OPTIONS, type GatewayOptions } from '../gateway.options';
import type { BatchShape } from './ingest-decoder';

/**
 * Per-tenant ingest limits at the gateway: request size and rate (token bucket per tenant, per
 * gateway replica) before any parsing, parser caps, and the shape of the decoded batch after.
 * Every refusal is counted in firn_gateway_limit_rejections_total{tenant,limit}.
 */
@Injectable()
export class IngestLimits {
  private readonly source: TenantLimitsSource;
  private readonly rate = new RateLimiter();
  private readonly metrics: LimitMetrics;

  constructor(@Inject(TENANT_LIMITS) limits: TenantLimitsSource | null, @Inject(GATEWAY_OPTIONS) opts: GatewayOptions, @Inject(METRICS) registry: Registry) {
    this.source = limits ?? RuntimeLimits.fixed(defaultLimitsFrom({ ...opts, ingestRateBytes: 0, ingestBurstBytes: 0, maxConcurrentQueries: 1 }));
    this.metrics = new LimitMetrics(registry, 'gateway');
  }

  /** Size and rate of one request as received; throws 413 or 429 (with Retry-After). Callers count refusals with countRejection. */
  admit(tenant: TenantId, bytes: number, series = 0): TenantLimits {
    const l = this.source.for(tenant);
    if (bytes > l.maxProfileBytes)
      throw limitExceeded('maxProfileBytes', `request of ${bytes} bytes is larger than ${l.maxProfileBytes} bytes`, { httpStatus: 413 });
    if (series > l.maxSeriesPerRequest)
      throw FirnError.invalidArgument(`request has ${series} series, more than the limit of ${l.maxSeriesPerRequest}`, { limit: 'max_series_per_request' });
    const wait = this.rate.take(tenant, bytes, l.ingestRateBytes, l.ingestBurstBytes);
    if (wait > 0) throw limitExceeded('ingestRateBytes', `tenant ${tenant} sends faster than ${l.ingestRateBytes} bytes/s`, { retryAfterSeconds: wait });
    return l;
  }

  /** The largest body worth reading for this tenant (the rest is refused unread). */
  maxBodyBytes(tenant: TenantId, processMax: number): number {
    return Math.min(processMax, this.source.for(tenant).maxProfileBytes);
  }

  /** The tenant's limits as the decoders in @firn/profiles count them while reading. */
  parserLimits(l: TenantLimits): PprofLimits {
    return {
      maxDecompressedBytes: l.maxDecompressedBytes,
      maxSamples: l.maxSamplesPerProfile,
      maxStackDepth: l.maxStackDepth,
      maxSymbols: l.maxProfileSymbols,
      maxLabels: l.maxLabelNames,
      maxSeries: l.maxSeriesPerRequest,
      maxStackFrames: l.maxStackFramesPerRequest,
    };
  }

  /** Labels, series and the time window of a decoded batch; counts truncated stacks. */
  checkBatch(tenant: TenantId, batch: BatchShape, l: TenantLimits): void {
    checkBatchLimits(batch, l, Date.now());
    if (batch.truncatedStacks) this.metrics.truncatedStacks.inc({ tenant }, batch.truncatedStacks);
  }

  /** Counts a refusal that names a limit (ours, or a parser's such as max_decompressed_bytes). */
  countRejection(tenant: TenantId, err: unknown): void {
    const limit = limitOf(err);
    if (limit) this.metrics.rejections.inc({ tenant, limit });
  }
}

import { Inject, Injectable, Optional } from '@nestjs/common';
import type { Interceptor } from '@connectrpc/connect';
import {
  ConcurrencyLimiter,
  LimitMetrics,
  RuntimeLimits,
  DEFAULT_TENANT_LIMITS,
  limitExceeded,
  limitOf,
  type TenantLimits,
  type TenantLimitsSource,
} from '@firn/limits';
import { currentRequestContext, type Registry } from '@firn/observability';
import { TENANT_LIMITS } from '@firn/platform';
import { METRICS } from '@firn/server-runtime';
import { FirnError } from '@firn/errors';
import { principalKey, tenantFromTrustedSource } from '@firn/tenancy';
import { QUERIER_OPTIONS, type QuerierOptions } from './querier.options';
import { WARM_UP_TOKEN_ID } from './internal-auth';
import { QueryUsage } from './query-usage';

/**
 * Per-tenant query limits at the querier: queries in flight per tenant (per querier replica),
 * query range and flame graph size. Refusals are counted in
 * firn_querier_limit_rejections_total{tenant,limit}.
 */
@Injectable()
export class QueryLimits {
  private readonly source: TenantLimitsSource;
  private readonly running = new ConcurrencyLimiter();
  private readonly metrics: LimitMetrics;

  constructor(
    @Inject(TENANT_LIMITS) limits: TenantLimitsSource | null,
    @Inject(QUERIER_OPTIONS) opts: QuerierOptions,
    @Inject(METRICS) registry: Registry,
    @Optional() private readonly usage?: QueryUsage,
  ) {
    this.source = limits ?? RuntimeLimits.fixed({ ...DEFAULT_TENANT_LIMITS, maxQueryRangeMs: opts.maxRangeMs });
    this.metrics = new LimitMetrics(registry, 'querier');
  }

  /** Limits of the tenant of the current request (authenticated by the auth interceptor). */
  current(): TenantLimits {
    // The auth interceptor put the principal's tenant into the request context.
    const tenant = currentRequestContext()?.tenant;
    if (tenant === undefined) throw FirnError.internal('query limits read outside an authenticated request');
    return this.source.for(tenantFromTrustedSource(tenant));
  }

  /**
   * Goes after the auth interceptor: one slot per running query of the caller's tenant; a query
   * that got its slot is metered (count and CPU) for usage.
   */
  interceptor(): Interceptor {
    return (next) => async (req) => {
      const principal = req.contextValues.get(principalKey);
      if (!principal) throw FirnError.internal('query limits run before authentication');
      const { tenant } = principal;
      const max = this.source.for(tenant).maxConcurrentQueries;
      const release = this.running.tryAcquire(tenant, max);
      let metered: (() => void) | undefined;
      try {
        if (!release) throw limitExceeded('maxConcurrentQueries', `tenant ${tenant} already runs ${max} queries on this querier`, { retryAfterSeconds: 1 });
        // The querier's own warm-up before ready is not the tenant's usage.
        if (principal.tokenId !== WARM_UP_TOKEN_ID) metered = this.usage?.meter.begin(tenant);
        return await next(req);
      } catch (err) {
        const limit = limitOf(err);
        if (limit) this.metrics.rejections.inc({ tenant, limit });
        throw err;
      } finally {
        metered?.();
        release?.();
      }
    };
  }

  /** A flame graph node cap: what the request asked for, at most the tenant's limit. */
  maxNodes(requested: number): number {
    const cap = this.current().maxFlameGraphNodes;
    return requested > 0 ? Math.min(requested, cap) : cap;
  }
}

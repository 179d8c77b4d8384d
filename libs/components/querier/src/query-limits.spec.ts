import { create } from '@bufbuild/protobuf';
import { ConnectError, createClient, createRouterTransport } from '@connectrpc/connect';
import { describe, expect, it } from 'vitest';
import { QueryMeter } from '@firn/insights';
import { createMetricsRegistry } from '@firn/observability';
import { queryV1alpha1 } from '@firn/proto';
import { Scope, StaticTokenStore, issueToken } from '@firn/tenancy';
import { INTERNAL_TENANT_HEADER, INTERNAL_TOKEN_HEADER, WARM_UP_HEADER, queryAuthInterceptor } from './internal-auth';
import type { QuerierOptions } from './querier.options';
import { QueryLimits } from './query-limits';
import type { QueryUsage } from './query-usage';

const INTERNAL = 'internal-token-of-this-querier-0123';

/** A QueryService behind the public query services' interceptors (auth, then limits and metering). */
function service() {
  const meter = new QueryMeter();
  const limits = new QueryLimits(null, { maxRangeMs: 3600_000 } as QuerierOptions, createMetricsRegistry('querier', { defaultMetrics: false }), {
    meter,
  } as unknown as QueryUsage);
  const issued = issueToken('acme', [Scope.ReadProfiles]);
  const transport = createRouterTransport((router) =>
    router.service(
      queryV1alpha1.QueryService,
      { queryRange: () => create(queryV1alpha1.QueryRangeResponseSchema, {}) },
      { interceptors: [queryAuthInterceptor(new StaticTokenStore([issued.record]), Scope.ReadProfiles, INTERNAL), limits.interceptor()] },
    ),
  );
  const client = createClient(queryV1alpha1.QueryService, transport);
  const queries = () => meter.totals().get(issued.record.tenant)?.queries ?? 0;
  return { client, token: issued.token, queries };
}

describe('query usage metering at the querier', () => {
  it('meters a tenant’s and a forwarded query, not the querier’s own warm-up call', async () => {
    const { client, token, queries } = service();
    const forwarded = { [INTERNAL_TOKEN_HEADER]: INTERNAL, [INTERNAL_TENANT_HEADER]: 'acme' };
    await client.queryRange({}, { headers: { authorization: `Bearer ${token}` } });
    expect(queries()).toBe(1);
    await client.queryRange({}, { headers: forwarded });
    expect(queries()).toBe(2);
    await client.queryRange({}, { headers: { ...forwarded, [WARM_UP_HEADER]: '1' } });
    expect(queries()).toBe(2);
  });

  it('trusts the warm-up header only with the internal token', async () => {
    const { client, token, queries } = service();
    // Refused (PERMISSION_DENIED and UNAUTHENTICATED through the server's error mapping) and not metered.
    const wrong = { [INTERNAL_TOKEN_HEADER]: 'wrong-token-0123456789', [INTERNAL_TENANT_HEADER]: 'acme', [WARM_UP_HEADER]: '1' };
    await expect(client.queryRange({}, { headers: wrong })).rejects.toThrow(ConnectError);
    await expect(client.queryRange({}, { headers: { [INTERNAL_TENANT_HEADER]: 'acme', [WARM_UP_HEADER]: '1' } })).rejects.toThrow(ConnectError);
    expect(queries()).toBe(0);
    // A tenant's own token with the header is the tenant's query: metered.
    await client.queryRange({}, { headers: { authorization: `Bearer ${token}`, [WARM_UP_HEADER]: '1' } });
    expect(queries()).toBe(1);
  });
});

import { z } from 'zod';
import { ConfigError, durationMs, setting } from '@firn/config';
import { parseEndpoints } from '@firn/platform';
import type { QueryProxyOptions } from './query-proxy.options';

/**
 * The gateway's query forwarding (gateway process only: the all-in-one serves the query APIs
 * itself). Empty FIRN_QUERIERS = the gateway serves ingest and admin only.
 */
export function queryProxySettings() {
  return {
    queriers: setting({
      env: 'FIRN_QUERIERS',
      flag: 'queriers',
      schema: z.string(),
      default: '',
      description:
        'Queriers the public query APIs (Parca QueryService, Pyroscope QuerierService, Firn InsightsService) are forwarded to, comma-separated: base URLs or dns+http://<name>:<port> (every address of a DNS name, e.g. a headless Service; re-resolved); empty = not served here.',
    }),
    queriersRefreshMs: setting({
      env: 'FIRN_QUERIERS_REFRESH_MS',
      flag: 'queriers-refresh-ms',
      schema: durationMs,
      default: '5000',
      description: 'How often dns+ queriers are resolved again.',
    }),
    queryRetries: setting({
      env: 'FIRN_QUERY_RETRIES',
      flag: 'query-retries',
      schema: z.coerce.number().int().min(0).max(5),
      default: '2',
      description: 'Other queriers a forwarded query is tried on when one is unavailable (queries are read-only, so a retry is safe).',
    }),
    internalToken: setting({
      env: 'FIRN_INTERNAL_TOKEN',
      flag: 'internal-token',
      schema: z.string(),
      default: '',
      description: 'Shared secret of calls to the queriers (the same FIRN_INTERNAL_TOKEN the queriers have; required with FIRN_QUERIERS).',
      secret: true,
    }),
  };
}

export function queryProxyOptionsFrom(c: {
  queriers: string;
  queriersRefreshMs: number;
  queryRetries: number;
  internalToken: string;
}): QueryProxyOptions | undefined {
  const queriers = parseEndpoints(c.queriers, 'queriers', 'FIRN_QUERIERS (--queriers)');
  if (queriers.length === 0) return undefined;
  if (c.internalToken.length < 16)
    throw new ConfigError('internalToken', 'FIRN_INTERNAL_TOKEN (--internal-token) of at least 16 characters is required when FIRN_QUERIERS is set');
  return { queriers, refreshMs: c.queriersRefreshMs, internalToken: c.internalToken, retries: c.queryRetries };
}

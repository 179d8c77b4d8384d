import { z } from 'zod';
import { positiveInt, setting } from '@firn/config';
import { DEFAULT_TENANT_LIMITS, type TenantLimits } from './tenant-limits';

const nonNegInt = z.coerce.number().int().nonnegative();

/** Per-tenant limit settings shared by the gateway, the querier and the all-in-one. */
export function limitsSettings() {
  const d = DEFAULT_TENANT_LIMITS;
  return {
    limitsFile: setting({ env: 'FIRN_LIMITS_FILE', flag: 'limits-file', schema: z.string(), default: '', description: 'YAML/JSON per-tenant limit overrides (`defaults:` and `tenants: {<id>: {...}}`, snake_case keys); re-read without restart when it changes. Empty = config defaults for everyone.' }),
    limitsPollMs: setting({ env: 'FIRN_LIMITS_POLL_MS', flag: 'limits-poll-ms', schema: positiveInt, default: '10000', description: 'How often the limits file is checked for changes, ms.' }),
    ingestRateBytes: setting({ env: 'FIRN_INGEST_RATE_BYTES', flag: 'ingest-rate-bytes', schema: nonNegInt, default: String(d.ingestRateBytes), description: 'Default per-tenant ingest rate, request bytes per second, per gateway replica (0 = unlimited); over it → 429 with Retry-After.' }),
    ingestBurstBytes: setting({ env: 'FIRN_INGEST_BURST_BYTES', flag: 'ingest-burst-bytes', schema: nonNegInt, default: String(d.ingestBurstBytes), description: 'Default per-tenant ingest burst (token bucket size), bytes.' }),
    maxConcurrentQueries: setting({ env: 'FIRN_MAX_CONCURRENT_QUERIES', flag: 'max-concurrent-queries', schema: positiveInt, default: String(d.maxConcurrentQueries), description: 'Default per-tenant queries running at once per querier; more → 429 with Retry-After.' }),
  };
}

export interface LimitDefaultsConfig {
  ingestRateBytes: number;
  ingestBurstBytes: number;
  maxConcurrentQueries: number;
  maxDecompressedBytes?: number;
  maxSamplesPerProfile?: number;
  maxStackDepth?: number;
  maxRequestBytes?: number;
  maxQueryRangeHours?: number;
}

/** Config-level defaults: `limitsSettings()` plus whichever component limit settings the process has. */
export function defaultLimitsFrom(c: LimitDefaultsConfig): TenantLimits {
  const d = DEFAULT_TENANT_LIMITS;
  return {
    ...d,
    ingestRateBytes: c.ingestRateBytes,
    ingestBurstBytes: c.ingestBurstBytes,
    maxConcurrentQueries: c.maxConcurrentQueries,
    maxDecompressedBytes: c.maxDecompressedBytes ?? d.maxDecompressedBytes,
    maxSamplesPerProfile: c.maxSamplesPerProfile ?? d.maxSamplesPerProfile,
    maxStackDepth: c.maxStackDepth ?? d.maxStackDepth,
    maxProfileBytes: c.maxRequestBytes ?? d.maxProfileBytes,
    maxQueryRangeMs: c.maxQueryRangeHours !== undefined ? c.maxQueryRangeHours * 3600_000 : d.maxQueryRangeMs,
  };
}

import { z } from 'zod';
import { duration, formatDuration, positiveInt, setting } from '@firn/config';
import type { RuntimeLimitsOptions } from './runtime-limits';
import { DEFAULT_TENANT_LIMITS, type TenantLimits } from './tenant-limits';

const nonNegInt = z.coerce.number().int().nonnegative();

/**
 * The per-tenant overrides file: every component that reads a per-tenant setting (gateway,
 * querier, compactor, all-in-one) composes these, so they all read the same file the same way.
 */
export function overridesSettings() {
  return {
    overridesFile: setting({
      env: 'FIRN_OVERRIDES_FILE',
      flag: 'overrides-file',
      schema: z.string(),
      default: '',
      description:
        'YAML/JSON per-tenant overrides: limits, `retention`, `price_per_core_hour` (`defaults:` and `tenants: {<id>: {...}}`, snake_case keys; libs/limits/README.md); re-read without restart when it changes. Empty = config defaults for everyone.',
      aliases: [{ env: 'FIRN_LIMITS_FILE', flag: 'limits-file' }],
    }),
    overridesPoll: setting({
      env: 'FIRN_OVERRIDES_POLL',
      flag: 'overrides-poll',
      schema: duration({ positive: true }),
      default: '10s',
      description: 'How often the overrides files are checked for changes.',
      aliases: [
        { env: 'FIRN_LIMITS_POLL_MS', flag: 'limits-poll-ms' },
        { env: 'FIRN_RETENTION_RELOAD', flag: 'retention-reload' },
      ],
    }),
  };
}

/**
 * The default retention and the deprecated retention-only file, for the components that act on
 * retention: the compactor (deletes) and the querier (clips queries).
 */
export function retentionSettings() {
  return {
    retention: setting({
      env: 'FIRN_RETENTION',
      flag: 'retention',
      schema: duration(),
      default: '0',
      description:
        'Default data retention per tenant (e.g. 30d; `retention` in the overrides file); 0 = keep forever. The compactor deletes older data, queriers clip queries to it.',
    }),
    retentionOverridesFile: setting({
      env: 'FIRN_RETENTION_OVERRIDES_FILE',
      flag: 'retention-overrides-file',
      schema: z.string(),
      default: '',
      description:
        'Deprecated, still read: the retention-only file of earlier versions (`{default: 30d, tenants: {acme: 7d}}`). Move it into the overrides file as `defaults: {retention: 30d}` and `tenants: {acme: {retention: 7d}}`.',
    }),
  };
}

/** Per-tenant limit settings shared by the gateway, the querier and the all-in-one. */
export function limitsSettings() {
  const d = DEFAULT_TENANT_LIMITS;
  return {
    ...overridesSettings(),
    ingestRateBytes: setting({
      env: 'FIRN_INGEST_RATE_BYTES',
      flag: 'ingest-rate-bytes',
      schema: nonNegInt,
      default: String(d.ingestRateBytes),
      description: 'Default per-tenant ingest rate, request bytes per second, per gateway replica (0 = unlimited); over it → 429 with Retry-After.',
    }),
    ingestBurstBytes: setting({
      env: 'FIRN_INGEST_BURST_BYTES',
      flag: 'ingest-burst-bytes',
      schema: nonNegInt,
      default: String(d.ingestBurstBytes),
      description: 'Default per-tenant ingest burst (token bucket size), bytes.',
    }),
    maxConcurrentQueries: setting({
      env: 'FIRN_MAX_CONCURRENT_QUERIES',
      flag: 'max-concurrent-queries',
      schema: positiveInt,
      default: String(d.maxConcurrentQueries),
      description: 'Default per-tenant queries running at once per querier; more → 429 with Retry-After.',
    }),
  };
}

export interface OverridesConfig {
  overridesFile: string;
  overridesPoll: number;
  retentionOverridesFile?: string;
}

export interface LimitDefaultsConfig {
  ingestRateBytes?: number;
  ingestBurstBytes?: number;
  maxConcurrentQueries?: number;
  maxDecompressedBytes?: number;
  maxSamplesPerProfile?: number;
  maxStackDepth?: number;
  maxRequestBytes?: number;
  maxQueryRangeMs?: number;
  retention?: number;
}

/** Config-level defaults: `limitsSettings()` plus whichever component limit settings the process has. */
export function defaultLimitsFrom(c: LimitDefaultsConfig): TenantLimits {
  const d = DEFAULT_TENANT_LIMITS;
  return {
    ...d,
    ingestRateBytes: c.ingestRateBytes ?? d.ingestRateBytes,
    ingestBurstBytes: c.ingestBurstBytes ?? d.ingestBurstBytes,
    maxConcurrentQueries: c.maxConcurrentQueries ?? d.maxConcurrentQueries,
    maxDecompressedBytes: c.maxDecompressedBytes ?? d.maxDecompressedBytes,
    maxSamplesPerProfile: c.maxSamplesPerProfile ?? d.maxSamplesPerProfile,
    maxStackDepth: c.maxStackDepth ?? d.maxStackDepth,
    maxProfileBytes: c.maxRequestBytes ?? d.maxProfileBytes,
    maxQueryRangeMs: c.maxQueryRangeMs ?? d.maxQueryRangeMs,
    retentionMs: c.retention ?? d.retentionMs,
  };
}

export interface OverridesLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

/** `RuntimeLimits.open` options from config: the same in every component that reads overrides. */
export function overridesOptionsFrom(c: OverridesConfig & LimitDefaultsConfig, log: OverridesLogger): RuntimeLimitsOptions {
  if (c.retentionOverridesFile) {
    log.warn(
      { file: c.retentionOverridesFile },
      'FIRN_RETENTION_OVERRIDES_FILE is deprecated (still read): move its retention into the overrides file (FIRN_OVERRIDES_FILE) as `defaults: {retention: …}` / `tenants: {<id>: {retention: …}}`',
    );
  }
  return {
    defaults: defaultLimitsFrom(c),
    file: c.overridesFile || undefined,
    legacyRetentionFile: c.retentionOverridesFile || undefined,
    pollMs: c.overridesPoll,
    onProblem: (what, err) => log.warn({ err: err instanceof Error ? err.message : String(err) }, what),
    onReload: (tenants) =>
      log.info(
        { file: c.overridesFile, retentionFile: c.retentionOverridesFile || undefined, tenants, poll: formatDuration(c.overridesPoll) },
        'per-tenant overrides loaded',
      ),
  };
}

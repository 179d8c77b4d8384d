export { DEFAULT_TENANT_LIMITS, type TenantLimits } from './tenant-limits';
export { RuntimeLimits, parseLegacyRetentionFile, parseLimitsFile, type TenantLimitsSource } from './runtime-limits';
export { ConcurrencyLimiter, RateLimiter } from './token-bucket';
export { limitExceeded, limitOf } from './limit-error';
export { LimitMetrics } from './limits.metrics';
export { checkBatchLimits } from './ingest-checks';
export {
  defaultLimitsFrom,
  limitsSettings,
  overridesOptionsFrom,
  overridesSettings,
  retentionSettings,
  type LimitDefaultsConfig,
  type OverridesConfig,
} from './limits.settings';

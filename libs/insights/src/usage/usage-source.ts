import type { TenantId } from '@firn/tenancy';
import type { ManifestUsage } from './manifest-usage';

/** A tenant's usage: manifest-derived figures plus durable query totals. */
export interface TenantUsageFigures extends ManifestUsage {
  tenant: TenantId;
  queries: number;
  queryCpuMicros: number;
}

export interface UsageReport {
  usage: TenantUsageFigures[];
  /** Manifest stream sequence the manifest-derived figures include. */
  manifestSeq: number;
  asOfMs: number;
}

/**
 * Where the admin UsageService reads usage (the querier's metering provides it): the port
 * between the admin API (libs/admin) and the component that holds the data.
 */
export interface UsageSource {
  usage(tenants?: readonly TenantId[]): Promise<UsageReport>;
}

export const USAGE_SOURCE = Symbol('firn.usage-source');

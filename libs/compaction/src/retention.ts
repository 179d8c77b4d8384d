import type { TenantId } from '@firn/tenancy';

/**
 * Retention of a tenant's data in ms; 0 = keep forever. All the compactor needs: the compactor
 * component answers it from the per-tenant overrides (`retention` in @firn/limits).
 */
export type RetentionPolicy = (tenant: TenantId) => number;

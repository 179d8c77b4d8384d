export { authInterceptor, authenticate, authenticateAdmin, principalKey, principalOf } from './auth';
export { type CreateTokenInput, type TenantDirectory, type TenantRecord } from './directory';
export { KvTenantStore, type KvEntry, type RecordKv } from './kv-tenant-store';
export {
  Scope,
  TENANTS_KEY_ROOT,
  isTenantId,
  requireScope,
  tenantFromTrustedSource,
  tenantIdSchema,
  tenantOfKey,
  tenantPrefix,
  type Principal,
  type TenantId,
} from './tenant';
export { StaticTokenStore, issueToken, readTokenFile, writeTokenFile, type IssuedToken, type TokenRecord, type TokenStore } from './tokens';

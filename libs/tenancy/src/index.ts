export { BOOTSTRAP_ADMIN_ID, authInterceptor, authenticate, authenticateAdmin, basicToken, bearerToken, principalKey, principalOf } from './auth';
export { expiryOf, parseScopes, type CreateTokenInput, type TenantDirectory, type TenantRecord } from './directory';
export { KvTenantStore, type KvEntry, type KvTenantStoreOptions, type RecordKv } from './kv-tenant-store';
export { MemoryRecordKv } from './memory-kv';
export { ALL_SCOPES, Scope, TENANTS_KEY_ROOT, isTenantId, requireScope, tenantFromTrustedSource, tenantIdSchema, tenantOfKey, tenantPrefix, type Principal, type TenantId } from './tenant';
export { StaticTokenStore, issueToken, principalFor, readTokenFile, tokenIdOf, writeTokenFile, type IssuedToken, type TokenRecord, type TokenStore } from './tokens';

export { authInterceptor, authenticate, bearerToken, principalKey, principalOf } from './auth';
export { ALL_SCOPES, Scope, requireScope, tenantFromTrustedSource, tenantPrefix, type Principal, type TenantId } from './tenant';
export { StaticTokenStore, issueToken, readTokenFile, writeTokenFile, type IssuedToken, type TokenRecord, type TokenStore } from './tokens';

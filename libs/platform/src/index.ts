export { openInfra, type Infra, type InfraConfig, type InfraDeps } from './infra';
export { cacheConfigFrom, objectStoreConfigFrom, type CacheSettings, type StorageSettings } from './infra-config';
export { BUS, CACHE, OBJECT_STORE, PlatformModule, TENANT_DIRECTORY, TENANT_LIMITS, TOKEN_STORE, type PlatformExtras } from './platform.module';
export { componentServer, type ComponentServerOptions } from './component-server';
export { MANIFEST_LOG, ManifestModule } from './manifest.module';
export { NatsRecordKv, TENANTS_BUCKET, openTokenStore, tokenStoreMode, tokenStoreSettings, type OpenedTokenStore, type TokenStoreConfig } from './tenant-store';
export { openTenancy, type TenancyConfig } from './tenancy';
export { AuthPrincipal, RequireScope, TokenAuthGuard } from './http-auth.guard';
export { EndpointSet, INTERNAL_TENANT_HEADER, INTERNAL_TOKEN_HEADER, parseEndpoints, type EndpointSetOptions, type EndpointSpec } from './endpoints';

export { openInfra, type Infra, type InfraConfig, type InfraDeps } from './infra';
export { cacheConfigFrom, objectStoreConfigFrom, type CacheSettings, type StorageSettings } from './infra-config';
export { BUS, CACHE, OBJECT_STORE, PlatformModule, TOKEN_STORE } from './platform.module';
export { componentServer, type ComponentServerOptions } from './component-server';
export { MANIFEST_LOG, ManifestModule } from './manifest.module';

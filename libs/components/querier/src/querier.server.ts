import { defineConfig, natsSettings, redisSettings, serverSettings, storageSettings } from '@firn/config';
import { PlatformModule, cacheConfigFrom, componentServer, objectStoreConfigFrom } from '@firn/platform';
import { QuerierModule } from './querier.module';

export const querierConfig = defineConfig('querier', {
  ...serverSettings(4102),
  ...storageSettings(),
  ...natsSettings(),
  ...redisSettings(),
});

/** The querier as its own process (apps/querier). */
export const querierServer = componentServer({
  component: 'querier',
  config: querierConfig,
  infra: (cfg) => ({ storage: objectStoreConfigFrom(cfg), bus: { servers: cfg.natsUrl, token: cfg.natsToken, name: 'firn-querier' }, cache: cacheConfigFrom(cfg) }),
  modules: (infra) => [PlatformModule.forRoot(infra), QuerierModule.forRoot()],
});

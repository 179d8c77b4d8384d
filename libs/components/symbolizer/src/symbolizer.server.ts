import { defineConfig, natsSettings, redisSettings, serverSettings, storageSettings } from '@firn/config';
import { PlatformModule, cacheConfigFrom, componentServer, objectStoreConfigFrom } from '@firn/platform';
import { SymbolizerModule } from './symbolizer.module';
import { symbolizerOptionsFrom, symbolizerSettings } from './symbolizer.settings';

export const symbolizerConfig = defineConfig('symbolizer', {
  ...serverSettings(4104),
  ...storageSettings(),
  ...natsSettings(),
  ...redisSettings(),
  ...symbolizerSettings(),
});

/** The symbolizer as its own process (apps/symbolizer). */
export const symbolizerServer = componentServer({
  component: 'symbolizer',
  config: symbolizerConfig,
  infra: (cfg) => ({
    storage: objectStoreConfigFrom(cfg),
    bus: { servers: cfg.natsUrl, token: cfg.natsToken, name: 'firn-symbolizer', replicas: cfg.natsReplicas },
    cache: cacheConfigFrom(cfg),
  }),
  modules: (infra, cfg) => [PlatformModule.forRoot(infra), SymbolizerModule.forRoot(symbolizerOptionsFrom(cfg))],
});

import { defineConfig, natsSettings, serverSettings, storageSettings } from '@firn/config';
import { PlatformModule, componentServer, objectStoreConfigFrom } from '@firn/platform';
import { CompactorModule } from './compactor.module';

export const compactorConfig = defineConfig('compactor', {
  ...serverSettings(4103),
  ...storageSettings(),
  ...natsSettings(),

});

/** The compactor as its own process (apps/compactor). */
export const compactorServer = componentServer({
  component: 'compactor',
  config: compactorConfig,
  infra: (cfg) => ({ storage: objectStoreConfigFrom(cfg), bus: { servers: cfg.natsUrl, token: cfg.natsToken, name: 'firn-compactor' } }),
  modules: (infra) => [PlatformModule.forRoot(infra), CompactorModule.forRoot()],
});

import { defineConfig, natsSettings, serverSettings, storageSettings } from '@firn/config';
import { ManifestModule, PlatformModule, componentServer, objectStoreConfigFrom } from '@firn/platform';
import { CompactorModule } from './compactor.module';
import { compactorOptionsFrom, compactorSettings } from './compactor.settings';

export const compactorConfig = defineConfig('compactor', {
  ...serverSettings(4103),
  ...storageSettings(),
  ...natsSettings(),
  ...compactorSettings(),
});

/** The compactor as its own process (apps/compactor). */
export const compactorServer = componentServer({
  component: 'compactor',
  config: compactorConfig,
  infra: (cfg) => ({ storage: objectStoreConfigFrom(cfg), bus: { servers: cfg.natsUrl, token: cfg.natsToken, name: 'firn-compactor', replicas: cfg.natsReplicas } }),
  // The compactor writes the manifest too, so it also snapshots it (bounds cold-start replay).
  modules: (infra, cfg) => [PlatformModule.forRoot(infra), ManifestModule.forRoot({ snapshotEvery: 200 }), CompactorModule.forRoot(compactorOptionsFrom(cfg))],
});

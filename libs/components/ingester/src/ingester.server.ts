import { defineConfig, natsSettings, serverSettings, storageSettings } from '@firn/config';
import { symbolizeQueueOptionsFrom, symbolizeQueueSettings } from '@firn/debuginfo';
import { ManifestModule, PlatformModule, componentServer, objectStoreConfigFrom } from '@firn/platform';
import { IngesterModule } from './ingester.module';
import { ingesterOptionsFrom, ingesterSettings } from './ingester.settings';

export const ingesterConfig = defineConfig('ingester', {
  ...serverSettings(4101),
  ...storageSettings(),
  ...natsSettings(),
  ...ingesterSettings(),
  ...symbolizeQueueSettings(),
});

/** The ingester as its own process (apps/ingester). */
export const ingesterServer = componentServer({
  component: 'ingester',
  config: ingesterConfig,
  infra: (cfg) => ({
    storage: objectStoreConfigFrom(cfg),
    bus: { servers: cfg.natsUrl, token: cfg.natsToken, name: 'firn-ingester', replicas: cfg.natsReplicas },
  }),
  // Ingesters write the manifest, so they also snapshot it (bounds cold-start replay).
  modules: (infra, cfg) => [
    PlatformModule.forRoot(infra),
    ManifestModule.forRoot({ snapshotEvery: 200 }),
    IngesterModule.forRoot(ingesterOptionsFrom(cfg), symbolizeQueueOptionsFrom(cfg)),
  ],
});

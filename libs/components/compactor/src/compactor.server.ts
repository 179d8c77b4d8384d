import { defineConfig, natsSettings, serverSettings, storageSettings } from '@firn/config';
import { RuntimeLimits, overridesOptionsFrom } from '@firn/limits';
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
  infra: (cfg) => ({
    storage: objectStoreConfigFrom(cfg),
    bus: { servers: cfg.natsUrl, token: cfg.natsToken, name: 'firn-compactor', replicas: cfg.natsReplicas },
  }),
  async modules(infra, cfg, ctx) {
    // Per-tenant retention comes from the same overrides file the gateway and querier read.
    const overrides = await RuntimeLimits.open(overridesOptionsFrom(cfg, ctx.log));
    return [
      PlatformModule.forRoot(infra, { limits: overrides, closers: [() => overrides.close()] }),
      // The compactor writes the manifest too, so it also snapshots it (bounds cold-start replay).
      ManifestModule.forRoot({ snapshotEvery: 200 }),
      CompactorModule.forRoot(compactorOptionsFrom(cfg)),
    ];
  },
});

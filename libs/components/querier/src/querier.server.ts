import { AdminUsageModule, adminOptionsFrom, adminSettings } from '@firn/admin';
import { authSettings, defineConfig, duration, durationMs, natsSettings, redisSettings, serverSettings, setting, storageSettings } from '@firn/config';
import { ManifestModule, PlatformModule, cacheConfigFrom, componentServer, objectStoreConfigFrom, openTenancy, tokenStoreSettings } from '@firn/platform';
import { QuerierModule } from './querier.module';
import { querierOptionsFrom, querierSettings } from './querier.settings';

export const querierConfig = defineConfig('querier', {
  ...serverSettings(4102),
  ...storageSettings(),
  ...natsSettings(),
  ...redisSettings(),
  ...authSettings(),
  ...tokenStoreSettings(),
  ...querierSettings(),
  ...adminSettings(),
  symbolLookupTimeoutMs: setting({
    env: 'FIRN_SYMBOL_LOOKUP_TIMEOUT_MS',
    flag: 'symbol-lookup-timeout-ms',
    schema: durationMs,
    default: '1000',
    description: 'A query waits at most this long for the symbol cache; then it answers with unsymbolized frames.',
  }),
  symbolNameRecheckMs: setting({
    env: 'FIRN_SYMBOL_NAME_RECHECK',
    flag: 'symbol-name-recheck',
    schema: duration(),
    default: '5m',
    description:
      "A frame's name read from the symbol cache is used this long without asking the cache again (0: ask on every query). Frames without a name are asked on every query, so a name shows on the first query after the symbolizer or a debuginfo upload gives it.",
  }),
});

/** The querier as its own process (apps/querier). */
export const querierServer = componentServer({
  component: 'querier',
  config: querierConfig,
  infra: (cfg) => ({
    storage: objectStoreConfigFrom(cfg),
    bus: { servers: cfg.natsUrl, token: cfg.natsToken, name: 'firn-querier', replicas: cfg.natsReplicas },
    cache: cacheConfigFrom(cfg),
  }),
  async modules(infra, cfg, ctx) {
    const { extras } = await openTenancy(cfg, { bus: infra.bus, log: ctx.log });
    return [
      PlatformModule.forRoot(infra, extras),
      ManifestModule.forRoot(),
      QuerierModule.forRoot(querierOptionsFrom(cfg), { lookupTimeoutMs: cfg.symbolLookupTimeoutMs, namedRecheckMs: cfg.symbolNameRecheckMs }),
      // Usage metering lives here (the querier follows the manifest); the admin API reads it.
      AdminUsageModule.forRoot(adminOptionsFrom(cfg)),
    ];
  },
});

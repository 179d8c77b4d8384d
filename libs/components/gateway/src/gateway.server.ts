import { authSettings, defineConfig, natsSettings, serverSettings, storageSettings } from '@firn/config';
import { AdminModule, adminOptionsFrom, adminSettings } from '@firn/admin';
import { PlatformModule, componentServer, objectStoreConfigFrom, openTenancy, tokenStoreSettings } from '@firn/platform';
import { debuginfoOptionsFrom, debuginfoSettings } from './debuginfo/debuginfo.settings';
import { GatewayModule } from './gateway.module';
import { gatewayOptionsFrom, gatewaySettings } from './gateway.settings';
import { queryProxyOptionsFrom, queryProxySettings } from './query-proxy/query-proxy.settings';
import { scrapeOptionsFrom, scrapeSettings } from './scrape/scrape.settings';

export const gatewayConfig = defineConfig('gateway', {
  ...serverSettings(4100),
  ...storageSettings(),
  ...natsSettings(),
  ...authSettings(),
  ...tokenStoreSettings(),
  ...gatewaySettings(),
  ...adminSettings(),
  ...debuginfoSettings(),
  ...queryProxySettings(),
  ...scrapeSettings(),
});

/** The gateway as its own process (apps/gateway). */
export const gatewayServer = componentServer({
  component: 'gateway',
  config: gatewayConfig,
  infra: (cfg) => ({
    storage: objectStoreConfigFrom(cfg),
    bus: { servers: cfg.natsUrl, token: cfg.natsToken, name: 'firn-gateway', replicas: cfg.natsReplicas },
  }),
  async modules(infra, cfg, ctx) {
    const admin = adminOptionsFrom(cfg);
    const { extras } = await openTenancy(cfg, { bus: infra.bus, log: ctx.log });
    return [
      PlatformModule.forRoot(infra, extras),
      AdminModule.forRoot(admin),
      GatewayModule.forRoot(gatewayOptionsFrom(cfg), debuginfoOptionsFrom(cfg), scrapeOptionsFrom(cfg), queryProxyOptionsFrom(cfg)),
    ];
  },
  readMaxBytes: (cfg) => cfg.maxRequestBytes,
});

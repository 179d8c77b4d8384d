import { authSettings, defineConfig, natsSettings, serverSettings, storageSettings } from '@firn/config';
import { PlatformModule, componentServer, objectStoreConfigFrom } from '@firn/platform';
import { StaticTokenStore, readTokenFile } from '@firn/tenancy';
import { GatewayModule } from './gateway.module';
import { gatewayOptionsFrom, gatewaySettings } from './gateway.settings';

export const gatewayConfig = defineConfig('gateway', {
  ...serverSettings(4100),
  ...storageSettings(),
  ...natsSettings(),
  ...authSettings(),
  ...gatewaySettings(),
});

/** The gateway as its own process (apps/gateway). */
export const gatewayServer = componentServer({
  component: 'gateway',
  config: gatewayConfig,
  infra: (cfg) => ({ storage: objectStoreConfigFrom(cfg), bus: { servers: cfg.natsUrl, token: cfg.natsToken, name: 'firn-gateway' } }),
  async modules(infra, cfg) {
    const tokens = new StaticTokenStore(cfg.tokensFile ? await readTokenFile(cfg.tokensFile) : []);
    return [PlatformModule.forRoot(infra, { tokens }), GatewayModule.forRoot(gatewayOptionsFrom(cfg))];
  },
  readMaxBytes: (cfg) => cfg.maxRequestBytes,
});

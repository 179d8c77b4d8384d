import { authSettings, defineConfig, natsSettings, redisSettings, serverSettings, storageSettings } from '@firn/config';
import { ManifestModule, PlatformModule, cacheConfigFrom, componentServer, objectStoreConfigFrom } from '@firn/platform';
import { StaticTokenStore, readTokenFile } from '@firn/tenancy';
import { QuerierModule } from './querier.module';
import { querierOptionsFrom, querierSettings } from './querier.settings';

export const querierConfig = defineConfig('querier', {
  ...serverSettings(4102),
  ...storageSettings(),
  ...natsSettings(),
  ...redisSettings(),
  ...authSettings(),
  ...querierSettings(),
});

/** The querier as its own process (apps/querier). */
export const querierServer = componentServer({
  component: 'querier',
  config: querierConfig,
  infra: (cfg) => ({ storage: objectStoreConfigFrom(cfg), bus: { servers: cfg.natsUrl, token: cfg.natsToken, name: 'firn-querier' }, cache: cacheConfigFrom(cfg) }),
  async modules(infra, cfg) {
    const tokens = new StaticTokenStore(cfg.tokensFile ? await readTokenFile(cfg.tokensFile) : []);
    return [PlatformModule.forRoot(infra, { tokens }), ManifestModule.forRoot(), QuerierModule.forRoot(querierOptionsFrom(cfg))];
  },
});

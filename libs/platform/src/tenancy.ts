import type { Bus } from '@firn/bus';
import { RuntimeLimits, overridesOptionsFrom, type LimitDefaultsConfig, type OverridesConfig } from '@firn/limits';
import type { Logger } from '@firn/observability';
import type { PlatformExtras } from './platform.module';
import { openTokenStore, type OpenedTokenStore, type TokenStoreConfig } from './tenant-store';

export type TenancyConfig = TokenStoreConfig & LimitDefaultsConfig & OverridesConfig;

/**
 * Opens what every public-facing component needs to know about tenants: the token store (and
 * its directory in nats mode) and the per-tenant overrides (limits, retention, price). The result goes straight into
 * `PlatformModule.forRoot(infra, extras)`; `store` is for start-up work like the all-in-one's
 * first-start bootstrap.
 */
export async function openTenancy(cfg: TenancyConfig, deps: { bus?: Bus; log: Logger }): Promise<{ extras: PlatformExtras; store: OpenedTokenStore }> {
  const store = await openTokenStore(cfg, deps);
  try {
    const limits = await RuntimeLimits.open(overridesOptionsFrom(cfg, deps.log));
    return {
      store,
      extras: { tokens: store.tokens, directory: store.directory, limits, closers: [() => limits.close(), () => store.close()] },
    };
  } catch (err) {
    await store.close();
    throw err;
  }
}

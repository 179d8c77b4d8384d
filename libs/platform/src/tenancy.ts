import type { Bus } from '@firn/bus';
import { RuntimeLimits, defaultLimitsFrom, type LimitDefaultsConfig } from '@firn/limits';
import type { Logger } from '@firn/observability';
import type { PlatformExtras } from './platform.module';
import { openTokenStore, type OpenedTokenStore, type TokenStoreConfig } from './tenant-store';

export interface TenancyConfig extends TokenStoreConfig, LimitDefaultsConfig {
  limitsFile: string;
  limitsPollMs: number;
}

/**
 * Opens what every public-facing component needs to know about tenants: the token store (and
 * its directory in nats mode) and the per-tenant limits. The result goes straight into
 * `PlatformModule.forRoot(infra, extras)`; `store` is for start-up work like the all-in-one's
 * first-start bootstrap.
 */
export async function openTenancy(cfg: TenancyConfig, deps: { bus?: Bus; log: Logger }): Promise<{ extras: PlatformExtras; store: OpenedTokenStore }> {
  const store = await openTokenStore(cfg, deps);
  try {
    const limits = await RuntimeLimits.open({
      defaults: defaultLimitsFrom(cfg),
      file: cfg.limitsFile || undefined,
      pollMs: cfg.limitsPollMs,
      onProblem: (what, err) => deps.log.warn({ err: err instanceof Error ? err.message : String(err) }, what),
      onReload: (tenants) => deps.log.info({ file: cfg.limitsFile, tenants }, 'limits loaded'),
    });
    return {
      store,
      extras: { tokens: store.tokens, directory: store.directory, limits, closers: [() => limits.close(), () => store.close()] },
    };
  } catch (err) {
    await store.close();
    throw err;
  }
}

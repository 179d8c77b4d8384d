import { setTimeout as sleep } from 'node:timers/promises';
import { connectBus, type Bus } from '@firn/bus';
import { createCache, type KeyValueCache } from '@firn/cache';
import { FirnError } from '@firn/errors';
import type { Logger } from '@firn/observability';
import type { Readiness } from '@firn/server-runtime';
import { createObjectStore, type ObjectStore, type ObjectStoreConfig } from '@firn/storage';

/** The outside systems a process talks to. Each is optional: components declare what they need. */
export interface Infra {
  readonly store?: ObjectStore;
  readonly bus?: Bus;
  readonly cache?: KeyValueCache;
  /** Closes everything, in reverse order of opening. Idempotent. */
  close(): Promise<void>;
}

export interface InfraConfig {
  storage?: ObjectStoreConfig;
  /** `replicas`: of every JetStream stream and KV bucket (FIRN_NATS_REPLICAS). */
  bus?: { servers: string[]; token?: string; name: string; replicas?: number };
  cache?: { kind: 'memory'; maxBytes: number } | { kind: 'redis'; url: string };
}

export interface InfraDeps {
  log: Logger;
  readiness: Readiness;
  /** Aborts the wait for dependencies (e.g. SIGTERM during start-up). */
  signal?: AbortSignal;
}

/**
 * Opens the dependencies, registering a readiness check for each before it is up, so /readyz
 * names what the process is waiting for. NATS may come up after us: we retry with backoff.
 */
export async function openInfra(cfg: InfraConfig, deps: InfraDeps): Promise<Infra> {
  const closers: Array<() => Promise<void>> = [];
  let store: ObjectStore | undefined;
  let bus: Bus | undefined;
  let cache: KeyValueCache | undefined;

  try {
    if (cfg.storage) {
      const s = createObjectStore(cfg.storage);
      store = s;
      closers.push(() => s.close());
      deps.readiness.addCheck('object-storage', () => s.check());
      deps.log.info({ storage: s.description }, 'object storage configured');
    }
    if (cfg.cache) {
      const c = createCache(cfg.cache);
      cache = c;
      closers.push(() => c.close());
      deps.readiness.addCheck('symbol-cache', () => c.check());
    }
    if (cfg.bus) {
      const busCfg = cfg.bus;
      deps.readiness.addCheck('nats', async () => {
        if (!bus) throw FirnError.unavailable('not connected to NATS yet');
        await bus.check();
      });
      const b = await retry('nats', deps, () =>
        connectBus({ servers: busCfg.servers, name: busCfg.name, token: busCfg.token || undefined, replicas: busCfg.replicas }),
      );
      bus = b;
      closers.push(() => b.drain());
      deps.log.info({ servers: busCfg.servers }, 'connected to NATS');
    }
  } catch (err) {
    await closeAll(closers, deps.log);
    throw err;
  }

  let closed = false;
  return {
    store,
    bus,
    cache,
    async close() {
      if (closed) return;
      closed = true;
      await closeAll(closers, deps.log);
    },
  };
}

async function closeAll(closers: Array<() => Promise<void>>, log: Logger): Promise<void> {
  for (const close of closers.reverse()) {
    await close().catch((err: unknown) => log.warn({ err }, 'closing a dependency failed'));
  }
}

async function retry<T>(what: string, deps: InfraDeps, fn: () => Promise<T>): Promise<T> {
  let delay = 200;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (deps.signal?.aborted) throw err;
      deps.log.warn({ err: err instanceof Error ? err.message : String(err), attempt, retryInMs: delay }, `${what} not reachable yet`);
      await sleep(delay, undefined, { signal: deps.signal }).catch(() => undefined);
      if (deps.signal?.aborted) throw err;
      delay = Math.min(delay * 2, 5000);
    }
  }
}

import { z } from 'zod';
import { isCasConflict, type Bus, type BusKv } from '@firn/bus';
import { ConfigError, durationMs, setting } from '@firn/config';
import { ErrorCode, FirnError } from '@firn/errors';
import type { Logger } from '@firn/observability';
import { KvTenantStore, StaticTokenStore, readTokenFile, type KvEntry, type RecordKv, type TenantDirectory, type TokenStore } from '@firn/tenancy';

/** The NATS KV bucket (JetStream-persisted) that holds tenants and token records. */
export const TENANTS_BUCKET = 'FIRN_TENANTS';

/** Token store settings of every server that authenticates callers. */
export function tokenStoreSettings() {
  return {
    tokenStore: setting({
      env: 'FIRN_TOKEN_STORE',
      flag: 'token-store',
      schema: z.enum(['auto', 'nats', 'file']),
      default: 'auto',
      description: `Where tenants and API tokens live: nats (shared ${TENANTS_BUCKET} KV bucket, managed through the admin API; revocations reach every replica within seconds), file (FIRN_TOKENS_FILE, read at start, read-only), auto = file when FIRN_TOKENS_FILE is set, else nats.`,
    }),
    tokenRefreshMs: setting({
      env: 'FIRN_TOKEN_REFRESH_MS',
      flag: 'token-refresh-ms',
      schema: durationMs,
      default: '30000',
      description: 'Full re-read of the token bucket (safety net behind its live watch), ms.',
    }),
  };
}

export interface TokenStoreConfig {
  tokenStore: 'auto' | 'nats' | 'file';
  tokensFile: string;
  tokenRefreshMs: number;
}

export interface OpenedTokenStore {
  readonly tokens: TokenStore;
  /** Only the shared store can be managed; the file store is read-only. */
  readonly directory?: TenantDirectory;
  /** The KV store itself when in nats mode (e.g. for the all-in-one's first-start bootstrap). */
  readonly kvStore?: KvTenantStore;
  close(): Promise<void>;
}

export function tokenStoreMode(cfg: Pick<TokenStoreConfig, 'tokenStore' | 'tokensFile'>): 'nats' | 'file' {
  if (cfg.tokenStore === 'file' && !cfg.tokensFile)
    throw new ConfigError('tokensFile', 'FIRN_TOKENS_FILE (--tokens-file) is required when FIRN_TOKEN_STORE=file');
  if (cfg.tokenStore === 'auto') return cfg.tokensFile ? 'file' : 'nats';
  return cfg.tokenStore;
}

/** Opens the configured token store; in nats mode its cache is loaded before this resolves. */
export async function openTokenStore(cfg: TokenStoreConfig, deps: { bus?: Bus; log: Logger }): Promise<OpenedTokenStore> {
  if (tokenStoreMode(cfg) === 'file') {
    const tokens = new StaticTokenStore(cfg.tokensFile ? await readTokenFile(cfg.tokensFile) : []);
    deps.log.info({ file: cfg.tokensFile }, 'token store: file (read-only)');
    return { tokens, close: async () => undefined };
  }
  if (!deps.bus) throw new ConfigError('tokenStore', 'FIRN_TOKEN_STORE=nats needs a NATS connection');
  const kv = await deps.bus.ensureKv(TENANTS_BUCKET, { history: 5 });
  const store = await KvTenantStore.open(new NatsRecordKv(kv), {
    refreshMs: cfg.tokenRefreshMs,
    onProblem: (what, err) => deps.log.warn({ err: err instanceof Error ? err.message : String(err) }, what),
  });
  deps.log.info({ bucket: TENANTS_BUCKET }, 'token store: NATS KV');
  return { tokens: store, directory: store, kvStore: store, close: () => store.close() };
}

/**
 * RecordKv over a NATS KV bucket (the bucket comes from the Bus adapter). Its errors are already
 * FirnErrors; an update that lost its compare-and-set is a CasConflictError (`aborted`).
 */
export class NatsRecordKv implements RecordKv {
  constructor(private readonly kv: BusKv) {}

  get(key: string): Promise<KvEntry | undefined> {
    return this.kv.get(key);
  }

  async create(key: string, value: Uint8Array): Promise<number> {
    try {
      return await this.kv.create(key, value);
    } catch (err) {
      if (isCasConflict(err)) throw new FirnError(ErrorCode.AlreadyExists, `${key} already exists`, { cause: err });
      throw err;
    }
  }

  update(key: string, value: Uint8Array, revision: number): Promise<number> {
    return this.kv.update(key, value, revision);
  }

  async entries(): Promise<KvEntry[]> {
    const out: KvEntry[] = [];
    for (const k of await this.kv.keys()) {
      const e = await this.kv.get(k);
      if (e) out.push(e);
    }
    return out;
  }

  watch(onEntry: (e: KvEntry) => void, onEnd: (err?: unknown) => void): Promise<{ stop(): Promise<void> }> {
    return this.kv.watch(onEntry, onEnd);
  }
}

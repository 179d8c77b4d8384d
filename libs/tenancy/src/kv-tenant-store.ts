import { ErrorCode, FirnError } from '@firn/errors';
import { expiryOf, parseScopes, tenantRecordSchema, type CreateTokenInput, type TenantDirectory, type TenantRecord } from './directory';
import { tenantFromTrustedSource, type Principal, type Scope } from './tenant';
import { issueToken, principalFor, tokenIdOf, tokenRecordSchema, type IssuedToken, type TokenRecord, type TokenStore } from './tokens';

/** One entry of a key-value bucket; `value` undefined = deleted. */
export interface KvEntry {
  key: string;
  value: Uint8Array | undefined;
  revision: number;
}

/**
 * The little a shared, durable key-value store must offer (NATS KV in production; the adapter
 * lives in @firn/platform). Keys here are `tenant.<id>` and `token.<id>`.
 */
export interface RecordKv {
  get(key: string): Promise<KvEntry | undefined>;
  /** Throws FirnError already_exists when the key exists. */
  create(key: string, value: Uint8Array): Promise<number>;
  /** Compare-and-set on `revision`; throws FirnError aborted on a conflict. */
  update(key: string, value: Uint8Array, revision: number): Promise<number>;
  /** Every current (not deleted) entry. */
  entries(): Promise<KvEntry[]>;
  /** Current entries, then every change, until `stop`. Calls `onEnd` if the feed ends by itself. */
  watch(onEntry: (e: KvEntry) => void, onEnd: (err?: unknown) => void): Promise<{ stop(): Promise<void> }>;
}

export interface KvTenantStoreOptions {
  /** Full re-read of the bucket, the safety net behind the watch. Default 30 s. */
  refreshMs?: number;
  clock?: () => Date;
  /** Where background problems go (watch ended, refresh failed). */
  onProblem?: (what: string, err: unknown) => void;
}

const TENANT = 'tenant.';
const TOKEN = 'token.';
/** Cache misses looked up in the bucket at once; more are answered "unknown" without a lookup. */
const MAX_MISS_LOOKUPS = 8;

const enc = new TextEncoder();
const dec = new TextDecoder();

interface Cached<T> {
  rec: T;
  rev: number;
}

/**
 * Tenants and tokens in a shared key-value bucket, with a local cache per replica fed by a watch
 * (changes arrive in milliseconds; revocation is seen on every replica well within 5 s) and a
 * periodic full refresh in case the watch missed something. Authentication reads only the cache,
 * except for an unknown token id, which is looked up once (a token created on another replica
 * a moment ago); those lookups are bounded so garbage tokens cannot flood the bucket.
 */
export class KvTenantStore implements TokenStore, TenantDirectory {
  private readonly tokens = new Map<string, Cached<TokenRecord>>();
  private readonly tenants = new Map<string, Cached<TenantRecord>>();
  private readonly clock: () => Date;
  private watcher: { stop(): Promise<void> } | undefined;
  private timer: NodeJS.Timeout | undefined;
  private missLookups = 0;
  private closed = false;

  private constructor(
    private readonly kv: RecordKv,
    private readonly opts: KvTenantStoreOptions,
  ) {
    this.clock = opts.clock ?? (() => new Date());
  }

  /** Loads the bucket, then follows it. Resolves once the cache holds every stored record. */
  static async open(kv: RecordKv, opts: KvTenantStoreOptions = {}): Promise<KvTenantStore> {
    const s = new KvTenantStore(kv, opts);
    await s.refresh();
    await s.startWatch();
    s.timer = setInterval(() => void s.periodic(), opts.refreshMs ?? 30_000);
    s.timer.unref();
    return s;
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    await this.watcher?.stop();
    this.watcher = undefined;
  }

  async authenticate(token: string): Promise<Principal | undefined> {
    const id = tokenIdOf(token);
    if (id === undefined) return undefined;
    let cached = this.tokens.get(id);
    if (!cached && this.missLookups < MAX_MISS_LOOKUPS) {
      this.missLookups++;
      try {
        const e = await this.kv.get(TOKEN + id);
        if (e) this.apply(e);
      } finally {
        this.missLookups--;
      }
      cached = this.tokens.get(id);
    }
    return principalFor(token, cached?.rec, this.clock());
  }

  /** True when no token exists yet (the all-in-one then creates its default tenant). */
  hasTokens(): boolean {
    return this.tokens.size > 0;
  }

  /**
   * First start of a single-node install: when the bucket holds no token yet, stores `legacy`
   * token records (e.g. an older tokens file) with their tenants, or else creates `tenant` and a
   * token for it. Returns the new secret when one was created (to show once).
   */
  async bootstrap(tenant: string, scopes: readonly Scope[], legacy: readonly TokenRecord[] = []): Promise<string | undefined> {
    if (this.hasTokens()) return undefined;
    const ensureTenant = (id: string) =>
      this.createTenant(id).catch((err: unknown) => {
        if (!(err instanceof FirnError && err.code === ErrorCode.AlreadyExists)) throw err;
      });
    if (legacy.length > 0) {
      for (const rec of legacy) {
        await ensureTenant(rec.tenant);
        const rev = await this.kv.create(TOKEN + rec.id, enc.encode(JSON.stringify(rec)));
        this.tokens.set(rec.id, { rec, rev });
      }
      return undefined;
    }
    await ensureTenant(tenant);
    return (await this.createToken({ tenant, scopes })).token;
  }

  async createTenant(id: string, displayName?: string): Promise<TenantRecord> {
    const rec: TenantRecord = { id: tenantFromTrustedSource(id), createdAt: this.clock().toISOString() };
    if (displayName) rec.displayName = displayName.slice(0, 256);
    try {
      const rev = await this.kv.create(TENANT + id, enc.encode(JSON.stringify(rec)));
      this.tenants.set(id, { rec, rev });
    } catch (err) {
      if (err instanceof FirnError && err.code === ErrorCode.AlreadyExists) throw new FirnError(ErrorCode.AlreadyExists, `tenant ${id} already exists`);
      throw err;
    }
    return rec;
  }

  async listTenants(): Promise<TenantRecord[]> {
    await this.refresh();
    return [...this.tenants.values()].map((c) => c.rec).sort((a, b) => (a.id < b.id ? -1 : 1));
  }

  async createToken(input: CreateTokenInput): Promise<IssuedToken> {
    const tenant = tenantFromTrustedSource(input.tenant);
    const scopes = parseScopes(input.scopes);
    const now = this.clock();
    const expiresAt = expiryOf(input.ttlSeconds, now);
    if (!(await this.kv.get(TENANT + tenant))) throw FirnError.notFound(`tenant ${tenant} does not exist; create it first`);
    const issued = issueToken(tenant, scopes, now, { expiresAt, description: input.description?.slice(0, 256) });
    const rev = await this.kv.create(TOKEN + issued.record.id, enc.encode(JSON.stringify(issued.record)));
    this.tokens.set(issued.record.id, { rec: issued.record, rev });
    return issued;
  }

  async listTokens(tenant?: string): Promise<TokenRecord[]> {
    await this.refresh();
    return [...this.tokens.values()]
      .map((c) => c.rec)
      .filter((r) => tenant === undefined || tenant === '' || r.tenant === tenant)
      .sort((a, b) => (a.tenant === b.tenant ? a.createdAt.localeCompare(b.createdAt) : a.tenant < b.tenant ? -1 : 1));
  }

  async revokeToken(id: string): Promise<TokenRecord> {
    if (!/^[0-9a-f]{12}$/.test(id)) throw FirnError.invalidArgument(`invalid token id ${JSON.stringify(id)}: 12 hex digits`);
    for (let attempt = 0; ; attempt++) {
      const e = await this.kv.get(TOKEN + id);
      const current = e?.value ? this.parseToken(e.value) : undefined;
      if (!e || !current) throw FirnError.notFound(`token ${id} does not exist`);
      if (current.revoked) return current;
      const rec: TokenRecord = { ...current, revoked: true, revokedAt: this.clock().toISOString() };
      try {
        const rev = await this.kv.update(TOKEN + id, enc.encode(JSON.stringify(rec)), e.revision);
        this.tokens.set(id, { rec, rev });
        return rec;
      } catch (err) {
        // Someone else changed it in between: read it again (a few times at most).
        if (!(err instanceof FirnError && err.code === ErrorCode.Aborted) || attempt >= 3) throw err;
      }
    }
  }

  /** Re-reads the whole bucket; drops cached records that are gone. */
  async refresh(): Promise<void> {
    const entries = await this.kv.entries();
    const seen = new Set<string>();
    for (const e of entries) {
      seen.add(e.key);
      this.apply(e);
    }
    for (const id of this.tokens.keys()) if (!seen.has(TOKEN + id)) this.tokens.delete(id);
    for (const id of this.tenants.keys()) if (!seen.has(TENANT + id)) this.tenants.delete(id);
  }

  private async periodic(): Promise<void> {
    try {
      await this.refresh();
      if (!this.watcher && !this.closed) await this.startWatch();
    } catch (err) {
      this.opts.onProblem?.('refreshing tenants and tokens failed', err);
    }
  }

  private async startWatch(): Promise<void> {
    const w = await this.kv.watch(
      (e) => this.apply(e),
      (err) => {
        if (this.closed) return;
        this.watcher = undefined;
        this.opts.onProblem?.('watch of tenants and tokens ended; the periodic refresh restarts it', err);
      },
    );
    if (this.closed) await w.stop();
    else this.watcher = w;
  }

  private apply(e: KvEntry): void {
    if (e.key.startsWith(TOKEN)) applyTo(this.tokens, e.key.slice(TOKEN.length), e, (v) => this.parseToken(v));
    else if (e.key.startsWith(TENANT)) applyTo(this.tenants, e.key.slice(TENANT.length), e, (v) => this.parseTenant(v));
  }

  private parseToken(v: Uint8Array): TokenRecord | undefined {
    return parseJson(v, (x) => tokenRecordSchema.safeParse(x), this.opts.onProblem);
  }

  private parseTenant(v: Uint8Array): TenantRecord | undefined {
    return parseJson(v, (x) => tenantRecordSchema.safeParse(x), this.opts.onProblem);
  }
}

function applyTo<T>(map: Map<string, Cached<T>>, id: string, e: KvEntry, parse: (v: Uint8Array) => T | undefined): void {
  const cur = map.get(id);
  if (cur && cur.rev > e.revision) return; // an older event than what we hold
  if (e.value === undefined) {
    map.delete(id);
    return;
  }
  const rec = parse(e.value);
  // A record we cannot read must not keep an older, readable version (e.g. before revocation) alive.
  if (rec === undefined) map.delete(id);
  else map.set(id, { rec, rev: e.revision });
}

function parseJson<T>(
  v: Uint8Array,
  parse: (x: unknown) => { success: true; data: T } | { success: false },
  onProblem?: (what: string, err: unknown) => void,
): T | undefined {
  try {
    const r = parse(JSON.parse(dec.decode(v)));
    if (r.success) return r.data;
    onProblem?.('ignored a malformed tenant or token record', new Error('schema mismatch'));
  } catch (err) {
    onProblem?.('ignored a malformed tenant or token record', err);
  }
  return undefined;
}

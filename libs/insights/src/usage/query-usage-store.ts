import { isCasConflict, type BusKv } from '@firn/bus';
import { isTenantId, type TenantId } from '@firn/tenancy';
import { addTotals, subTotals, ZERO, type QueryTotals } from './query-meter';

export const USAGE_KV_BUCKET = 'FIRN_USAGE';

/**
 * One tenant's query usage in the KV bucket (key `q.<tenant>`):
 * - `base`: totals of querier instances that are gone (stopped gracefully, or stale);
 * - `live`: per running instance, its totals since it started (absolute values, so writing the
 *   same value twice is harmless), with the time of its last write.
 * The tenant's usage is base + Σ live.
 */
interface Entry {
  base: QueryTotals;
  live: Record<string, QueryTotals & { at: number }>;
}

const enc = new TextEncoder();

function decode(v: Uint8Array | undefined): Entry {
  if (!v || v.length === 0) return { base: { ...ZERO }, live: {} };
  try {
    const e = JSON.parse(Buffer.from(v).toString('utf8')) as Partial<Entry>;
    const totals = (x: unknown): QueryTotals => {
      const o = (x ?? {}) as Partial<QueryTotals>;
      return {
        queries: Number.isSafeInteger(o.queries) ? (o.queries as number) : 0,
        cpuMicros: Number.isSafeInteger(o.cpuMicros) ? (o.cpuMicros as number) : 0,
      };
    };
    const live: Entry['live'] = {};
    for (const [k, x] of Object.entries(e.live ?? {})) live[k] = { ...totals(x), at: Number((x as { at?: unknown }).at) || 0 };
    return { base: totals(e.base), live };
  } catch {
    return { base: { ...ZERO }, live: {} };
  }
}

function sum(e: Entry): QueryTotals {
  return Object.values(e.live).reduce<QueryTotals>((t, l) => addTotals(t, l), e.base);
}

export interface QueryUsageStoreOptions {
  kv: BusKv;
  /** This querier process (random per start). */
  instanceId: string;
  /**
   * A live entry not written for this long belongs to a querier that crashed: the next writer
   * folds it into `base`. Live queriers write at least every flush interval.
   */
  staleMs?: number;
  now?: () => number;
}

/**
 * Durable per-tenant query usage in NATS KV, written with compare-and-set so queriers never lose
 * each other's updates. Exactness: a graceful stop moves the instance's totals into `base`
 * (exact); a crash loses what the instance counted since its last flush; nothing is ever counted
 * twice, because an instance only ever writes its own absolute totals, and learns when a peer
 * folded its entry (it then keeps counting from what was folded).
 */
/** What this instance knows of its own live entry of a tenant. */
interface Local {
  /** What its live entry holds, as last written by it; undefined = none written (or retired). */
  published?: QueryTotals;
  /** Totals of this instance already moved into base (by itself or by a peer). */
  folded: QueryTotals;
}

export class QueryUsageStore {
  private readonly staleMs: number;
  private readonly now: () => number;
  private readonly mine = new Map<TenantId, Local>();

  constructor(private readonly opts: QueryUsageStoreOptions) {
    this.staleMs = opts.staleMs ?? 24 * 3600_000;
    this.now = opts.now ?? Date.now;
  }

  /** Writes this instance's cumulative totals of each tenant (also an unchanged one: a heartbeat). */
  async publish(totals: ReadonlyMap<TenantId, QueryTotals>): Promise<void> {
    const id = this.opts.instanceId;
    for (const [tenant, cumulative] of totals) {
      await this.change(tenant, (e, me) => {
        // A peer took our entry for a crashed querier's and folded it into base: count on top of it.
        const folded = me.published && !e.live[id] ? addTotals(me.folded, me.published) : me.folded;
        const value = subTotals(cumulative, folded);
        e.live[id] = { ...value, at: this.now() };
        return { published: value, folded };
      });
    }
  }

  /** Graceful stop: moves this instance's live entries into base. */
  async retire(tenants: Iterable<TenantId>): Promise<void> {
    const id = this.opts.instanceId;
    for (const tenant of tenants) {
      await this.change(tenant, (e, me) => {
        const l = e.live[id];
        if (!l) return undefined;
        e.base = addTotals(e.base, l);
        delete e.live[id];
        return { folded: addTotals(me.folded, { queries: l.queries, cpuMicros: l.cpuMicros }) };
      });
    }
  }

  /** Usage of every tenant in the bucket (or of `tenants`). */
  async read(tenants?: readonly TenantId[]): Promise<Map<TenantId, QueryTotals>> {
    const names = tenants ?? (await this.tenants());
    const out = new Map<TenantId, QueryTotals>();
    for (const t of names) {
      const e = await this.opts.kv.get(key(t));
      if (e) out.set(t, sum(decode(e.value)));
    }
    return out;
  }

  /** Tenants with an entry; a key naming no valid tenant id was not written by a querier. */
  private async tenants(): Promise<TenantId[]> {
    return (await this.opts.kv.keys('q.>'))
      .map((k) => k.slice(2))
      .filter(isTenantId)
      .sort();
  }

  /**
   * Read-modify-write of a tenant's entry with compare-and-set, retried on conflict. `edit`
   * changes the entry and returns this instance's state after the write (undefined = nothing to
   * write). Stale live entries of other instances are folded into base on the way.
   */
  private async change(tenant: TenantId, edit: (e: Entry, me: Readonly<Local>) => Local | undefined): Promise<void> {
    const me = this.mine.get(tenant) ?? { folded: { ...ZERO } };
    for (let attempt = 0; ; attempt++) {
      const cur = await this.opts.kv.get(key(tenant));
      const e = decode(cur?.value);
      const now = this.now();
      for (const [id, l] of Object.entries(e.live)) {
        if (id !== this.opts.instanceId && now - l.at > this.staleMs) {
          e.base = addTotals(e.base, l);
          delete e.live[id];
        }
      }
      const next = edit(e, me);
      if (!next) return;
      const value = enc.encode(JSON.stringify(e));
      try {
        if (cur) await this.opts.kv.update(key(tenant), value, cur.revision);
        else await this.opts.kv.create(key(tenant), value);
      } catch (err) {
        // Another querier wrote first: read again and redo the change.
        if (!isCasConflict(err) || attempt >= 20) throw err;
        continue;
      }
      this.mine.set(tenant, next);
      return;
    }
  }
}

function key(tenant: TenantId): string {
  return `q.${tenant}`;
}

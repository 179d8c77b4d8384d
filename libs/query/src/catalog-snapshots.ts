import { isFirnError } from '@firn/errors';
import type { ObjectStore } from '@firn/storage';
import { tenantPrefix, type TenantId } from '@firn/tenancy';
import { decodeCatalogSnapshot, encodeCatalogSnapshot } from './catalog-snapshot';
import { StackCatalog } from './stack-catalog';

export interface CatalogSnapshotOptions {
  /** Load a tenant's snapshot on first use and write it after queries that grew the catalog. Default true. */
  enabled?: boolean;
  /** Quiet time after the last growing query before the snapshot is written. Default 30 s. */
  debounceMs?: number;
  /** A snapshot encoding to more bytes is not written (outcome too_large). Default 64 MiB. */
  maxBytes?: number;
  /** Called for every load and write attempt (metrics, logs); must not throw. */
  onEvent?: (e: CatalogSnapshotEvent) => void;
}

export type CatalogSnapshotOutcome = 'ok' | 'missing' | 'corrupt' | 'failed' | 'too_large';

export interface CatalogSnapshotEvent {
  op: 'load' | 'write';
  outcome: CatalogSnapshotOutcome;
  tenant: TenantId;
  /** Object size (ok, corrupt, too_large). */
  bytes?: number;
  seconds: number;
  /** Why a load or write failed (corrupt, failed). */
  error?: string;
}

export const DEFAULT_SNAPSHOT_DEBOUNCE_MS = 30_000;
export const DEFAULT_SNAPSHOT_MAX_BYTES = 64 * 1024 * 1024;

/** Where a tenant's stack catalog snapshot lives: under the tenant's own prefix, never shared. */
export function catalogSnapshotKey(tenant: TenantId): string {
  return `${tenantPrefix(tenant)}cache/stack-catalog/v1.snapshot`;
}

interface Pending {
  catalog: StackCatalog;
  timer: NodeJS.Timeout;
}

/**
 * Stack catalogs kept across querier restarts: a tenant's catalog (stack keys, frames, segment
 * stack-id maps) written to object storage in the background, debounced, and loaded into the
 * empty catalog of a new process, so its first query reads no stacks.parquet for segments the
 * snapshot knows. A cache: any snapshot is right (content keys, immutable segments), several
 * queriers writing one tenant's snapshot simply overwrite each other (last writer wins), and a
 * missing, unreadable or corrupt snapshot only costs the reads it would have saved.
 */
export class CatalogSnapshots {
  private readonly debounceMs: number;
  private readonly maxBytes: number;
  private readonly pending = new Map<TenantId, Pending>();
  private readonly writing = new Map<TenantId, Promise<void>>();
  /** The catalog version last written per catalog (a replaced catalog starts over). */
  private readonly written = new WeakMap<StackCatalog, number>();
  private closed = false;

  constructor(
    private readonly store: ObjectStore,
    private readonly opts: CatalogSnapshotOptions = {},
  ) {
    this.debounceMs = opts.debounceMs ?? DEFAULT_SNAPSHOT_DEBOUNCE_MS;
    this.maxBytes = opts.maxBytes ?? DEFAULT_SNAPSHOT_MAX_BYTES;
  }

  /**
   * The tenant's snapshot as a catalog (maps only for segments `keepSegment` accepts), or
   * undefined when there is none or it cannot be used. Never throws.
   */
  async load(tenant: TenantId, keepSegment: (stacksKey: string) => boolean, maxSegments?: number): Promise<StackCatalog | undefined> {
    const t0 = performance.now();
    let bytes: number | undefined;
    try {
      const body = await this.store.get(catalogSnapshotKey(tenant));
      bytes = body.length;
      const catalog = StackCatalog.fromSnapshot(decodeCatalogSnapshot(body), keepSegment, maxSegments);
      this.written.set(catalog, catalog.version);
      this.emit({ op: 'load', outcome: 'ok', tenant, bytes, seconds: since(t0) });
      return catalog;
    } catch (err) {
      const outcome = isFirnError(err) && err.code === 'not_found' ? 'missing' : bytes === undefined ? 'failed' : 'corrupt';
      this.emit({ op: 'load', outcome, tenant, bytes, seconds: since(t0), error: outcome === 'missing' ? undefined : message(err) });
      return undefined;
    }
  }

  /** Writes the catalog after `debounceMs` without another call for the tenant, if it learnt anything since it was last written. */
  scheduleWrite(tenant: TenantId, catalog: StackCatalog): void {
    if (this.closed || this.written.get(catalog) === catalog.version) return;
    const old = this.pending.get(tenant);
    if (old) clearTimeout(old.timer);
    const timer = setTimeout(() => void this.writeNow(tenant), this.debounceMs);
    timer.unref();
    this.pending.set(tenant, { catalog, timer });
  }

  /** Writes every pending snapshot now (and waits for writes in flight). */
  async flush(): Promise<void> {
    await Promise.all([...this.pending.keys()].map((t) => this.writeNow(t)));
    await Promise.all(this.writing.values());
  }

  /** Flushes, then ignores further writes. */
  async close(): Promise<void> {
    await this.flush();
    this.closed = true;
  }

  private writeNow(tenant: TenantId): Promise<void> {
    const p = this.pending.get(tenant);
    if (!p) return this.writing.get(tenant) ?? Promise.resolve();
    clearTimeout(p.timer);
    this.pending.delete(tenant);
    // One write per tenant at a time; a later one waits for the one in flight.
    const prev = this.writing.get(tenant) ?? Promise.resolve();
    const next = prev.then(() => this.write(tenant, p.catalog));
    this.writing.set(tenant, next);
    void next.finally(() => {
      if (this.writing.get(tenant) === next) this.writing.delete(tenant);
    });
    return next;
  }

  private async write(tenant: TenantId, catalog: StackCatalog): Promise<void> {
    const version = catalog.version;
    if (this.written.get(catalog) === version) return;
    const t0 = performance.now();
    let bytes: number | undefined;
    try {
      const body = encodeCatalogSnapshot(catalog.toSnapshot());
      bytes = body.length;
      if (bytes > this.maxBytes) {
        this.written.set(catalog, version);
        this.emit({ op: 'write', outcome: 'too_large', tenant, bytes, seconds: since(t0) });
        return;
      }
      await this.store.put(catalogSnapshotKey(tenant), body);
      this.written.set(catalog, version);
      this.emit({ op: 'write', outcome: 'ok', tenant, bytes, seconds: since(t0) });
    } catch (err) {
      this.emit({ op: 'write', outcome: 'failed', tenant, bytes, seconds: since(t0), error: message(err) });
    }
  }

  private emit(e: CatalogSnapshotEvent): void {
    try {
      this.opts.onEvent?.(e);
    } catch {
      // An observer's bug must not fail a query or a write.
    }
  }
}

function since(t0: number): number {
  return (performance.now() - t0) / 1000;
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

import type { CacheEntry, KeyValueCache } from '@firn/cache';
import type { Logger } from '@firn/observability';
import type { TenantId } from '@firn/tenancy';
import type { DebugFiles, FindResult } from '../debug-files/debuginfo-finder';
import { decodeResolved, encodeNegative, encodeResolved, symbolKey, type ResolvedFrame } from '../symbol-cache/symbol-entry';
import type { SymbolizeJob } from '../symbolize/symbolize-job';

/** What the worker needs from @firn/symbols (frames leaf first; an empty list = unknown, `unnamed` says why). */
export interface SymbolReader {
  symbolize(
    files: { binaryPath?: string; debugPath: string },
    fileOffsets: bigint[],
  ): Promise<Array<{ address: bigint; frames: ResolvedFrame[]; source?: string; unnamed?: string }>>;
}

/**
 * Naming coverage of the addresses a job resolved: what named them (`gopclntab`, `dwarf`,
 * `symtab`; `none` when no debug info was found or it could not be read) and the outcome
 * (`named`, or why not: `no_debuginfo`, `unknown_format`, `no_symbol`, `outside_code`,
 * `unsupported_go_table`).
 */
export type CoverageHook = (source: string, outcome: string, n: number) => void;

/**
 * Addresses a build id could not be resolved for, per tenant, so a later upload of its debug
 * info can retry exactly those (the cache itself cannot be listed).
 */
export interface PendingAddresses {
  add(tenant: TenantId, buildId: string, addresses: readonly bigint[]): Promise<void>;
  list(tenant: TenantId, buildId: string): Promise<bigint[]>;
  clear(tenant: TenantId, buildId: string): Promise<void>;
}

export interface SymbolizeWorkerOptions {
  cache: KeyValueCache;
  finder: { find(tenant: TenantId, buildId: string): Promise<FindResult> };
  reader: SymbolReader;
  pending: PendingAddresses;
  log: Logger;
  positiveTtlSeconds: number;
  negativeTtlSeconds: number;
  /** Addresses per cache write / symbol reader call. Default 1000. */
  chunk?: number;
  /** Metrics hooks. */
  onAddresses?: (outcome: 'resolved' | 'unresolved' | 'cached', n: number) => void;
  onLookup?: (source: DebugFiles['source'] | 'none' | 'unavailable') => void;
  onCoverage?: CoverageHook;
}

/** What the queue consumer should do with the message. */
export type JobOutcome = 'done' | 'retry';

/**
 * One symbolizer job: skip addresses already cached (positive or negative), find the build id's
 * debug info, resolve, write results with a TTL, and negative entries (shorter TTL) for what
 * cannot be resolved, so nobody asks for them again until that expires or an upload arrives.
 */
export class SymbolizeWorker {
  private readonly chunk: number;

  constructor(private readonly opts: SymbolizeWorkerOptions) {
    this.chunk = opts.chunk ?? 1000;
  }

  async handle(tenant: TenantId, job: SymbolizeJob): Promise<JobOutcome> {
    if (job.kind === 'uploaded') return this.retryPending(tenant, job.buildId);
    return this.resolve(tenant, job.buildId, job.addresses, false);
  }

  /** After an upload: drop the negatives of the build id's unresolved addresses and resolve them again. */
  private async retryPending(tenant: TenantId, buildId: string): Promise<JobOutcome> {
    const addresses = await this.opts.pending.list(tenant, buildId);
    if (addresses.length === 0) return 'done';
    await this.opts.pending.clear(tenant, buildId);
    this.opts.log.info({ tenant, buildId, addresses: addresses.length }, 'debuginfo uploaded; resolving addresses again');
    const outcome = await this.resolve(tenant, buildId, addresses, true);
    // A failed retry must not lose the list: the next upload notice or job can still use it.
    if (outcome === 'retry') await this.opts.pending.add(tenant, buildId, addresses);
    return outcome;
  }

  private async resolve(tenant: TenantId, buildId: string, addresses: readonly bigint[], ignoreNegatives: boolean): Promise<JobOutcome> {
    const unique = [...new Set(addresses)];
    const todo: bigint[] = [];
    const existing = await this.opts.cache.getMany(unique.map((a) => symbolKey(tenant, buildId, a)));
    unique.forEach((a, i) => {
      const v = existing[i];
      if (v === undefined || (ignoreNegatives && isNegative(v))) todo.push(a);
    });
    this.opts.onAddresses?.('cached', unique.length - todo.length);
    if (todo.length === 0) return 'done';

    let found = await this.opts.finder.find(tenant, buildId);
    if (found.status === 'not_found' && !ignoreNegatives) {
      // An upload can finish while this job runs, and its notice can be handled before these
      // addresses are listed as pending (then it retries nothing). Listing them first and looking
      // once more closes that gap: either the notice sees them or this second look sees the upload.
      await this.opts.pending.add(tenant, buildId, todo);
      found = await this.opts.finder.find(tenant, buildId);
    }
    if (found.status === 'unavailable') {
      this.opts.onLookup?.('unavailable');
      this.opts.log.warn({ tenant, buildId, reason: found.reason }, 'debuginfo source unavailable; job will be retried');
      return 'retry';
    }
    if (found.status === 'not_found') {
      this.opts.onLookup?.('none');
      this.opts.onCoverage?.('none', 'no_debuginfo', todo.length);
      await this.writeNegatives(tenant, buildId, todo, 'no_debuginfo');
      return 'done';
    }
    this.opts.onLookup?.(found.files.source);
    for (let i = 0; i < todo.length; i += this.chunk) {
      const part = todo.slice(i, i + this.chunk);
      let results: Awaited<ReturnType<SymbolReader['symbolize']>>;
      try {
        results = await this.opts.reader.symbolize(
          { debugPath: found.files.debugPath, ...(found.files.binaryPath ? { binaryPath: found.files.binaryPath } : {}) },
          part,
        );
      } catch (err) {
        // A file we cannot read will not become readable by retrying; an upload can replace it.
        this.opts.log.warn({ tenant, buildId, err: err instanceof Error ? err.message : String(err) }, 'symbolizing failed; addresses marked unresolved');
        this.opts.onCoverage?.('none', 'unknown_format', part.length);
        await this.writeNegatives(tenant, buildId, part, 'unknown_format');
        continue;
      }
      const entries: CacheEntry[] = [];
      const unresolved = new Map<string, bigint[]>();
      const coverage = new Map<string, number>();
      part.forEach((address, k) => {
        const r = results[k];
        const frames = r?.frames ?? [];
        const source = r?.source ?? 'none';
        const why = r?.unnamed ?? 'no_symbol';
        const ck = `${source}|${frames.length === 0 ? why : 'named'}`;
        coverage.set(ck, (coverage.get(ck) ?? 0) + 1);
        if (frames.length > 0) {
          entries.push({ key: symbolKey(tenant, buildId, address), value: encodeResolved(frames), ttlSeconds: this.opts.positiveTtlSeconds });
          return;
        }
        const list = unresolved.get(why);
        if (list) list.push(address);
        else unresolved.set(why, [address]);
      });
      for (const [ck, n] of coverage) {
        const [source, outcome] = ck.split('|');
        this.opts.onCoverage?.(source, outcome, n);
      }
      await this.opts.cache.setMany(entries);
      this.opts.onAddresses?.('resolved', entries.length);
      for (const [why, list] of unresolved) await this.writeNegatives(tenant, buildId, list, why);
    }
    return 'done';
  }

  private async writeNegatives(tenant: TenantId, buildId: string, addresses: readonly bigint[], why: string): Promise<void> {
    const value = encodeNegative(why);
    await this.opts.cache.setMany(addresses.map((a) => ({ key: symbolKey(tenant, buildId, a), value, ttlSeconds: this.opts.negativeTtlSeconds })));
    await this.opts.pending.add(tenant, buildId, addresses);
    this.opts.onAddresses?.('unresolved', addresses.length);
  }
}

function isNegative(v: Uint8Array): boolean {
  try {
    return decodeResolved(v) === null;
  } catch {
    return true;
  }
}

/** In-process PendingAddresses (tests, and a fallback when no NATS KV is at hand). */
export class MemoryPendingAddresses implements PendingAddresses {
  private readonly byBuild = new Map<string, Set<bigint>>();

  constructor(private readonly maxPerBuildId = 10_000) {}

  async add(tenant: TenantId, buildId: string, addresses: readonly bigint[]): Promise<void> {
    const key = `${tenant}/${buildId}`;
    let set = this.byBuild.get(key);
    if (!set) this.byBuild.set(key, (set = new Set()));
    for (const a of addresses) if (set.size < this.maxPerBuildId) set.add(a);
  }

  async list(tenant: TenantId, buildId: string): Promise<bigint[]> {
    return [...(this.byBuild.get(`${tenant}/${buildId}`) ?? [])];
  }

  async clear(tenant: TenantId, buildId: string): Promise<void> {
    this.byBuild.delete(`${tenant}/${buildId}`);
  }
}

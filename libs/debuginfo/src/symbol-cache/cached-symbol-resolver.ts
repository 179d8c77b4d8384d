import type { KeyValueCache } from '@firn/cache';
import { UNNAMED_REASONS, type Frame, type UnnamedReason } from '@firn/profiles';
import type { Logger, Registry } from '@firn/observability';
import { unnamedCopy, type SymbolResolver } from '@firn/query';
import type { TenantId } from '@firn/tenancy';
import { isBuildId } from '../build-id';
import { SymbolLookupMetrics } from './symbol-cache.metrics';
import { decodeResolved, negativeReason, symbolKey } from './symbol-entry';

export interface CachedSymbolResolverOptions {
  cache: KeyValueCache;
  log: Logger;
  registry: Registry;
  /** A lookup slower than this is abandoned and the query answers unsymbolized. Default 1000 ms. */
  timeoutMs?: number;
  /** Metric name component (`firn_<component>_symbol_*`). Default 'querier'. */
  component?: string;
  /**
   * A frame's name read from the cache is used this long without asking the cache again (0 = ask
   * on every query). Default 5 minutes. Unnamed frames (pending, negative) are asked every query.
   */
  namedRecheckMs?: number;
  /** Clock, ms (tests). Default Date.now. */
  now?: () => number;
}

/** How long a name read from the symbol cache is used before the cache is asked again. */
export const DEFAULT_NAMED_RECHECK_MS = 5 * 60_000;

/** What a resolver knows of one frame object for one tenant. */
interface FrameAnswer {
  /** The frame's cache key; undefined when its build id is not one (nothing to look up). */
  key: string | undefined;
  /** The last entry that named the frame, the frames decoded from it, and when the cache gave it (ms). */
  entry?: Buffer;
  named?: readonly Frame[];
  namedAtMs?: number;
}

/**
 * The querier's side of the symbolizer: one batched cache read per query (RedisCache turns it
 * into one pipeline of MGETs of 1000 keys), one key per unsymbolized frame asked. Anything that
 * goes wrong (cache down, slow, a bad entry) leaves frames unsymbolized: symbols are a nicety,
 * never a reason for a query to fail. A frame left unnamed comes back as a copy that says why
 * (`unnamedReason`): the symbolizer's negative entry (`no_debuginfo`, `no_symbol`, …), `pending`
 * when it has not answered yet, or `symbol_cache_unavailable`.
 *
 * A name, once read, is used for `namedRecheckMs` without asking the cache again: the symbolizer
 * writes a name once per address and keeps it for days (an entry is written again only after it
 * expired), while asking Redis about a fleet flame graph's ≈ 15 k frames costs the querier
 * ≈ 20-40 ms of CPU per query. Unnamed frames are asked on every query, so a name shows on the
 * first query after the symbolizer (or a debuginfo upload) gives it.
 */
export class CachedSymbolResolver implements SymbolResolver {
  private readonly metrics: SymbolLookupMetrics;
  private readonly timeoutMs: number;
  private readonly namedRecheckMs: number;
  private readonly now: () => number;
  private lastWarnMs = 0;
  /**
   * Kept per tenant and Frame object: a querier asks about its stack catalog's frames, the same
   * objects query after query, so each frame's cache key is built once and its answers are the
   * same objects every time (`unnamedCopy` per reason, the frames decoded from an entry until the
   * entry changes). New copies on every query cost the reports a content string per frame per
   * query, and the heap their garbage (≈ 15 k frames per fleet flame graph).
   */
  private readonly answers = new Map<TenantId, WeakMap<Frame, FrameAnswer>>();

  constructor(private readonly opts: CachedSymbolResolverOptions) {
    this.timeoutMs = opts.timeoutMs ?? 1000;
    this.namedRecheckMs = opts.namedRecheckMs ?? DEFAULT_NAMED_RECHECK_MS;
    this.now = opts.now ?? Date.now;
    this.metrics = new SymbolLookupMetrics(opts.registry, opts.component ?? 'querier');
  }

  async resolve(tenant: TenantId, frames: readonly Frame[]): Promise<Array<Frame[] | undefined>> {
    const out: Array<Frame[] | undefined> = new Array(frames.length).fill(undefined);
    // One key per frame asked, in frame order. Two frame objects rarely share a key (the same
    // build id and address under another mapping path): such a key is asked twice, which costs
    // less than grouping every frame of every query by its key string (≈ 3 ms of a fleet flame
    // graph's ≈ 15 k frames); each frame decodes its own answer.
    const keys: string[] = [];
    const asked: number[] = [];
    const askedAnswers: FrameAnswer[] = [];
    const now = this.now();
    let answers = this.answers.get(tenant);
    if (answers === undefined) this.answers.set(tenant, (answers = new WeakMap()));
    let remembered = 0;
    for (let i = 0; i < frames.length; i++) {
      const f = frames[i];
      if (f.functionName !== '') continue;
      let answer = answers.get(f);
      if (answer === undefined) answers.set(f, (answer = { key: isBuildId(f.buildId) ? symbolKey(tenant, f.buildId, f.address) : undefined }));
      if (answer.key === undefined) continue;
      if (answer.named !== undefined && now - answer.namedAtMs! < this.namedRecheckMs) {
        remembered++;
        out[i] = [...answer.named];
        continue;
      }
      keys.push(answer.key);
      asked.push(i);
      askedAnswers.push(answer);
    }
    this.metrics.remembered.inc(remembered);
    if (keys.length === 0) return out;
    const end = this.metrics.seconds.startTimer();
    let values: (Buffer | undefined)[];
    try {
      values = await this.withTimeout(this.opts.cache.getMany(keys));
    } catch (err) {
      this.metrics.lookups.inc({ outcome: 'error' }, keys.length);
      this.warn(err, keys.length);
      for (const i of asked) out[i] = [unnamedCopy(frames[i], 'symbol_cache_unavailable')];
      return out;
    } finally {
      end();
    }
    let hit = 0;
    let negative = 0;
    let bad = 0;
    for (let k = 0; k < keys.length; k++) {
      const i = asked[k];
      const f = frames[i];
      const v = values[k];
      const answer = askedAnswers[k];
      if (v !== undefined && answer.entry !== undefined && answer.entry.equals(v)) {
        hit++;
        answer.namedAtMs = now;
        out[i] = [...answer.named!];
        continue;
      }
      forget(answer);
      if (v === undefined) {
        out[i] = [unnamedCopy(f, 'pending')];
        continue;
      }
      let resolved: ReturnType<typeof decodeResolved>;
      try {
        resolved = decodeResolved(v);
      } catch {
        bad++;
        out[i] = [unnamedCopy(f, 'symbol_cache_unavailable')];
        continue;
      }
      if (resolved === null) {
        negative++;
        out[i] = [unnamedCopy(f, negativeReasonOf(v))];
        continue;
      }
      hit++;
      const named = resolved.map((r) => ({
        buildId: f.buildId,
        mappingFile: f.mappingFile,
        address: f.address,
        functionName: r.functionName,
        fileName: r.fileName,
        line: r.line,
        inlined: r.inlined,
      }));
      answer.entry = Buffer.from(v);
      answer.named = named;
      answer.namedAtMs = now;
      out[i] = [...named];
    }
    this.metrics.lookups.inc({ outcome: 'hit' }, hit);
    this.metrics.lookups.inc({ outcome: 'negative' }, negative);
    this.metrics.lookups.inc({ outcome: 'error' }, bad);
    this.metrics.lookups.inc({ outcome: 'miss' }, keys.length - hit - negative - bad);
    return out;
  }

  private withTimeout<T>(p: Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`symbol cache lookup took longer than ${this.timeoutMs} ms`)), this.timeoutMs);
    });
    return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
  }

  /** At most one warning per 10 s: a down cache would otherwise log on every query. */
  private warn(err: unknown, keys: number): void {
    const now = Date.now();
    if (now - this.lastWarnMs < 10_000) return;
    this.lastWarnMs = now;
    this.opts.log.warn(
      { err: err instanceof Error ? err.message : String(err), keys, cache: this.opts.cache.description },
      'symbol cache lookup failed; answering unsymbolized',
    );
  }
}

/** The cache no longer names the frame as it did: its next answer is decoded anew. */
function forget(answer: FrameAnswer): void {
  answer.entry = undefined;
  answer.named = undefined;
  answer.namedAtMs = undefined;
}

/** The reason a negative entry records; entries written before reasons were kept say `no_symbol`. */
function negativeReasonOf(value: Uint8Array): UnnamedReason {
  const why = negativeReason(value);
  return (UNNAMED_REASONS as readonly string[]).includes(why) ? (why as UnnamedReason) : 'no_symbol';
}

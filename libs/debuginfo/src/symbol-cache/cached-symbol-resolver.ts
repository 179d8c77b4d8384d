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
}

/**
 * The querier's side of the symbolizer: one batched cache read per query (RedisCache turns it
 * into one pipeline of MGETs of 1000 keys). Anything that goes wrong (cache down, slow, a bad
 * entry) leaves frames unsymbolized: symbols are a nicety, never a reason for a query to fail.
 * A frame left unnamed comes back as a copy that says why (`unnamedReason`): the symbolizer's
 * negative entry (`no_debuginfo`, `no_symbol`, …), `pending` when it has not answered yet, or
 * `symbol_cache_unavailable`.
 */
export class CachedSymbolResolver implements SymbolResolver {
  private readonly metrics: SymbolLookupMetrics;
  private readonly timeoutMs: number;
  private lastWarnMs = 0;
  /**
   * Kept per Frame object: a querier asks about its stack catalog's frames, the same objects
   * query after query, so each frame's cache key is built once (for the tenant it was built for)
   * and its answers are the same objects every time (`unnamedCopy` per reason, the frames decoded
   * from an entry until the entry changes). New copies on every query cost the reports a content
   * string per frame per query, and the heap their garbage (≈ 15 k frames per fleet flame graph).
   */
  private readonly keyOf = new WeakMap<Frame, { tenant: TenantId; key: string | undefined }>();
  private readonly decoded = new WeakMap<Frame, { entry: Buffer; frames: readonly Frame[] }>();

  constructor(private readonly opts: CachedSymbolResolverOptions) {
    this.timeoutMs = opts.timeoutMs ?? 1000;
    this.metrics = new SymbolLookupMetrics(opts.registry, opts.component ?? 'querier');
  }

  async resolve(tenant: TenantId, frames: readonly Frame[]): Promise<Array<Frame[] | undefined>> {
    const out: Array<Frame[] | undefined> = new Array(frames.length).fill(undefined);
    // Frames by cache key: the first frame of each key, then a chain through `next` (frames
    // rarely share a key; no array per key).
    const firstOf = new Map<string, number>();
    const next = new Int32Array(frames.length).fill(-1);
    const last = new Int32Array(frames.length);
    for (let i = 0; i < frames.length; i++) {
      const f = frames[i];
      if (f.functionName !== '') continue;
      const key = this.keyFor(tenant, f);
      if (key === undefined) continue;
      const first = firstOf.get(key);
      if (first === undefined) {
        firstOf.set(key, i);
        last[i] = i;
      } else {
        next[last[first]] = i;
        last[first] = i;
      }
    }
    if (firstOf.size === 0) return out;
    const keys = [...firstOf.keys()];
    const firsts = [...firstOf.values()];
    const framesOf = (k: number): number[] => {
      const at: number[] = [];
      for (let i = firsts[k]; i >= 0; i = next[i]) at.push(i);
      return at;
    };
    const explain = (k: number, why: UnnamedReason) => {
      for (let i = firsts[k]; i >= 0; i = next[i]) out[i] = [unnamedCopy(frames[i], why)];
    };
    const end = this.metrics.seconds.startTimer();
    let values: (Buffer | undefined)[];
    try {
      values = await this.withTimeout(this.opts.cache.getMany(keys));
    } catch (err) {
      this.metrics.lookups.inc({ outcome: 'error' }, keys.length);
      this.warn(err, keys.length);
      for (let k = 0; k < keys.length; k++) explain(k, 'symbol_cache_unavailable');
      return out;
    } finally {
      end();
    }
    let hit = 0;
    let negative = 0;
    let bad = 0;
    for (let k = 0; k < keys.length; k++) {
      const v = values[k];
      if (v === undefined) {
        explain(k, 'pending');
        continue;
      }
      const at = framesOf(k);
      const kept = at.map((i) => this.decoded.get(frames[i]));
      if (kept.length > 0 && kept.every((k) => k !== undefined && k.entry.equals(v))) {
        hit++;
        at.forEach((i, j) => (out[i] = [...kept[j]!.frames]));
        continue;
      }
      let resolved: ReturnType<typeof decodeResolved>;
      try {
        resolved = decodeResolved(v);
      } catch {
        bad++;
        explain(k, 'symbol_cache_unavailable');
        continue;
      }
      if (resolved === null) {
        negative++;
        explain(k, negativeReasonOf(v));
        continue;
      }
      hit++;
      for (const i of at) {
        const f = frames[i];
        const named = resolved.map((r) => ({
          buildId: f.buildId,
          mappingFile: f.mappingFile,
          address: f.address,
          functionName: r.functionName,
          fileName: r.fileName,
          line: r.line,
          inlined: r.inlined,
        }));
        this.decoded.set(f, { entry: Buffer.from(v), frames: named });
        out[i] = [...named];
      }
    }
    this.metrics.lookups.inc({ outcome: 'hit' }, hit);
    this.metrics.lookups.inc({ outcome: 'negative' }, negative);
    this.metrics.lookups.inc({ outcome: 'error' }, bad);
    this.metrics.lookups.inc({ outcome: 'miss' }, keys.length - hit - negative - bad);
    return out;
  }

  /** The frame's cache key; undefined when its build id is not one (nothing to look up). */
  private keyFor(tenant: TenantId, f: Frame): string | undefined {
    const kept = this.keyOf.get(f);
    if (kept?.tenant === tenant) return kept.key;
    const key = isBuildId(f.buildId) ? symbolKey(tenant, f.buildId, f.address) : undefined;
    this.keyOf.set(f, { tenant, key });
    return key;
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

/** The reason a negative entry records; entries written before reasons were kept say `no_symbol`. */
function negativeReasonOf(value: Uint8Array): UnnamedReason {
  const why = negativeReason(value);
  return (UNNAMED_REASONS as readonly string[]).includes(why) ? (why as UnnamedReason) : 'no_symbol';
}

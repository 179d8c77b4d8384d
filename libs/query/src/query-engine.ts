import { FirnError } from '@firn/errors';
import { compileMatchers, type CompiledMatcher, type ManifestView } from '@firn/manifest';
import { formatProfileType, isSpanId, parseSelector, type LabelMatcher } from '@firn/profiles';
import type { StackProfile } from '@firn/reports';
import type { ObjectStore } from '@firn/storage';
import type { TenantId } from '@firn/tenancy';
import { throwIfAborted } from './abort';
import { mapBounded } from './bounded';
import { labelNamesPlan, labelValuesPlan, profileTypes, scanLabelNames, scanLabelValues, sortedLabelSet, type LabelPlan, type LabelQuery } from './labels';
import type { PartialAggregate, Side } from './merge-stacks';
import { checkRange, planSegments, type PlanQuery } from './plan';
import { QuerySums } from './query-sums';
import { ScanPool } from './scan-pool';
import { sumSegment, type ScanQuery, type SegmentSums } from './segment-scan';
import { StackCatalogs, type StackCatalog, type StackCatalogOptions } from './stack-catalog';
import { CatalogSnapshots, type CatalogSnapshotOptions } from './catalog-snapshots';
import { segmentObjects, type SegmentMeta } from './segment-objects';
import { segmentWithin } from './segment-rows';
import { fillFrames, mapStacks, type MappedSegment } from './stack-table';
import { mergeSeries, scanSeries, type SeriesBuckets } from './series-scan';
import { prepareSeriesQuery, rangeSumsOf, SeriesTableCache, seriesFromTable, segmentSumsOf } from './series-table';
import { DEFAULT_TAIL_CACHE_BYTES, SegmentTailStore } from './segment-tail-store';

export interface SeriesCacheStats {
  hits: number;
  misses: number;
  bytes: number;
  segments: number;
  /** Tables read from segments' series rollups, and built from their rows. */
  fromRollup: number;
  fromRows: number;
  /** Rollups that exist but could not be read. */
  rollupErrors: number;
}

export interface QueryEngineOptions {
  store: ObjectStore;
  view: ManifestView;
  /** Segment scans in flight per query. Default 4 (ranged reads overlap with decoding). */
  concurrency?: number;
  /** Default cap on segments per query (resource_exhausted above); per-call options override. */
  maxSegments?: number;
  /** Cap on step buckets per series query (invalid_argument above). Default 11 000, as Prometheus. */
  maxBuckets?: number;
  /**
   * Bounds of the per-tenant stack catalog: stack keys and frames met so far and, per segment,
   * stack_id → catalog id. Segments are immutable, so queries after the first need no
   * stacks.parquet reads for segments already mapped.
   */
  stackCatalog?: StackCatalogOptions;
  /**
   * Keep each tenant's stack catalog in object storage (under the tenant's prefix): written in
   * the background after queries that grew it, loaded on the tenant's first query, so a new
   * querier process need not rebuild it from every segment's stacks.parquet. Off unless given.
   */
  catalogSnapshots?: CatalogSnapshotOptions;
  /**
   * Worker threads for the per-segment sample scans (decode and sum by stack_id); the sums are
   * merged on the calling thread. 1 (the default) scans in the calling thread.
   */
  scanWorkers?: number;
  /**
   * Bytes of per-segment series tables (one point per stored series and timestamp) kept for
   * series queries; 0 scans the rows on every query instead. Default 256 MiB (the fleet-1h
   * benchmark, whose rows mostly carry their own timestamp, needs ≈ 150 MiB per hour).
   */
  seriesCacheBytes?: number;
  /**
   * Bytes of segment object sizes and footers kept across queries, so a warm query reads only
   * column chunks (no HEAD and footer reads per segment: three round trips on object storage).
   * Default 32 MiB (≈ 1 000 segments); 0 = off.
   */
  footerCacheBytes?: number;
}

export interface QueryOptions {
  maxSegments?: number;
  signal?: AbortSignal;
}

export interface SeriesOptions extends QueryOptions {
  /** Scan exactly these segments instead of planning (a fan-out share); trusted to be the tenant's. */
  segments?: readonly SegmentMeta[];
}

export interface MergeOptions extends QueryOptions {
  /** Sum per (these labels, stack); read the result with toGroupedStackProfiles or `partial`. */
  groupBy?: readonly string[];
  /**
   * Scan exactly these segments instead of planning: how the fan-out hands each querier its
   * share of `segmentsFor(...)`. They are trusted to belong to the tenant's plan.
   */
  segments?: readonly SegmentMeta[];
  /** Span profiles: only rows of these span ids (16 lowercase hex digits). */
  spanIds?: readonly string[];
}

/** One side of a diff: a selection, optionally its share of segments and span ids (as MergeOptions). */
export interface DiffSide extends Pick<MergeOptions, 'segments' | 'spanIds'> {
  selector: string;
  startMs: number;
  endMs: number;
}

/** A parsed selector and range, validated. */
export interface PlannedQuery extends ScanQuery {
  /** Formatted profile type, as stored in segments. */
  profileType: string;
  matchers: LabelMatcher[];
  segments: SegmentMeta[];
}

const DEFAULT_CONCURRENCY = 4;
const DEFAULT_MAX_BUCKETS = 11_000;
export const DEFAULT_SERIES_CACHE_BYTES = 256 * 1024 * 1024;
/** How long each piece of a querier's start-up work (preloads, warm-up) may delay ready. */
export const START_UP_BUDGET_MS = 10_000;

/** What preloadSeriesTables did: complete unless the cache filled or the time budget ran out. */
export interface SeriesPreload {
  tenants: number;
  tables: number;
  /** Tables whose stack sums were read too (for flame graphs over whole segments). */
  stackSums: number;
  failed: number;
  complete: boolean;
}

/** A querier's warm-up queries (`QueryEngine.warmUpQueries`): one range, its selectors, and a range cutting it. */
export interface WarmUpQueries {
  tenant: TenantId;
  startMs: number;
  endMs: number;
  selectors: string[];
  label?: readonly [string, string];
  cut?: { startMs: number; endMs: number };
}

/**
 * The querier's engine: plans a query from the manifest (segments by time, profile type and label
 * summaries), scans the segments with bounded concurrency (ranged reads of only the needed columns
 * and row groups), and merges their partial aggregates. A selector naming a profile type no
 * segment holds simply yields an empty result (the manifest prunes every segment).
 */
export class QueryEngine {
  private readonly store: ObjectStore;
  private readonly view: ManifestView;
  private readonly concurrency: number;
  private readonly maxSegments: number | undefined;
  private readonly maxBuckets: number;
  private readonly catalogs: StackCatalogs;
  private readonly pool: ScanPool | undefined;
  private readonly seriesTables: SeriesTableCache | undefined;
  private readonly tails: SegmentTailStore | undefined;
  private readonly snapshots: CatalogSnapshots | undefined;

  constructor(opts: QueryEngineOptions) {
    const tailBytes = opts.footerCacheBytes ?? DEFAULT_TAIL_CACHE_BYTES;
    if (!Number.isSafeInteger(tailBytes) || tailBytes < 0) throw FirnError.invalidArgument(`footerCacheBytes must be a non-negative integer, got ${tailBytes}`);
    this.tails = tailBytes > 0 ? new SegmentTailStore(opts.store, { maxBytes: tailBytes }) : undefined;
    this.store = this.tails ?? opts.store;
    this.view = opts.view;
    const snap = opts.catalogSnapshots;
    this.snapshots = snap && snap.enabled !== false ? new CatalogSnapshots(opts.store, snap) : undefined;
    const snapshots = this.snapshots;
    this.catalogs = new StackCatalogs(
      opts.stackCatalog,
      snapshots && ((tenant, maxSegments) => snapshots.load(tenant, this.validStacksKeys(tenant), maxSegments)),
    );
    this.concurrency = positive(opts.concurrency ?? DEFAULT_CONCURRENCY, 'concurrency');
    this.maxSegments = opts.maxSegments === undefined ? undefined : positive(opts.maxSegments, 'maxSegments');
    this.maxBuckets = positive(opts.maxBuckets ?? DEFAULT_MAX_BUCKETS, 'maxBuckets');
    const workers = positive(opts.scanWorkers ?? 1, 'scanWorkers');
    this.pool = workers > 1 ? new ScanPool(this.store, workers) : undefined;
    const seriesBytes = opts.seriesCacheBytes ?? DEFAULT_SERIES_CACHE_BYTES;
    if (!Number.isSafeInteger(seriesBytes) || seriesBytes < 0)
      throw FirnError.invalidArgument(`seriesCacheBytes must be a non-negative integer, got ${seriesBytes}`);
    this.seriesTables = seriesBytes > 0 ? new SeriesTableCache(seriesBytes) : undefined;
  }

  /** Footer-cache figures (undefined when disabled), for metrics: hits and misses count reads. */
  footerCacheStats(): { hits: number; misses: number; bytes: number } | undefined {
    const t = this.tails;
    return t && { hits: t.hits, misses: t.misses, bytes: t.bytes };
  }

  /** Series-table cache figures (undefined when disabled), for metrics. */
  seriesCacheStats(): SeriesCacheStats | undefined {
    const c = this.seriesTables;
    return (
      c && { hits: c.hits, misses: c.misses, bytes: c.bytes, segments: c.size, fromRollup: c.fromRollup, fromRows: c.fromRows, rollupErrors: c.rollupErrors }
    );
  }

  /** Writes pending catalog snapshots, then stops the scan workers, if any (they never keep the process alive on their own). */
  async close(): Promise<void> {
    await this.snapshots?.close();
    await this.pool?.close();
  }

  /**
   * Loads the catalog snapshots of up to `maxTenants` tenants (the most recently written to first),
   * one at a time, so their first queries find them in memory: what a querier does before it
   * reports ready. Returns after `budgetMs` at the latest (a slow store must not hold start-up; a
   * load still running finishes in the background). Returns the tenants loaded.
   */
  async preloadCatalogs(maxTenants: number, budgetMs = START_UP_BUDGET_MS): Promise<number> {
    if (!this.snapshots) return 0;
    const tenants = this.recentTenants(maxTenants);
    let loaded = 0;
    let timedOut = false;
    const run = (async () => {
      for (const t of tenants) {
        if (timedOut) return;
        await this.catalogs.forTenant(t);
        loaded++;
      }
    })();
    let timer: NodeJS.Timeout | undefined;
    const budget = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        timedOut = true;
        resolve();
      }, budgetMs);
      timer.unref();
    });
    await Promise.race([run, budget]);
    clearTimeout(timer);
    return loaded;
  }

  /**
   * Before ready: the series tables of the last `windowMs` of data (ending at the tenant's newest
   * segment) of the `maxTenants` most recently written tenants, newest segments first, read into
   * the series cache (from the segments' rollups where they have one) until it is full or
   * `budgetMs` has passed. A restarted querier's first QueryRange over recent data then reads
   * no segment. A segment that cannot be read is skipped (its query reads it again and reports
   * the error there). Then the first tenant's preloaded tables are summed once (answer
   * discarded, tables not marked used) so the first real query does not pay the JIT of the
   * series code either. Last, while budget and room last, the same segments' stack sums are
   * read from their rows, so a first flame graph over whole recent segments decodes no row.
   */
  async preloadSeriesTables(maxTenants: number, windowMs: number, budgetMs = START_UP_BUDGET_MS): Promise<SeriesPreload> {
    const out: SeriesPreload = { tenants: 0, tables: 0, stackSums: 0, failed: 0, complete: true };
    const cache = this.seriesTables;
    if (!cache || windowMs <= 0 || maxTenants <= 0) return out;
    const budget = AbortSignal.timeout(budgetMs);
    let warmUp: (() => void) | undefined;
    const planned: SegmentMeta[][] = [];
    for (const tenant of this.recentTenants(maxTenants)) {
      const newestMs = this.newestMs(tenant);
      if (newestMs === undefined) continue;
      const range = { startMs: newestMs - windowMs, endMs: newestMs + 1 };
      const segments = planSegments(this.view, tenant, range).reverse();
      planned.push(segments);
      const profileType = this.profileTypes(tenant, range)[0];
      if (profileType && !warmUp) {
        warmUp = () => {
          const tables = segments.map((seg) => cache.peek(seg)).filter((t) => t !== undefined);
          // Summed by a label the data has, as a dashboard's query is (the key lookups get compiled too).
          const name = tables[0]?.series[0]?.labels[0]?.[0];
          const q = { profileType, matchers: [], ...range, stepMs: Math.max(1, Math.ceil(windowMs / 60)), sumBy: name === undefined ? [] : [name] };
          const prepared = prepareSeriesQuery(q);
          const sums: SeriesBuckets = new Map();
          for (const table of tables) seriesFromTable(table, q, prepared, sums);
        };
      }
      out.tenants++;
      let full: boolean;
      try {
        full = await this.preloadEach(segments, budget, out, 'tables', (seg) => cache.preload(this.store, seg, budget));
      } catch {
        out.complete = false;
        return out;
      }
      if (full) {
        out.complete = false;
        break;
      }
    }
    if (out.tables > 0) warmUp?.();
    // Then, with what budget and room are left, the same segments' stack sums.
    try {
      for (const segments of planned) {
        if (await this.preloadEach(segments, budget, out, 'stackSums', (seg) => cache.preloadStackSums(this.store, seg, budget))) {
          out.complete = false;
          break;
        }
      }
    } catch {
      out.complete = false;
    }
    return out;
  }

  /**
   * Runs one preload step per segment (bounded concurrency), counting reads into `out[count]` and
   * failures into `out.failed`; true when one said the cache is full (the rest are skipped).
   * Throws when the budget ran out.
   */
  private async preloadEach(
    segments: readonly SegmentMeta[],
    budget: AbortSignal,
    out: SeriesPreload,
    count: 'tables' | 'stackSums',
    step: (seg: SegmentMeta) => Promise<string>,
  ): Promise<boolean> {
    let full = false;
    await mapBounded(
      segments,
      this.concurrency,
      async (seg) => {
        if (full) return;
        const r = await step(seg).catch((err: unknown) => {
          if (budget.aborted) throw err;
          out.failed++;
          return 'failed';
        });
        if (r === 'read') out[count]++;
        else if (r === 'full') full = true;
      },
      budget,
    );
    return full;
  }

  /**
   * What a querier's warm-up before ready asks (answers discarded): the most recently written
   * tenant's newest segment, whole, so the query sums that segment's stack sums when the series
   * preload built them (and scans any neighbour it cuts), like a user's first query over recent
   * data; first over every series, then with a matcher on a label of the segment's first series
   * when its series table is cached, as a label-filtered query is (`label`: that label). `cut`:
   * the segment's later half, a range that cuts it as "the last N minutes" cuts a block (the
   * stack rows path, which no whole-segment query runs), when it spans more than one millisecond.
   */
  warmUpQueries(): WarmUpQueries | undefined {
    const [tenant] = this.recentTenants(1);
    const newest = tenant === undefined ? undefined : this.newestSegment(tenant);
    if (tenant === undefined || !newest) return undefined;
    const range = { startMs: Number(newest.minTimeUnixNano / 1_000_000n), endMs: Number(newest.maxTimeUnixNano / 1_000_000n) + 1 };
    const profileType = this.profileTypes(tenant, range)[0];
    if (profileType === undefined) return undefined;
    const probe: WarmUpQueries = { tenant, ...range, selectors: [profileType] };
    const mid = Math.floor((range.startMs + range.endMs) / 2);
    if (mid > range.startMs) probe.cut = { startMs: mid, endMs: range.endMs };
    const label = this.seriesTables?.peek(newest)?.series[0]?.labels[0];
    if (label) {
      probe.selectors.push(`${profileType}{${label[0]}=${JSON.stringify(label[1])}}`);
      probe.label = label;
    }
    return probe;
  }

  /** Tenants by their latest manifest entry, most recent first. */
  private recentTenants(max: number): TenantId[] {
    return this.view
      .tenants()
      .map((t) => [t, this.view.maxSeq(t)] as const)
      .sort((a, b) => b[1] - a[1])
      .slice(0, Math.max(0, max))
      .map(([t]) => t);
  }

  /** How many of the tenant's valid segments overlap a time range. */
  segmentCount(tenant: TenantId, startMs: number, endMs: number): number {
    return planSegments(this.view, tenant, { startMs, endMs }).length;
  }

  /** The tenant's valid segment with the latest end time, if it has any. */
  private newestSegment(tenant: TenantId): SegmentMeta | undefined {
    let newest: SegmentMeta | undefined;
    for (const e of this.view.validSegments(tenant)) if (!newest || e.meta.maxTimeUnixNano > newest.maxTimeUnixNano) newest = e.meta;
    return newest;
  }

  /** The end of the tenant's newest valid segment (ms), if it has any. */
  private newestMs(tenant: TenantId): number | undefined {
    const newest = this.newestSegment(tenant);
    return newest === undefined ? undefined : Number(newest.maxTimeUnixNano / 1_000_000n);
  }

  /** Writes pending catalog snapshots now (they are otherwise written after a quiet time). */
  async flushCatalogSnapshots(): Promise<void> {
    await this.snapshots?.flush();
  }

  /**
   * The plan: the segments a selector over [startMs, endMs) must read, oldest first.
   * invalid_argument for a bad selector or range.
   */
  segmentsFor(tenant: TenantId, selector: string, startMs: number, endMs: number): PlannedQuery {
    checkRange(startMs, endMs);
    const sel = parseSelector(selector);
    const profileType = formatProfileType(sel.profileType);
    const segments = planSegments(this.view, tenant, { startMs, endMs, profileType, matchers: sel.matchers });
    return { profileType, matchers: sel.matchers, startMs, endMs, segments };
  }

  /** Merged stacks of every matching row (summed over groups when groupBy is set). */
  async mergeStacks(tenant: TenantId, selector: string, startMs: number, endMs: number, opts: MergeOptions = {}): Promise<StackProfile> {
    const { acc, plan } = await this.accumulate(tenant, selector, startMs, endMs, opts);
    return acc.toStackProfile(plan.profileType);
  }

  /** The partial aggregate of a query (or of `opts.segments`), for exchange between queriers. */
  async partial(tenant: TenantId, selector: string, startMs: number, endMs: number, opts: MergeOptions = {}): Promise<PartialAggregate> {
    return (await this.accumulate(tenant, selector, startMs, endMs, opts)).acc.toPartial();
  }

  /**
   * A diff: `values` from selection b, `base` from selection a (each with its own range, and
   * optionally its span ids and share of segments, as mergeStacks takes them), stacks of both
   * sides. The segment cap applies to each side.
   */
  async diff(tenant: TenantId, a: DiffSide, b: DiffSide, opts: QueryOptions = {}): Promise<StackProfile> {
    const pa = this.planOf(tenant, a.selector, a.startMs, a.endMs, { ...opts, segments: a.segments, spanIds: a.spanIds });
    const pb = this.planOf(tenant, b.selector, b.startMs, b.endMs, { ...opts, segments: b.segments, spanIds: b.spanIds });
    const catalog = await this.catalogs.forTenant(tenant);
    const acc = new QuerySums(catalog);
    const mapped = [...(await this.scanInto(acc, catalog, pa, [], opts.signal, 'base')), ...(await this.scanInto(acc, catalog, pb, [], opts.signal, 'value'))];
    await fillFrames(this.store, catalog, acc.stackIds(), mapped, opts.signal);
    this.snapshots?.scheduleWrite(tenant, catalog);
    return acc.toStackProfile(pb.profileType);
  }

  /**
   * Value per (series after sumBy, step bucket). sumBy undefined keeps every label; [] sums all
   * series into one.
   */
  async series(
    tenant: TenantId,
    selector: string,
    startMs: number,
    endMs: number,
    stepMs: number,
    sumBy?: readonly string[],
    opts: SeriesOptions = {},
  ): Promise<SeriesBuckets> {
    if (!Number.isSafeInteger(stepMs) || stepMs <= 0) throw FirnError.invalidArgument(`step must be a positive integer number of milliseconds, got ${stepMs}`);
    checkRange(startMs, endMs);
    const buckets = Math.ceil((endMs - startMs) / stepMs);
    if (buckets > this.maxBuckets) {
      throw FirnError.invalidArgument(
        `query range of ${endMs - startMs} ms at step ${stepMs} ms has ${buckets} points per series, more than the maximum of ${this.maxBuckets}; raise the step`,
        { limit: 'max_buckets' },
      );
    }
    const plan = opts.segments ? this.shareOf(selector, startMs, endMs, opts.segments) : this.segmentsFor(tenant, selector, startMs, endMs);
    this.checkSegmentCount(plan.segments.length, opts);
    const out: SeriesBuckets = new Map();
    const q = { ...plan, stepMs, sumBy };
    const prepared = prepareSeriesQuery(q);
    await mapBounded(
      plan.segments,
      this.concurrency,
      async (seg) => {
        // No table when the cache is off or full of tables in use: then scan the rows.
        const table = await this.seriesTables?.table(this.store, seg, q, opts.signal);
        if (table) seriesFromTable(table, q, prepared, out);
        else mergeSeries(out, await scanSeries(this.store, seg, q, { signal: opts.signal }));
      },
      opts.signal,
    );
    return out;
  }

  async labelNames(tenant: TenantId, q: LabelQuery, opts: { signal?: AbortSignal } = {}): Promise<string[]> {
    const plan = this.labelNamesPlan(tenant, q);
    return sortedLabelSet(plan.known, await this.scanLabelNames(plan.toScan, q, opts));
  }

  async labelValues(tenant: TenantId, name: string, q: LabelQuery, opts: { signal?: AbortSignal } = {}): Promise<string[]> {
    const plan = this.labelValuesPlan(tenant, name, q);
    return sortedLabelSet(plan.known, await this.scanLabelValues(plan.toScan, name, q, opts));
  }

  /** Label names the manifest answers, and the segments to read for the rest (a fan-out splits those). */
  labelNamesPlan(tenant: TenantId, q: LabelQuery): LabelPlan {
    return labelNamesPlan(this.view, tenant, q);
  }

  labelValuesPlan(tenant: TenantId, name: string, q: LabelQuery): LabelPlan {
    return labelValuesPlan(this.view, tenant, name, q);
  }

  /** Label names of the selected rows of `segments` (a share of labelNamesPlan's toScan); unsorted, may hold ''. */
  scanLabelNames(segments: readonly SegmentMeta[], q: LabelQuery, opts: { signal?: AbortSignal } = {}): Promise<Set<string>> {
    return scanLabelNames(this.store, segments, q, { concurrency: this.concurrency, signal: opts.signal });
  }

  scanLabelValues(segments: readonly SegmentMeta[], name: string, q: LabelQuery, opts: { signal?: AbortSignal } = {}): Promise<Set<string>> {
    return scanLabelValues(this.store, segments, name, q, { concurrency: this.concurrency, signal: opts.signal });
  }

  profileTypes(tenant: TenantId, q: { startMs: number; endMs: number }): string[] {
    return profileTypes(this.view, tenant, q);
  }

  /** Valid segments of the tenant the manifest says can hold matching rows (no object is read). */
  segmentsIn(tenant: TenantId, q: PlanQuery): SegmentMeta[] {
    return planSegments(this.view, tenant, q);
  }

  private async accumulate(
    tenant: TenantId,
    selector: string,
    startMs: number,
    endMs: number,
    opts: MergeOptions,
  ): Promise<{ acc: QuerySums; plan: PlannedQuery }> {
    const plan = this.planOf(tenant, selector, startMs, endMs, opts);
    const catalog = await this.catalogs.forTenant(tenant);
    const acc = new QuerySums(catalog, opts.groupBy ?? []);
    const mapped = await this.scanInto(acc, catalog, plan, opts.groupBy ?? [], opts.signal);
    await fillFrames(this.store, catalog, acc.stackIds(), mapped, opts.signal);
    this.snapshots?.scheduleWrite(tenant, catalog);
    return { acc, plan };
  }

  private async scanInto(
    acc: QuerySums,
    catalog: StackCatalog,
    plan: PlannedQuery,
    groupBy: readonly string[],
    signal: AbortSignal | undefined,
    side: Side = 'value',
  ): Promise<MappedSegment[]> {
    // Sums are folded in as they arrive, so memory holds the merged result plus the scans in flight.
    // Only stack keys are mapped here; frames are read afterwards, once per stack (fillFrames).
    const mapped: MappedSegment[] = [];
    const matchers = compileMatchers(plan.matchers);
    await mapBounded(
      plan.segments,
      this.concurrency,
      async (seg) => {
        const sums =
          (await this.sumsFromTable(seg, plan, groupBy, matchers, signal)) ??
          (this.pool ? await this.pool.sum(seg, plan, groupBy, signal) : await sumSegment(this.store, seg, plan, groupBy, signal));
        if (sums.ids.length === 0) return;
        throwIfAborted(signal);
        const map = await mapStacks(this.store, seg, sums.ids, catalog, signal);
        acc.add(sums, map, side);
        mapped.push({ seg, map });
      },
      signal,
    );
    return mapped;
  }

  /** The query's plan (or its share `opts.segments`), with its span ids, within the segment cap. */
  private planOf(tenant: TenantId, selector: string, startMs: number, endMs: number, opts: MergeOptions): PlannedQuery {
    const planned = opts.segments ? this.shareOf(selector, startMs, endMs, opts.segments) : this.segmentsFor(tenant, selector, startMs, endMs);
    const plan: PlannedQuery = opts.spanIds ? { ...planned, spanIds: checkedSpanIds(opts.spanIds) } : planned;
    this.checkSegmentCount(plan.segments.length, opts);
    return plan;
  }

  /**
   * Whether a merge over [startMs, endMs) without grouping or span ids would answer `seg` from
   * what this engine already holds in its series cache (no row decoded, no object read): stack
   * sums when the range covers the whole segment, stack rows when it cuts it. A querier keeps
   * such segments rather than handing them to a peer: adding them up costs far less than a peer's
   * partial aggregate costs to encode, send and decode.
   */
  holdsStackSums(seg: SegmentMeta, startMs: number, endMs: number, spanIds?: readonly string[]): boolean {
    const kept = this.keptFor(seg, startMs, endMs, [], spanIds);
    return kept !== undefined && Boolean(this.seriesTables?.peek(seg)?.[kept]);
  }

  /**
   * What of the series cache can answer `seg` for such a query (ungrouped, no span ids): its stack
   * sums when the whole segment is in range, else its stack rows; undefined: scan its rows.
   */
  private keptFor(
    seg: SegmentMeta,
    startMs: number,
    endMs: number,
    groupBy: readonly string[],
    spanIds: readonly string[] | ReadonlySet<string> | undefined,
  ): 'stackSums' | 'stackRows' | undefined {
    if (this.seriesTables === undefined || groupBy.length > 0 || spanIds) return undefined;
    return segmentWithin(seg, startMs, endMs) ? 'stackSums' : 'stackRows';
  }

  /**
   * A segment's sums from its series table (no row decoded once they exist): its stack sums for an
   * ungrouped query without span ids whose range covers the whole segment, its stack rows for one
   * whose range cuts it; undefined otherwise or when the cache has no room (the caller scans the rows).
   */
  private async sumsFromTable(
    seg: SegmentMeta,
    plan: PlannedQuery,
    groupBy: readonly string[],
    matchers: readonly CompiledMatcher[],
    signal: AbortSignal | undefined,
  ): Promise<SegmentSums | undefined> {
    const kept = this.keptFor(seg, plan.startMs, plan.endMs, groupBy, plan.spanIds);
    if (!this.seriesTables || !kept) return undefined;
    const q = { profileType: plan.profileType, matchers: plan.matchers, startMs: plan.startMs, endMs: plan.endMs, stepMs: 1, sumBy: [] };
    // A query over every series builds them (it reads every row anyway); a label-filtered one
    // reads just its own rows the first time the segment is asked for, and builds them the next.
    const opts = { build: plan.matchers.length === 0 ? ('always' as const) : ('again' as const), signal };
    if (kept === 'stackSums') {
      const got = await this.seriesTables.stackSums(this.store, seg, q, opts);
      return got && segmentSumsOf(got.table, got.sums, plan.profileType, matchers);
    }
    const got = await this.seriesTables.stackRows(this.store, seg, q, opts);
    return got && rangeSumsOf(got.table, got.rows, plan.profileType, matchers, plan.startMs, plan.endMs);
  }

  /** Accepts the stacks object keys of the tenant's valid segments (segment maps of others are dropped). */
  private validStacksKeys(tenant: TenantId): (stacksKey: string) => boolean {
    const keys = new Set<string>();
    for (const e of this.view.validSegments(tenant)) {
      try {
        keys.add(segmentObjects(e.meta).stacks);
      } catch {
        // A malformed entry is never scanned either (the scan reports it).
      }
    }
    return (k) => keys.has(k);
  }

  /** A plan over given segments (a fan-out share), the selector and range validated as usual. */
  private shareOf(selector: string, startMs: number, endMs: number, segments: readonly SegmentMeta[]): PlannedQuery {
    checkRange(startMs, endMs);
    const sel = parseSelector(selector);
    return { profileType: formatProfileType(sel.profileType), matchers: sel.matchers, startMs, endMs, segments: [...segments] };
  }

  private checkSegmentCount(n: number, opts: QueryOptions): void {
    const max = opts.maxSegments ?? this.maxSegments;
    if (max !== undefined && n > max) {
      throw new FirnError(
        'resource_exhausted',
        `query needs ${n} segments, more than the limit of ${max} (max_segments); narrow the time range or the selector`,
        { details: { limit: 'max_segments', max, segments: n } },
      );
    }
  }
}

/** Span ids as stored: 16 lowercase hex digits (invalid_argument naming the first bad one). */
function checkedSpanIds(ids: readonly string[]): string[] {
  for (const id of ids) if (!isSpanId(id)) throw FirnError.invalidArgument(`span id ${JSON.stringify(id.slice(0, 40))} is not 16 lowercase hex digits`);
  return [...ids];
}

function positive(v: number, name: string): number {
  if (!Number.isSafeInteger(v) || v < 1) throw FirnError.invalidArgument(`QueryEngine ${name} must be a positive integer, got ${v}`);
  return v;
}

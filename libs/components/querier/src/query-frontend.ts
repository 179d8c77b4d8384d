import { randomBytes } from 'node:crypto';
import { Inject, Injectable, type BeforeApplicationShutdown, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { create } from '@bufbuild/protobuf';
import { createClient, type Client, type HandlerContext } from '@connectrpc/connect';
import type { Tracer } from '@opentelemetry/api';
import { ErrorCode, FirnError } from '@firn/errors';
import type { ManifestLog } from '@firn/manifest';
import { DEFAULT_TENANT_LIMITS } from '@firn/limits';
import { inSpan, inSpanSync, type Logger, type Registry } from '@firn/observability';
import { EndpointSet, MANIFEST_LOG, internalGrpcTransport, worthAnotherEndpoint } from '@firn/platform';
import { firnQueryV1 } from '@firn/proto';
import type { LabelMatcher } from '@firn/manifest';
import {
  NO_SYMBOLS,
  QueryEngine,
  StackAccumulator,
  decodePartial,
  encodePartial,
  mergeSeries,
  seriesFromColumns,
  seriesToColumns,
  sortedLabelSet,
  START_UP_BUDGET_MS,
  symbolize,
  type LabelQuery,
  type PartialAggregate,
  type PlannedQuery,
  type SegmentMeta,
  type SeriesBuckets,
  type Side,
  type SymbolResolver,
  type WarmUpQueries,
} from '@firn/query';
import { flamegraphArrow, pyroscopeFlameGraph, type StackProfile } from '@firn/reports';
import { LOGGER, METRICS, RpcRegistry, TRACER } from '@firn/server-runtime';
import type { TenantId } from '@firn/tenancy';
import { INTERNAL_TENANT_HEADER, INTERNAL_TOKEN_HEADER, internalAuthInterceptor, internalTenantOf } from './internal-auth';
import { QueryFrontendMetrics } from './querier.metrics';
import { QUERIER_OPTIONS, QUERY_ENGINE, type QuerierOptions } from './querier.options';
import { clipToRetention } from './retention-clip';
import { GRAFANA_MAX_NODES, warmUpOverRpc } from './rpc-warm-up';

interface Selection {
  selector: string;
  startMs: number;
  endMs: number;
  /** Span profiles: only rows of these span ids. */
  spanIds?: readonly string[];
}

type Peer = Client<typeof firnQueryV1.PartialQueryService>;

/** What peers scan for each other; label of firn_querier_peer_share_segments_total. */
type ShareKind = 'stacks' | 'series' | 'label_names' | 'label_values';

const MATCH_OPS: ReadonlySet<string> = new Set(['=', '!=', '=~', '!~']);

/**
 * Query front: plans a query from the manifest, splits its segments across this querier and its
 * peers (`--querier-peers`), and merges the partial results they return: merged stacks, series
 * buckets, label name and value sets. Only aggregates cross the network, never raw rows. Also
 * serves the peers' side (`firn.query.v1.PartialQueryService`).
 * Enforces the query timeout and the per-query segment limit.
 */
@Injectable()
export class QueryFrontend implements OnModuleInit, OnModuleDestroy, BeforeApplicationShutdown {
  /** Peer clients by base URL; the set follows `endpoints` (DNS-named peers come and go). */
  private peers = new Map<string, Peer>();
  private readonly endpoints: EndpointSet;
  private readonly metrics: QueryFrontendMetrics;
  /** The configured internal token; none configured: a random one no other process knows (for the warm-up's own calls). */
  private readonly token: string;

  constructor(
    private readonly rpc: RpcRegistry,
    @Inject(QUERY_ENGINE) private readonly engine: QueryEngine,
    @Inject(MANIFEST_LOG) private readonly manifest: ManifestLog,
    @Inject(QUERIER_OPTIONS) private readonly opts: QuerierOptions,
    @Inject(LOGGER) private readonly log: Logger,
    @Inject(METRICS) registry: Registry,
    @Inject(TRACER) private readonly tracer: Tracer,
  ) {
    this.endpoints = new EndpointSet({ specs: opts.peers, refreshMs: opts.peersRefreshMs, self: opts.selfAddress || undefined, log });
    this.endpoints.onChange((urls) => {
      const next = new Map<string, Peer>();
      for (const url of urls) next.set(url, this.peers.get(url) ?? createClient(firnQueryV1.PartialQueryService, internalGrpcTransport(url)));
      this.peers = next;
    });
    this.metrics = new QueryFrontendMetrics(registry);
    this.token = opts.internalToken || randomBytes(32).toString('base64url');
  }

  /** The shared secret of internal calls (forwarded queries from the gateway, peer shares). */
  get internalToken(): string {
    return this.token;
  }

  async onModuleInit(): Promise<void> {
    // Before ready: the busiest tenants' stack catalogs from their snapshots (bounded by count).
    await this.engine.preloadCatalogs(this.opts.catalogSnapshots.preloadTenants);
    // And their recent series tables, so a dashboard's first QueryRange reads no segment.
    const { windowMs, tenants } = this.opts.seriesPreload;
    if (windowMs > 0 && tenants > 0) {
      const t0 = performance.now();
      const r = await this.engine.preloadSeriesTables(tenants, windowMs);
      this.log.info({ ...r, ms: Math.round(performance.now() - t0) }, 'series tables preloaded');
    }
    // One probe for both warm-ups: the in-process one now, the one over RPC once serving.
    const probe = this.opts.warmUp ? this.engine.warmUpQueries() : undefined;
    if (probe) {
      await this.warmUp(probe);
      this.rpc.whenServing((baseUrl) => this.warmUpOverRpc(baseUrl, probe));
    }
    await this.endpoints.start();
    this.rpc.add(
      firnQueryV1.PartialQueryService,
      {
        partial: (req, ctx) => this.servePartial(req, ctx),
        partialSeries: (req, ctx) => this.serveSeries(req, ctx),
        partialLabelNames: (req, ctx) => this.serveLabelNames(req, ctx),
        partialLabelValues: (req, ctx) => this.serveLabelValues(req, ctx),
      },
      { interceptors: [internalAuthInterceptor(this.token)] },
    );
  }

  onModuleDestroy(): void {
    this.endpoints.close();
  }

  /**
   * Flame graphs before ready (answers discarded) over the most recent tenant's newest segment:
   * over every series, then with a label matcher (`QueryEngine.warmUpQueries`), each symbolized
   * and rendered as Parca's flame graph at the default node cap and as Pyroscope's (Grafana's) at
   * Grafana's, so the first user queries do not pay for compiling the paths they take (stack sums,
   * matchers over series, the edge scan, Parquet decoding, symbolization, both flame graph
   * builders). Then a merge over the segment's later half (`cut`): a range cutting a segment or
   * block reads its stack rows, a path the others do not run; the rows are kept if the series
   * cache has room, like any query's. Last, a flame graph over every series of the series
   * preload's window up to that segment (when the window holds other segments too): what a
   * query costs once per frame (the catalog numbering its stacks, the resolver's answer and the
   * reports' strings for each frame) is then paid before ready for the frames of the data the
   * preload read, not only the newest segment's. They map their stacks into the tenant's catalog
   * like any query; a failure is logged and only costs the first query its start-up.
   */
  private async warmUp(probe: WarmUpQueries): Promise<void> {
    const signal = AbortSignal.timeout(START_UP_BUDGET_MS);
    const { tenant, startMs, endMs, selectors, cut } = probe;
    const preloaded = this.preloadWindow(probe);
    // Only when the window holds more than the newest segment (over one hourly block it would repeat the first query).
    const window = preloaded && this.engine.segmentCount(tenant, preloaded.startMs, preloaded.endMs) > 1 ? preloaded : undefined;
    // The cut needs no flame graph: the builders have run by then.
    const queries = [
      ...selectors.map((selector) => ({ selector, startMs, endMs, render: true })),
      ...(cut ? [{ selector: selectors[0], ...cut, render: false }] : []),
      ...(window ? [{ selector: selectors[0], ...window, render: true }] : []),
    ];
    for (const q of queries) {
      const at = { tenant, selector: q.selector, startMs: q.startMs, endMs: q.endMs };
      const t0 = performance.now();
      try {
        const p = await this.symbolized(tenant, await this.engine.mergeStacks(tenant, q.selector, q.startMs, q.endMs, { signal }));
        if (q.render) {
          flamegraphArrow(p, { maxNodes: DEFAULT_TENANT_LIMITS.maxFlameGraphNodes });
          // Grafana's format too (another builder, which nothing else runs before a query): no second merge.
          pyroscopeFlameGraph(p, { maxNodes: GRAFANA_MAX_NODES });
        }
        this.log.info({ ...at, ms: Math.round(performance.now() - t0), stacks: p.stacks.length }, 'query path warmed up');
      } catch (err) {
        this.log.warn({ ...at, err }, 'warm-up query failed; the first query pays its start-up');
        return;
      }
    }
  }

  /**
   * Once the services answer, before ready: the range queries of a dashboard through this
   * querier's own RPC services (`warmUpOverRpc`) for the tenant `warmUp` queried, over its newest
   * segment and then over the series preload's window up to its newest data (the tables the
   * preload cached, as a dashboard's "last hour" sums them).
   */
  private async warmUpOverRpc(baseUrl: string, probe: WarmUpQueries): Promise<void> {
    const { tenant, startMs, endMs, selectors, label } = probe;
    const window = this.preloadWindow(probe);
    const ranges = window ? [{ startMs, endMs }, window] : [{ startMs, endMs }];
    const signal = AbortSignal.timeout(START_UP_BUDGET_MS);
    await warmUpOverRpc(baseUrl, this.token, { tenant, ranges, profileType: selectors[0], sumBy: label?.[0] }, signal, this.log);
  }

  /** The series preload's window up to the probe's segment, when the preload runs and the window reaches before that segment. */
  private preloadWindow({ startMs, endMs }: WarmUpQueries): { startMs: number; endMs: number } | undefined {
    const { windowMs, tenants } = this.opts.seriesPreload;
    return windowMs > 0 && tenants > 0 && endMs - windowMs < startMs ? { startMs: endMs - windowMs, endMs } : undefined;
  }

  /** Requests are drained by now: pending stack catalog snapshots are written while storage is still open. */
  async beforeApplicationShutdown(): Promise<void> {
    await this.engine.flushCatalogSnapshots();
  }

  /** The symbolizer's cache: one batched lookup per query (NO_SYMBOLS when the process has no symbol cache). */
  private symbols: SymbolResolver = NO_SYMBOLS;

  useSymbols(resolver: SymbolResolver): void {
    this.symbols = resolver;
  }

  /** Per-tenant retention (0 = keep forever); the compactor deletes what is wholly older. */
  private retentionOf: (tenant: TenantId) => number = () => 0;

  useRetention(policy: (tenant: TenantId) => number): void {
    this.retentionOf = policy;
  }

  private retained<T extends { startMs: number; endMs: number }>(tenant: TenantId, r: T, stepMs = 1): T {
    return clipToRetention(r, this.retentionOf(tenant), Date.now(), stepMs);
  }

  async mergeStacks(tenant: TenantId, selection: Selection, signal: AbortSignal): Promise<StackProfile> {
    const sel = this.retained(tenant, selection);
    const plan = this.checkedPlan(tenant, sel);
    const held = this.heldSums(sel);
    if (this.peers.size === 0 || plan.segments.length < 2 || plan.segments.every(held)) {
      // No share for a peer: the engine's sums become the profile directly, without a partial in between.
      const merged = await this.scan(plan.segments.length, () =>
        this.engine.mergeStacks(tenant, sel.selector, sel.startMs, sel.endMs, { segments: plan.segments, signal, spanIds: sel.spanIds }),
      );
      return this.symbolized(tenant, merged);
    }
    const acc = new StackAccumulator();
    const profileType = await this.accumulate(acc, tenant, sel, 'value', signal, [], { plan, keepLocal: held });
    return this.symbolized(tenant, acc.toStackProfile(profileType));
  }

  /**
   * Merged stacks per group of `groupBy` label values (PERIOD_GROUP groups by sampling period),
   * split across queriers like mergeStacks. `symbolize: false` keeps frames as stored (addresses
   * and build ids), for consumers that resolve addresses themselves (PGO export).
   */
  async mergeGrouped(
    tenant: TenantId,
    selection: Selection,
    groupBy: readonly string[],
    opts: { symbolize: boolean; signal: AbortSignal },
  ): Promise<{ profileType: string; groups: Array<{ labels: Array<[string, string]>; profile: StackProfile }> }> {
    const sel = this.retained(tenant, selection);
    const acc = new StackAccumulator(groupBy);
    const profileType = await this.accumulate(acc, tenant, sel, 'value', opts.signal, groupBy);
    const groups = acc.toGroupedStackProfiles(profileType);
    if (!opts.symbolize) return { profileType, groups };
    // One batched symbol lookup for every group: resolve the union, then swap frames by identity.
    const all = acc.toStackProfile(profileType);
    const named = await this.symbolized(tenant, all);
    if (named === all) return { profileType, groups };
    const swap = new Map(all.stacks.map((s, i) => [s, named.stacks[i]]));
    return { profileType, groups: groups.map((g) => ({ labels: g.labels, profile: { ...g.profile, stacks: g.profile.stacks.map((s) => swap.get(s) ?? s) } })) };
  }

  /**
   * Segments whose stack sums this querier holds for a selection: kept here rather than handed to
   * a peer (QueryEngine.holdsStackSums says why).
   */
  private heldSums(sel: Selection): (s: SegmentMeta) => boolean {
    return (s) => this.engine.holdsStackSums(s, sel.startMs, sel.endMs, sel.spanIds);
  }

  async diff(tenant: TenantId, selA: Selection, selB: Selection, signal: AbortSignal): Promise<StackProfile> {
    const a = this.retained(tenant, selA);
    const b = this.retained(tenant, selB);
    const [planA, planB] = [this.checkedPlan(tenant, a), this.checkedPlan(tenant, b)];
    const [heldA, heldB] = [this.heldSums(a), this.heldSums(b)];
    if (this.peers.size === 0 || (planA.segments.every(heldA) && planB.segments.every(heldB))) {
      // No share for a peer, as in mergeStacks: both sides summed straight into one profile.
      const side = (sel: Selection, plan: PlannedQuery) => ({ ...sel, segments: plan.segments });
      const diffed = await this.scan(planA.segments.length + planB.segments.length, () => this.engine.diff(tenant, side(a, planA), side(b, planB), { signal }));
      return this.symbolized(tenant, diffed);
    }
    const acc = new StackAccumulator();
    await this.accumulate(acc, tenant, a, 'base', signal, [], { plan: planA, keepLocal: heldA });
    const profileType = await this.accumulate(acc, tenant, b, 'value', signal, [], { plan: planB, keepLocal: heldB });
    return this.symbolized(tenant, acc.toStackProfile(profileType));
  }

  /**
   * Series buckets of a selection, split across queriers like a merge. `sumBy` undefined keeps
   * every label. An unknown profile type gives no series (not an error), as before the fan-out.
   */
  async series(tenant: TenantId, selection: Selection, stepMs: number, sumBy: readonly string[] | undefined, signal: AbortSignal): Promise<SeriesBuckets> {
    const sel = this.retained(tenant, selection, stepMs);
    const plan = this.checkedPlan(tenant, sel, { knownTypeOnly: false });
    const out: SeriesBuckets = new Map();
    await this.fanOut(
      plan.segments,
      async (segments, signal) =>
        void mergeSeries(
          out,
          await this.engine.series(tenant, sel.selector, sel.startMs, sel.endMs, stepMs, sumBy, { segments, signal, maxSegments: this.opts.maxSegments }),
        ),
      async (peer, segments, signal) => {
        const res = await peer.partialSeries(
          create(firnQueryV1.PartialSeriesRequestSchema, {
            selector: sel.selector,
            startMs: BigInt(sel.startMs),
            endMs: BigInt(sel.endMs),
            stepMs: BigInt(stepMs),
            sumBy: sumBy ? [...sumBy] : [],
            keepAllLabels: sumBy === undefined,
            segmentIds: segments.map((s) => s.id),
          }),
          this.callOptions(tenant, signal),
        );
        mergeSeries(
          out,
          seriesFromColumns(
            res.series.map((c) => ({
              labels: c.labels.map((l) => [l.name, l.value] as [string, string]),
              bucketMs: c.bucketMs.map(Number),
              values: c.values,
              counts: c.counts.map(Number),
              durationNs: c.durationNs,
            })),
          ),
        );
      },
      signal,
    );
    return out;
  }

  /** Label names: the manifest answers what it can here; the segments to read are split across queriers. */
  async labelNames(tenant: TenantId, query: LabelQuery, signal: AbortSignal): Promise<string[]> {
    const q = this.retained(tenant, query);
    const plan = this.engine.labelNamesPlan(tenant, q);
    const found: Array<Iterable<string>> = [plan.known];
    await this.fanOut(
      plan.toScan,
      async (segments, signal) => void found.push(await this.engine.scanLabelNames(segments, q, { signal })),
      async (peer, segments, signal) => {
        const res = await peer.partialLabelNames(
          create(firnQueryV1.PartialLabelNamesRequestSchema, { ...wireLabelQuery(q), segmentIds: segments.map((s) => s.id) }),
          this.callOptions(tenant, signal),
        );
        found.push(res.names);
      },
      signal,
    );
    return sortedLabelSet(...found);
  }

  /** Values of one label, split like labelNames. */
  async labelValues(tenant: TenantId, name: string, query: LabelQuery, signal: AbortSignal): Promise<string[]> {
    const q = this.retained(tenant, query);
    const plan = this.engine.labelValuesPlan(tenant, name, q);
    const found: Array<Iterable<string>> = [plan.known];
    await this.fanOut(
      plan.toScan,
      async (segments, signal) => void found.push(await this.engine.scanLabelValues(segments, name, q, { signal })),
      async (peer, segments, signal) => {
        const res = await peer.partialLabelValues(
          create(firnQueryV1.PartialLabelValuesRequestSchema, { name, ...wireLabelQuery(q), segmentIds: segments.map((s) => s.id) }),
          this.callOptions(tenant, signal),
        );
        found.push(res.values);
      },
      signal,
    );
    return sortedLabelSet(...found);
  }

  /** The request's signal, ended also by the query timeout (→ DEADLINE_EXCEEDED). */
  deadline(ctx: HandlerContext): AbortSignal {
    return AbortSignal.any([ctx.signal, AbortSignal.timeout(this.opts.queryTimeoutMs)]);
  }

  /** Runs `fn`; if the deadline fired, reports DEADLINE_EXCEEDED naming the limit. */
  async withDeadline<T>(signal: AbortSignal, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (signal.aborted && signal.reason instanceof DOMException && signal.reason.name === 'TimeoutError') {
        throw new FirnError(ErrorCode.DeadlineExceeded, `query took longer than ${this.opts.queryTimeoutMs} ms`, { details: { limit: 'query_timeout' } });
      }
      throw err;
    }
  }

  /**
   * The plan of a selection, refused when it needs too many segments or (unless
   * `knownTypeOnly: false`) names a profile type the tenant never stored.
   */
  private checkedPlan(tenant: TenantId, sel: Selection, opts: { knownTypeOnly?: boolean } = {}): PlannedQuery {
    const plan = this.engine.segmentsFor(tenant, sel.selector, sel.startMs, sel.endMs);
    if (plan.segments.length === 0 && opts.knownTypeOnly !== false) this.checkKnownType(tenant, plan.profileType);
    if (plan.segments.length > this.opts.maxSegments) {
      throw new FirnError(
        ErrorCode.ResourceExhausted,
        `query needs ${plan.segments.length} segments, more than the limit of ${this.opts.maxSegments}; narrow the time range or selector`,
        {
          details: { limit: 'max_query_segments' },
        },
      );
    }
    return plan;
  }

  private async accumulate(
    acc: StackAccumulator,
    tenant: TenantId,
    sel: Selection,
    side: Side,
    signal: AbortSignal,
    groupBy: readonly string[] = [],
    split: { plan?: PlannedQuery; keepLocal?: (s: SegmentMeta) => boolean } = {},
  ): Promise<string> {
    const plan = split.plan ?? this.checkedPlan(tenant, sel);
    const partials: PartialAggregate[] = [];
    await this.fanOut(
      plan.segments,
      async (segments, signal) =>
        void partials.push(await this.engine.partial(tenant, sel.selector, sel.startMs, sel.endMs, { segments, signal, groupBy, spanIds: sel.spanIds })),
      async (peer, segments, signal) => {
        const res = await peer.partial(
          create(firnQueryV1.PartialRequestSchema, {
            selector: sel.selector,
            startMs: BigInt(sel.startMs),
            endMs: BigInt(sel.endMs),
            segmentIds: segments.map((s) => s.id),
            groupBy: [...groupBy],
            spanIds: [...(sel.spanIds ?? [])],
          }),
          this.callOptions(tenant, signal),
        );
        partials.push(decodePartial(res.partial));
      },
      signal,
      split.keepLocal,
    );
    inSpanSync(
      this.tracer,
      'query.merge',
      () => {
        for (const p of partials) acc.addPartial(p, side);
      },
      { attributes: { 'firn.partials': partials.length } },
    );
    return plan.profileType;
  }

  /**
   * Splits `segments` round-robin across this querier (share 0, always run, even when empty, so
   * the engine validates the query) and its peers, and waits for every share; segments
   * `keepLocal` accepts all go to share 0. Any failing share fails the query; the others are
   * abandoned through the shared signal. The local share runs in a `query.scan` span, each peer's
   * in a `query.peer` span whose context the call carries (the peer's server span is its child).
   */
  private async fanOut(
    segments: readonly SegmentMeta[],
    local: (share: SegmentMeta[], signal: AbortSignal) => Promise<void>,
    remote: (peer: Peer, share: SegmentMeta[], signal: AbortSignal) => Promise<void>,
    signal: AbortSignal,
    keepLocal?: (s: SegmentMeta) => boolean,
  ): Promise<void> {
    const peers = [...this.peers];
    const keep = keepLocal ? segments.map(keepLocal) : undefined;
    const kept = keep ? segments.filter((_, i) => keep[i]) : [];
    const spread = keep ? segments.filter((_, i) => !keep[i]) : segments;
    const ways = Math.min(peers.length + 1, Math.max(1, spread.length));
    const shares = Array.from({ length: ways }, () => [] as SegmentMeta[]);
    spread.forEach((s, i) => shares[i % ways].push(s));
    shares[0].push(...kept);
    if (ways > 1) this.metrics.fanOuts.inc({ peers: String(ways - 1) });
    const failed = new AbortController();
    const shareSignal = ways > 1 ? AbortSignal.any([signal, failed.signal]) : signal;
    await Promise.all(
      shares.map(async (share, i) => {
        const end = this.metrics.shareSeconds.startTimer({ where: i === 0 ? 'local' : 'peer' });
        try {
          if (i === 0) await this.scan(share.length, () => local(share, shareSignal));
          else {
            const [url, peer] = peers[i - 1];
            await inSpan(
              this.tracer,
              'query.peer',
              async (span) => {
                try {
                  await remote(peer, share, shareSignal);
                } catch (err) {
                  // A peer that is gone or draining (a rolling restart, a scale-down), or whose call
                  // died on the wire, must not fail the query: its share is scanned here instead.
                  // Answers (errors included) are the query's own.
                  if (!worthAnotherEndpoint(err, shareSignal)) throw err;
                  this.metrics.peerFallbacks.inc();
                  span.setAttribute('firn.peer.fallback', true);
                  this.log.warn({ err }, 'peer querier unavailable; scanning its share here');
                  await this.scan(share.length, () => local(share, shareSignal));
                }
              },
              { attributes: { 'firn.peer': url, 'firn.segments': share.length } },
            );
          }
        } catch (err) {
          // One failed share fails the query: stop the others instead of letting them run on.
          if (!failed.signal.aborted) failed.abort(err);
          throw err;
        } finally {
          end();
        }
      }),
    );
  }

  /** A scan of `segments` segments (here, for this query or a peer's share), in a `query.scan` span. */
  private scan<T>(segments: number, fn: () => Promise<T>): Promise<T> {
    return inSpan(this.tracer, 'query.scan', fn, { attributes: { 'firn.segments': segments } });
  }

  /** The query's one batched symbol lookup (and demangling), in a `query.symbolize` span. */
  private symbolized(tenant: TenantId, profile: StackProfile): Promise<StackProfile> {
    return inSpan(this.tracer, 'query.symbolize', async () => symbolize(tenant, profile, this.symbols), {
      attributes: { 'firn.stacks': profile.stacks.length },
    });
  }

  /** Tenant and internal token travel only in metadata, which the peer's interceptor checks. */
  private callOptions(tenant: TenantId, signal: AbortSignal): { signal: AbortSignal; headers: Record<string, string> } {
    return { signal, headers: { [INTERNAL_TOKEN_HEADER]: this.token, [INTERNAL_TENANT_HEADER]: tenant } };
  }

  /**
   * A well-formed profile type this tenant has never stored is almost always a typo: say so
   * (INVALID_ARGUMENT, listing what exists) instead of returning an empty flame graph.
   */
  checkKnownType(tenant: TenantId, profileType: string): void {
    const known = this.engine.profileTypes(tenant, { startMs: 0, endMs: Number.MAX_SAFE_INTEGER });
    if (known.length > 0 && !known.includes(profileType)) {
      const list = known.slice(0, 10).join(', ') + (known.length > 10 ? ', …' : '');
      throw FirnError.invalidArgument(`unknown profile type ${profileType}; this tenant has: ${list}`);
    }
  }

  /** The caller's segment ids as this querier's metas, all of the tenant; UNAVAILABLE if some are unknown even after a sync. */
  private async resolveSegments(tenant: TenantId, ids: readonly string[], kind: ShareKind): Promise<SegmentMeta[]> {
    const resolve = () => ids.map((id) => this.manifest.state.entry(tenant, id)?.meta);
    let metas = resolve();
    if (metas.some((m) => !m)) {
      // The caller's view may be ahead of ours: catch up once before giving up.
      await this.manifest.syncToLatest();
      metas = resolve();
    }
    const missing = ids.filter((_, i) => !metas[i]);
    if (missing.length > 0) throw FirnError.unavailable(`segments unknown to this querier: ${missing.slice(0, 3).join(', ')}`);
    this.metrics.servedSegments.inc({ kind }, metas.length);
    this.log.debug({ segments: metas.length, kind }, 'served a partial query');
    return metas.filter((m) => m !== undefined);
  }

  private async servePartial(req: firnQueryV1.PartialRequest, ctx: HandlerContext): Promise<firnQueryV1.PartialResponse> {
    const tenant = internalTenantOf(ctx);
    const segments = await this.resolveSegments(tenant, req.segmentIds, 'stacks');
    const partial = await this.scan(segments.length, () =>
      this.engine.partial(tenant, req.selector, Number(req.startMs), Number(req.endMs), {
        segments,
        signal: ctx.signal,
        groupBy: req.groupBy,
        spanIds: req.spanIds.length > 0 ? req.spanIds : undefined,
      }),
    );
    return create(firnQueryV1.PartialResponseSchema, { partial: encodePartial(partial), segments: segments.length });
  }

  private async serveSeries(req: firnQueryV1.PartialSeriesRequest, ctx: HandlerContext): Promise<firnQueryV1.PartialSeriesResponse> {
    const tenant = internalTenantOf(ctx);
    const segments = await this.resolveSegments(tenant, req.segmentIds, 'series');
    const sumBy = req.keepAllLabels ? undefined : req.sumBy;
    const buckets = await this.scan(segments.length, () =>
      this.engine.series(tenant, req.selector, Number(req.startMs), Number(req.endMs), Number(req.stepMs), sumBy, { segments, signal: ctx.signal }),
    );
    return create(firnQueryV1.PartialSeriesResponseSchema, {
      series: seriesToColumns(buckets).map((c) =>
        create(firnQueryV1.PartialSeriesSchema, {
          labels: c.labels.map(([name, value]) => create(firnQueryV1.SeriesLabelSchema, { name, value })),
          bucketMs: c.bucketMs.map(BigInt),
          values: c.values,
          counts: c.counts.map(BigInt),
          durationNs: c.durationNs,
        }),
      ),
      segments: segments.length,
    });
  }

  private async serveLabelNames(req: firnQueryV1.PartialLabelNamesRequest, ctx: HandlerContext): Promise<firnQueryV1.PartialLabelNamesResponse> {
    const tenant = internalTenantOf(ctx);
    const segments = await this.resolveSegments(tenant, req.segmentIds, 'label_names');
    const names = await this.scan(segments.length, () => this.engine.scanLabelNames(segments, labelQueryOf(req), { signal: ctx.signal }));
    names.delete('');
    return create(firnQueryV1.PartialLabelNamesResponseSchema, { names: [...names], segments: segments.length });
  }

  private async serveLabelValues(req: firnQueryV1.PartialLabelValuesRequest, ctx: HandlerContext): Promise<firnQueryV1.PartialLabelValuesResponse> {
    const tenant = internalTenantOf(ctx);
    if (!req.name) throw FirnError.invalidArgument('name is required');
    const segments = await this.resolveSegments(tenant, req.segmentIds, 'label_values');
    const values = await this.scan(segments.length, () => this.engine.scanLabelValues(segments, req.name, labelQueryOf(req), { signal: ctx.signal }));
    values.delete('');
    return create(firnQueryV1.PartialLabelValuesResponseSchema, { values: [...values], segments: segments.length });
  }
}

function wireLabelQuery(q: LabelQuery): { startMs: bigint; endMs: bigint; profileType: string; matchers: firnQueryV1.LabelMatcher[] } {
  return {
    startMs: BigInt(q.startMs),
    endMs: BigInt(q.endMs),
    profileType: q.profileType ?? '',
    matchers: (q.matchers ?? []).map((m) => create(firnQueryV1.LabelMatcherSchema, { name: m.name, op: m.op, value: m.value })),
  };
}

/** A peer's label query; ops are checked because the engine trusts its matchers. */
function labelQueryOf(req: { startMs: bigint; endMs: bigint; profileType: string; matchers: firnQueryV1.LabelMatcher[] }): LabelQuery {
  const matchers = req.matchers.map((m): LabelMatcher => {
    if (!MATCH_OPS.has(m.op)) throw FirnError.invalidArgument(`matcher on ${JSON.stringify(m.name)} has unknown op ${JSON.stringify(m.op)}`);
    return { name: m.name, op: m.op as LabelMatcher['op'], value: m.value };
  });
  return { startMs: Number(req.startMs), endMs: Number(req.endMs), profileType: req.profileType || undefined, matchers };
}

import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import { create } from '@bufbuild/protobuf';
import { Code, ConnectError, type HandlerContext } from '@connectrpc/connect';
import { FirnError } from '@firn/errors';
import { TOKEN_STORE } from '@firn/platform';
import { normalizeSpanId, parseProfileType } from '@firn/profiles';
import { googleV1, querierV1, typesV1 } from '@firn/proto';
import { QueryEngine, seriesLabels, type SeriesBuckets } from '@firn/query';
import { pyroscopeFlameGraph, pyroscopeFlameGraphDiff, stackProfileToPprofMessage, type StackProfile } from '@firn/reports';
import { RpcRegistry, binaryResponse } from '@firn/server-runtime';
import { Scope, principalOf, type TenantId, type TokenStore } from '@firn/tenancy';
import { queryAuthInterceptor } from './internal-auth';
import { QUERY_ENGINE } from './querier.options';
import { QueryFrontend } from './query-frontend';
import { QueryLimits } from './query-limits';
import { checkedRange } from './query-range';
import { setLevels } from './flame-graph-levels';
import {
  engineSelector,
  parsePyroscopeSelectors,
  privateLabelsOf,
  pyroscopeId,
  isPrivateLabel,
  typeMatches,
  PRIVATE_LABELS,
  type PyroscopeSelection,
} from './pyroscope-selection';

const P = querierV1;
const T = typesV1;
const DEFAULT_MAX_NODES = 8192;

interface Range {
  startMs: number;
  endMs: number;
}

/** One side of a merge: what to scan, or nothing when the selection cannot match. */
interface MergeTarget {
  profileType: string;
  selector?: string;
  range: Range;
}

/** A span id of a span selector: 16 hex digits, as Pyroscope requires; stored lower case. */
function spanIdOf(s: string): string {
  const id = normalizeSpanId(s);
  if (id === undefined) throw FirnError.invalidArgument(`span selector ${JSON.stringify(s.slice(0, 40))} is not a span id (16 hex digits)`);
  return id;
}

function emptyProfile(profileType: string): StackProfile {
  return { profileType, stacks: [], values: new Float64Array(0), total: 0 };
}

/** Pyroscope orders label sets pairwise by name, then value. */
function compareLabelPairs(a: ReadonlyArray<readonly [string, string]>, b: ReadonlyArray<readonly [string, string]>): number {
  for (let i = 0; i < a.length && i < b.length; i++) {
    if (a[i][0] !== b[i][0]) return a[i][0] < b[i][0] ? -1 : 1;
    if (a[i][1] !== b[i][1]) return a[i][1] < b[i][1] ? -1 : 1;
  }
  return a.length - b.length;
}

/**
 * Pyroscope's querier.v1.QuerierService as Grafana's Pyroscope data source (and Pyroscope's own
 * UI and tools) call it, over Connect and gRPC, scoped to the token's tenant. Behaviour follows
 * Pyroscope's query frontend where Grafana depends on it: an empty selection or a range without
 * data is an empty result (a flame graph of total 0, no series), never an error; selectors may
 * carry a profile type id before the braces and Pyroscope's private labels (`__profile_type__`,
 * `__name__`, `__type__`, …); `limit` keeps the top series. Differences are listed in the querier
 * README.
 */
@Injectable()
export class PyroscopeQuerierRpc implements OnModuleInit {
  constructor(
    private readonly rpc: RpcRegistry,
    @Inject(QUERY_ENGINE) private readonly engine: QueryEngine,
    @Inject(TOKEN_STORE) private readonly tokens: TokenStore,
    private readonly frontend: QueryFrontend,
    private readonly limits: QueryLimits,
  ) {}

  onModuleInit(): void {
    this.rpc.add(
      P.QuerierService,
      {
        profileTypes: (req, ctx) => this.profileTypes(req, ctx),
        labelNames: (req, ctx) => this.labelNames(req, ctx),
        labelValues: (req, ctx) => this.labelValues(req, ctx),
        series: (req, ctx) => this.series(req, ctx),
        selectMergeStacktraces: (req, ctx) => this.selectMergeStacktraces(req, ctx),
        selectMergeProfile: (req, ctx) => this.selectMergeProfile(req, ctx),
        selectMergeSpanProfile: (req, ctx) => this.selectMergeSpanProfile(req, ctx),
        selectSeries: (req, ctx) => this.selectSeries(req, ctx),
        diff: (req, ctx) => this.diff(req, ctx),
        getProfileStats: (req, ctx) => this.getProfileStats(req, ctx),
        analyzeQuery: (req, ctx) => this.analyzeQuery(req, ctx),
      },
      { interceptors: [queryAuthInterceptor(this.tokens, Scope.ReadProfiles, this.frontend.internalToken), this.limits.interceptor()] },
    );
  }

  private tenant(ctx: HandlerContext): TenantId {
    return principalOf(ctx, Scope.ReadProfiles).tenant;
  }

  /** Pyroscope ranges are ms, inclusive; an end of 0 means now. */
  private range(start: bigint, end: bigint, limited: boolean): Range {
    return checkedRange(Number(start), end === 0n ? Date.now() : Number(end), limited ? this.limits.current().maxQueryRangeMs : undefined);
  }

  /** The tenant's stored profile types in the range that satisfy the selection's private-label matchers. */
  private typesOf(tenant: TenantId, sel: PyroscopeSelection, r: Range): string[] {
    return this.engine.profileTypes(tenant, r).filter((t) => typeMatches(t, sel.typeMatchers));
  }

  /**
   * What a merge over `profileTypeID` and `labelSelector` scans. A profile type with no data in
   * the range, or private-label matchers it fails, select nothing: an empty result, as in
   * Pyroscope (Firn's Parca API reports an unknown type as an error; Pyroscope clients expect none).
   */
  private mergeTarget(tenant: TenantId, profileTypeID: string, labelSelector: string, r: Range): MergeTarget {
    if (!profileTypeID) throw FirnError.invalidArgument('profile_typeID is required (<name>:<sample_type>:<sample_unit>:<period_type>:<period_unit>)');
    const wanted = pyroscopeId(profileTypeID);
    const sel = parsePyroscopeSelectors([labelSelector]);
    const stored = this.engine.profileTypes(tenant, r).find((t) => t === profileTypeID || pyroscopeId(t) === wanted);
    if (!stored || !typeMatches(stored, sel.typeMatchers)) return { profileType: profileTypeID, range: r };
    return { profileType: stored, selector: engineSelector(stored, sel.matchers), range: r };
  }

  private async merged(
    tenant: TenantId,
    req: {
      profileTypeID: string;
      labelSelector: string;
      start: bigint;
      end: bigint;
      stackTraceSelector?: unknown;
      profileIdSelector?: string[];
      traceIdSelector?: string[];
    },
    ctx: HandlerContext,
    spanSelector: readonly string[] = [],
  ): Promise<StackProfile> {
    if ((req.traceIdSelector?.length ?? 0) > 0 && spanSelector.length > 0)
      throw FirnError.invalidArgument('span_selector and trace_id_selector cannot be combined');
    if (req.stackTraceSelector || (req.profileIdSelector?.length ?? 0) > 0 || (req.traceIdSelector?.length ?? 0) > 0) {
      throw new ConnectError('stack trace, profile id and trace id selectors are not supported (trace ids are not stored; span ids are)', Code.Unimplemented);
    }
    const spanIds = spanSelector.length > 0 ? spanSelector.map(spanIdOf) : undefined;
    const target = this.mergeTarget(tenant, req.profileTypeID, req.labelSelector, this.range(req.start, req.end, true));
    if (!target.selector) return emptyProfile(target.profileType);
    const signal = this.frontend.deadline(ctx);
    const selection = { selector: target.selector, ...target.range, spanIds };
    return this.frontend.withDeadline(signal, () => this.frontend.mergeStacks(tenant, selection, signal));
  }

  /** The flame graph message; for a binary response its levels go as encoded bytes (see setLevels). */
  private flameGraph(profile: StackProfile, maxNodes: bigint | undefined, ctx: HandlerContext): querierV1.FlameGraph {
    const fg = pyroscopeFlameGraph(profile, { maxNodes: this.limits.maxNodes(Number(maxNodes ?? BigInt(DEFAULT_MAX_NODES))) });
    const msg = create(P.FlameGraphSchema, { names: fg.names, total: BigInt(Math.round(fg.total)), maxSelf: BigInt(Math.round(fg.maxSelf)) });
    setLevels(msg, fg.levels, binaryResponse(ctx));
    return msg;
  }

  private pprof(profile: StackProfile, r: Range): googleV1.Profile {
    return stackProfileToPprofMessage(profile, { startMs: r.startMs, endMs: r.endMs - 1 });
  }

  async profileTypes(req: querierV1.ProfileTypesRequest, ctx: HandlerContext): Promise<querierV1.ProfileTypesResponse> {
    const tenant = this.tenant(ctx);
    const r = this.range(req.start, req.end, false);
    const byId = new Map<string, typesV1.ProfileType>();
    for (const t of this.engine.profileTypes(tenant, r)) {
      const id = pyroscopeId(t);
      const p = parseProfileType(t);
      byId.set(
        id,
        create(T.ProfileTypeSchema, {
          ID: id,
          name: p.name,
          sampleType: p.sampleType,
          sampleUnit: p.sampleUnit,
          periodType: p.periodType,
          periodUnit: p.periodUnit,
        }),
      );
    }
    return create(P.ProfileTypesResponseSchema, { profileTypes: [...byId.keys()].sort().map((id) => byId.get(id) as typesV1.ProfileType) });
  }

  async labelNames(req: typesV1.LabelNamesRequest, ctx: HandlerContext): Promise<typesV1.LabelNamesResponse> {
    const tenant = this.tenant(ctx);
    const r = this.range(req.start, req.end, false);
    const sel = parsePyroscopeSelectors(req.matchers);
    const types = sel.typeMatchers.length > 0 ? this.typesOf(tenant, sel, r) : [undefined];
    const names = new Set<string>();
    for (const profileType of types) {
      for (const n of await this.frontend.labelNames(tenant, { ...r, profileType, matchers: sel.matchers }, ctx.signal)) names.add(n);
    }
    // Every stored series has the private labels Pyroscope derives from its profile type.
    if (names.size > 0) for (const n of PRIVATE_LABELS) names.add(n);
    return create(T.LabelNamesResponseSchema, { names: [...names].sort() });
  }

  async labelValues(req: typesV1.LabelValuesRequest, ctx: HandlerContext): Promise<typesV1.LabelValuesResponse> {
    const tenant = this.tenant(ctx);
    if (!req.name) throw FirnError.invalidArgument('name is required');
    const r = this.range(req.start, req.end, false);
    const sel = parsePyroscopeSelectors(req.matchers);
    const values = new Set<string>();
    if (isPrivateLabel(req.name)) {
      for (const t of this.typesOf(tenant, sel, r)) {
        // With series matchers, only profile types some matching series has.
        if (sel.matchers.length > 0 && (await this.frontend.labelNames(tenant, { ...r, profileType: t, matchers: sel.matchers }, ctx.signal)).length === 0)
          continue;
        const v = privateLabelsOf(t).find(([n]) => n === req.name)?.[1];
        if (v) values.add(v);
      }
    } else {
      const types = sel.typeMatchers.length > 0 ? this.typesOf(tenant, sel, r) : [undefined];
      for (const profileType of types) {
        for (const v of await this.frontend.labelValues(tenant, req.name, { ...r, profileType, matchers: sel.matchers }, ctx.signal)) values.add(v);
      }
    }
    return create(T.LabelValuesResponseSchema, { names: [...values].sort() });
  }

  async series(req: querierV1.SeriesRequest, ctx: HandlerContext): Promise<querierV1.SeriesResponse> {
    const tenant = this.tenant(ctx);
    const r = this.range(req.start, req.end, true);
    const sel = parsePyroscopeSelectors(req.matchers);
    const want = (n: string) => req.labelNames.length === 0 || req.labelNames.includes(n);
    const sets = new Map<string, Array<[string, string]>>();
    const signal = this.frontend.deadline(ctx);
    const seriesLabelNames = req.labelNames.filter((n) => !isPrivateLabel(n));
    for (const pt of this.typesOf(tenant, sel, r)) {
      const s = { selector: engineSelector(pt, sel.matchers), ...r };
      const buckets = await this.frontend.withDeadline(signal, () =>
        this.frontend.series(tenant, s, Math.max(1, r.endMs - r.startMs), req.labelNames.length ? seriesLabelNames : undefined, signal),
      );
      for (const key of buckets.keys()) {
        const labels = [...seriesLabels(key), ...privateLabelsOf(pt)].filter(([n]) => want(n)).sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
        sets.set(JSON.stringify(labels), labels);
      }
    }
    const ordered = [...sets.values()].sort(compareLabelPairs);
    return create(P.SeriesResponseSchema, {
      labelsSet: ordered.map((labels) => create(T.LabelsSchema, { labels: labels.map(([name, value]) => create(T.LabelPairSchema, { name, value })) })),
    });
  }

  async selectMergeStacktraces(req: querierV1.SelectMergeStacktracesRequest, ctx: HandlerContext): Promise<querierV1.SelectMergeStacktracesResponse> {
    const tenant = this.tenant(ctx);
    if (req.format === P.ProfileFormat.TREE || req.format === P.ProfileFormat.DOT) {
      throw new ConnectError('formats TREE and DOT are not supported: use FLAMEGRAPH or PPROF', Code.Unimplemented);
    }
    const profile = await this.merged(tenant, req, ctx, req.spanSelector);
    if (req.format === P.ProfileFormat.PPROF) {
      return create(P.SelectMergeStacktracesResponseSchema, {
        pprof: create(P.PprofProfileSchema, { profile: this.pprof(profile, this.range(req.start, req.end, true)) }),
      });
    }
    return create(P.SelectMergeStacktracesResponseSchema, { flamegraph: this.flameGraph(profile, req.maxNodes, ctx) });
  }

  /**
   * Span profiles (Grafana's trace → profile links, Tempo span → flame graph): the merged
   * samples of the given span ids only. Span ids come from the `span_id` pprof labels the SDKs'
   * OpenTelemetry integrations write; they are stored per row, not as series labels.
   */
  async selectMergeSpanProfile(req: querierV1.SelectMergeSpanProfileRequest, ctx: HandlerContext): Promise<querierV1.SelectMergeSpanProfileResponse> {
    const tenant = this.tenant(ctx);
    if (req.format === P.ProfileFormat.TREE) throw new ConnectError('format TREE is not supported: use FLAMEGRAPH', Code.Unimplemented);
    const profile = await this.merged(tenant, req, ctx, req.spanSelector);
    return create(P.SelectMergeSpanProfileResponseSchema, { flamegraph: this.flameGraph(profile, req.maxNodes, ctx) });
  }

  async selectMergeProfile(req: querierV1.SelectMergeProfileRequest, ctx: HandlerContext): Promise<googleV1.Profile> {
    const tenant = this.tenant(ctx);
    const profile = await this.merged(tenant, req, ctx);
    return this.pprof(profile, this.range(req.start, req.end, true));
  }

  async selectSeries(req: querierV1.SelectSeriesRequest, ctx: HandlerContext): Promise<querierV1.SelectSeriesResponse> {
    const tenant = this.tenant(ctx);
    if (req.stackTraceSelector) throw new ConnectError('stack trace selectors are not supported', Code.Unimplemented);
    if (req.aggregation === T.TimeSeriesAggregationType.AVERAGE) {
      throw FirnError.invalidArgument('aggregation AVERAGE is not supported (Firn sums the values of each step)');
    }
    const r = this.range(req.start, req.end, true);
    if (!(req.step > 0)) throw FirnError.invalidArgument('step (seconds) must be positive');
    const target = this.mergeTarget(tenant, req.profileTypeID, req.labelSelector, r);
    if (!target.selector) return create(P.SelectSeriesResponseSchema, { series: [] });
    const stepMs = Math.max(1, Math.round(req.step * 1000));
    const signal = this.frontend.deadline(ctx);
    const sel = { selector: target.selector, ...r };
    const buckets = await this.frontend.withDeadline(signal, () => this.frontend.series(tenant, sel, stepMs, req.groupBy, signal));
    return create(P.SelectSeriesResponseSchema, { series: topSeries(buckets, Number(req.limit ?? 0n)) });
  }

  async diff(req: querierV1.DiffRequest, ctx: HandlerContext): Promise<querierV1.DiffResponse> {
    const tenant = this.tenant(ctx);
    if (!req.left || !req.right) throw FirnError.invalidArgument('diff needs both left and right');
    const left = this.mergeTarget(tenant, req.left.profileTypeID, req.left.labelSelector, this.range(req.left.start, req.left.end, true));
    const right = this.mergeTarget(tenant, req.right.profileTypeID, req.right.labelSelector, this.range(req.right.start, req.right.end, true));
    const signal = this.frontend.deadline(ctx);
    const run = <R>(fn: () => Promise<R>) => this.frontend.withDeadline(signal, fn);
    const sel = (t: MergeTarget) => ({ selector: t.selector as string, ...t.range });
    let profile: StackProfile;
    if (left.selector && right.selector) profile = await run(() => this.frontend.diff(tenant, sel(left), sel(right), signal));
    else if (right.selector) profile = { ...(await run(() => this.frontend.mergeStacks(tenant, sel(right), signal))) };
    else if (left.selector) {
      // Only the baseline has data: its stacks with nothing on the right.
      const l = await run(() => this.frontend.mergeStacks(tenant, sel(left), signal));
      profile = { profileType: right.profileType, stacks: l.stacks, values: new Float64Array(l.stacks.length), total: 0, base: l.values };
    } else profile = emptyProfile(right.profileType);
    profile.base ??= new Float64Array(profile.stacks.length);
    const fg = pyroscopeFlameGraphDiff(profile, { maxNodes: this.limits.maxNodes(Number(req.right.maxNodes ?? BigInt(DEFAULT_MAX_NODES))) });
    const flamegraph = create(P.FlameGraphDiffSchema, {
      names: fg.names,
      total: BigInt(Math.round(fg.total)),
      maxSelf: BigInt(Math.round(fg.maxSelf)),
      leftTicks: BigInt(Math.round(fg.leftTicks)),
      rightTicks: BigInt(Math.round(fg.rightTicks)),
    });
    setLevels(flamegraph, fg.levels, binaryResponse(ctx));
    return create(P.DiffResponseSchema, { flamegraph });
  }

  /**
   * What the tenant has stored, from the manifest (no object is read). Like Pyroscope: without
   * data, `data_ingested` is false and the times are the int64 extremes.
   */
  async getProfileStats(_req: typesV1.GetProfileStatsRequest, ctx: HandlerContext): Promise<typesV1.GetProfileStatsResponse> {
    const tenant = this.tenant(ctx);
    let oldest = BigInt('9223372036854775807');
    let newest = BigInt('-9223372036854775808');
    const segments = this.engine.segmentsIn(tenant, { startMs: 0, endMs: Number.MAX_SAFE_INTEGER });
    for (const s of segments) {
      const min = s.minTimeUnixNano / 1_000_000n;
      const max = s.maxTimeUnixNano / 1_000_000n;
      if (min < oldest) oldest = min;
      if (max > newest) newest = max;
    }
    return create(T.GetProfileStatsResponseSchema, { dataIngested: segments.length > 0, oldestProfileTime: oldest, newestProfileTime: newest });
  }

  /**
   * What a query would read, from the manifest plan (Pyroscope v1's answer; v2 answers empty):
   * one scope, Firn's segments in object storage, and the number of series it would touch.
   */
  async analyzeQuery(req: querierV1.AnalyzeQueryRequest, ctx: HandlerContext): Promise<querierV1.AnalyzeQueryResponse> {
    const tenant = this.tenant(ctx);
    if (req.start === 0n || req.end === 0n) return create(P.AnalyzeQueryResponseSchema, {});
    const r = this.range(req.start, req.end, false);
    const sel = parsePyroscopeSelectors([req.query]);
    const segments = new Map<string, { rows: bigint; samples: bigint; bytes: bigint }>();
    for (const t of this.typesOf(tenant, sel, r)) {
      for (const s of this.engine.segmentsIn(tenant, { ...r, profileType: t, matchers: sel.matchers })) segments.set(s.id, s);
    }
    let rows = 0n;
    let samples = 0n;
    let bytes = 0n;
    for (const s of segments.values()) {
      rows += s.rows;
      samples += s.samples;
      bytes += s.bytes;
    }
    const series = await this.series(create(P.SeriesRequestSchema, { matchers: [req.query], start: req.start, end: req.end }), ctx);
    const seriesCount = BigInt(series.labelsSet.length);
    return create(P.AnalyzeQueryResponseSchema, {
      queryScopes: [
        create(P.QueryScopeSchema, {
          componentType: 'Object storage segments',
          componentCount: segments.size > 0 ? 1n : 0n,
          blockCount: BigInt(segments.size),
          seriesCount,
          profileCount: rows,
          sampleCount: samples,
          profileBytes: bytes,
        }),
      ],
      queryImpact: create(P.QueryImpactSchema, { totalBytesInTimeRange: bytes, totalQueriedSeries: seriesCount, deduplicationNeeded: false }),
    });
  }
}

/**
 * Series points (labels sorted, points by time), the `limit` series with the largest sums first
 * when a limit is set (ties by labels), as Pyroscope's TopSeries; otherwise in label order.
 */
function topSeries(buckets: SeriesBuckets, limit: number): typesV1.Series[] {
  const all = [...buckets].map(([key, points]) => {
    const labels = seriesLabels(key);
    const pts = [...points].sort(([a], [b]) => a - b);
    let sum = 0;
    for (const [, p] of pts) sum += p.value;
    return { labels, pts, sum };
  });
  all.sort((a, b) => compareLabelPairs(a.labels, b.labels));
  let kept = all;
  if (limit > 0 && all.length > limit) kept = [...all].sort((a, b) => b.sum - a.sum || compareLabelPairs(a.labels, b.labels)).slice(0, limit);
  return kept.map((s) =>
    create(T.SeriesSchema, {
      labels: s.labels.map(([name, value]) => create(T.LabelPairSchema, { name, value })),
      points: s.pts.map(([ts, p]) => create(T.PointSchema, { timestamp: BigInt(ts), value: p.value })),
    }),
  );
}

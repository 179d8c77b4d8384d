import { gunzipSync } from 'node:zlib';
import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import { create, fromBinary } from '@bufbuild/protobuf';
import { Code, ConnectError, type HandlerContext } from '@connectrpc/connect';
import { FirnError } from '@firn/errors';
import { TOKEN_STORE } from '@firn/platform';
import { formatProfileType, parseMatchers, parseProfileType, type LabelMatcher } from '@firn/profiles';
import { googleV1, querierV1, typesV1 } from '@firn/proto';
import { QueryEngine, seriesLabels } from '@firn/query';
import { pyroscopeFlameGraph, pyroscopeFlameGraphDiff, stackProfileToPprof, type StackProfile } from '@firn/reports';
import { RpcRegistry } from '@firn/server-runtime';
import { Scope, principalOf, type TenantId, type TokenStore } from '@firn/tenancy';
import { queryAuthInterceptor } from './internal-auth';
import { QUERY_ENGINE } from './querier.options';
import { QueryFrontend } from './query-frontend';
import { QueryLimits } from './query-limits';
import { checkedRange } from './query-range';

const P = querierV1;
const T = typesV1;
const PROFILE_TYPE_LABEL = '__profile_type__';
const DEFAULT_MAX_NODES = 8192;

/** Pyroscope's profile type id has no `:delta` suffix. */
function pyroscopeId(stored: string): string {
  const t = parseProfileType(stored);
  return `${t.name}:${t.sampleType}:${t.sampleUnit}:${t.periodType}:${t.periodUnit}`;
}

/**
 * The subset of Pyroscope's querier.v1.QuerierService that Grafana's Pyroscope data source
 * uses, over Connect: profile types, label names/values, series, merged flame graphs
 * (names/levels), series over time, merged pprof and diffs. Scoped to the token's tenant.
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
        selectSeries: (req, ctx) => this.selectSeries(req, ctx),
        diff: (req, ctx) => this.diff(req, ctx),
      },
      { interceptors: [queryAuthInterceptor(this.tokens, Scope.ReadProfiles, this.frontend.internalToken), this.limits.interceptor()] },
    );
  }

  private tenant(ctx: HandlerContext): TenantId {
    return principalOf(ctx, Scope.ReadProfiles).tenant;
  }

  /** Pyroscope ranges are ms; an end of 0 means now. */
  private range(start: bigint, end: bigint, limited: boolean): { startMs: number; endMs: number } {
    return checkedRange(Number(start), end === 0n ? Date.now() : Number(end), limited ? this.limits.current().maxQueryRangeMs : undefined);
  }

  /** A stored profile type for a Pyroscope id (ids drop `:delta`). */
  private storedType(tenant: TenantId, id: string, r: { startMs: number; endMs: number }): string {
    if (!id) throw FirnError.invalidArgument('profile_typeID is required');
    const stored = this.engine.profileTypes(tenant, r).find((t) => t === id || pyroscopeId(t) === id);
    return stored ?? formatProfileType(parseProfileType(id));
  }

  /** Splits `{…}` matchers into the profile type (from __profile_type__) and the rest. */
  private matchers(tenant: TenantId, selectors: readonly string[], r: { startMs: number; endMs: number }): { profileType?: string; matchers: LabelMatcher[] } {
    const all = selectors.filter((s) => s.trim() !== '').flatMap((s) => parseMatchers(s));
    const pt = all.find((m) => m.name === PROFILE_TYPE_LABEL && m.op === '=');
    return { profileType: pt ? this.storedType(tenant, pt.value, r) : undefined, matchers: all.filter((m) => m.name !== PROFILE_TYPE_LABEL) };
  }

  private selector(profileType: string, labelSelector: string): string {
    const inner = labelSelector.trim() === '' ? '{}' : labelSelector.trim();
    const ms = parseMatchers(inner).filter((m) => m.name !== PROFILE_TYPE_LABEL);
    const body = ms.map((m) => `${m.name}${m.op}${JSON.stringify(m.value)}`).join(',');
    return `${profileType}{${body}}`;
  }

  async profileTypes(req: querierV1.ProfileTypesRequest, ctx: HandlerContext): Promise<querierV1.ProfileTypesResponse> {
    const tenant = this.tenant(ctx);
    const r = this.range(req.start, req.end, false);
    const types = this.engine.profileTypes(tenant, r);
    return create(P.ProfileTypesResponseSchema, {
      profileTypes: types.map((t) => {
        const p = parseProfileType(t);
        return create(T.ProfileTypeSchema, { ID: pyroscopeId(t), name: p.name, sampleType: p.sampleType, sampleUnit: p.sampleUnit, periodType: p.periodType, periodUnit: p.periodUnit });
      }),
    });
  }

  async labelNames(req: typesV1.LabelNamesRequest, ctx: HandlerContext): Promise<typesV1.LabelNamesResponse> {
    const tenant = this.tenant(ctx);
    const r = this.range(req.start, req.end, false);
    const m = this.matchers(tenant, req.matchers, r);
    const names = await this.frontend.labelNames(tenant, { ...r, ...m }, ctx.signal);
    return create(T.LabelNamesResponseSchema, { names: [...new Set([PROFILE_TYPE_LABEL, ...names])].sort() });
  }

  async labelValues(req: typesV1.LabelValuesRequest, ctx: HandlerContext): Promise<typesV1.LabelValuesResponse> {
    const tenant = this.tenant(ctx);
    const r = this.range(req.start, req.end, false);
    if (req.name === PROFILE_TYPE_LABEL) {
      return create(T.LabelValuesResponseSchema, { names: this.engine.profileTypes(tenant, r).map(pyroscopeId).sort() });
    }
    const m = this.matchers(tenant, req.matchers, r);
    const values = await this.frontend.labelValues(tenant, req.name, { ...r, ...m }, ctx.signal);
    return create(T.LabelValuesResponseSchema, { names: values });
  }

  async series(req: querierV1.SeriesRequest, ctx: HandlerContext): Promise<querierV1.SeriesResponse> {
    const tenant = this.tenant(ctx);
    const r = this.range(req.start, req.end, true);
    const m = this.matchers(tenant, req.matchers, r);
    const types = m.profileType ? [m.profileType] : this.engine.profileTypes(tenant, r);
    const sets = new Map<string, typesV1.Labels>();
    const signal = this.frontend.deadline(ctx);
    for (const pt of types) {
      const body = m.matchers.map((x) => `${x.name}${x.op}${JSON.stringify(x.value)}`).join(',');
      const sel = { selector: `${pt}{${body}}`, ...r };
      const buckets = await this.frontend.withDeadline(signal, () => this.frontend.series(tenant, sel, Math.max(1, r.endMs - r.startMs), req.labelNames.length ? req.labelNames : undefined, signal));
      for (const key of buckets.keys()) {
        const labels = [...seriesLabels(key), [PROFILE_TYPE_LABEL, pyroscopeId(pt)] as [string, string]].filter(([n]) => req.labelNames.length === 0 || req.labelNames.includes(n));
        const k = JSON.stringify(labels);
        if (!sets.has(k)) sets.set(k, create(T.LabelsSchema, { labels: labels.map(([name, value]) => create(T.LabelPairSchema, { name, value })) }));
      }
    }
    return create(P.SeriesResponseSchema, { labelsSet: [...sets.values()] });
  }

  private async merged(tenant: TenantId, req: querierV1.SelectMergeStacktracesRequest | querierV1.SelectMergeProfileRequest, ctx: HandlerContext): Promise<StackProfile> {
    if (req.stackTraceSelector || req.profileIdSelector.length > 0) throw new ConnectError('stack trace and profile id selectors are not supported yet', Code.Unimplemented);
    const r = this.range(req.start, req.end, true);
    const pt = this.storedType(tenant, req.profileTypeID, r);
    const signal = this.frontend.deadline(ctx);
    return this.frontend.withDeadline(signal, () => this.frontend.mergeStacks(tenant, { selector: this.selector(pt, req.labelSelector), ...r }, signal));
  }

  async selectMergeStacktraces(req: querierV1.SelectMergeStacktracesRequest, ctx: HandlerContext): Promise<querierV1.SelectMergeStacktracesResponse> {
    const tenant = this.tenant(ctx);
    if (req.format !== P.ProfileFormat.UNSPECIFIED && req.format !== P.ProfileFormat.FLAMEGRAPH) {
      throw new ConnectError('only the flame graph format is supported', Code.Unimplemented);
    }
    const profile = await this.merged(tenant, req, ctx);
    const fg = pyroscopeFlameGraph(profile, { maxNodes: this.limits.maxNodes(Number(req.maxNodes ?? BigInt(DEFAULT_MAX_NODES))) });
    return create(P.SelectMergeStacktracesResponseSchema, {
      flamegraph: create(P.FlameGraphSchema, {
        names: fg.names,
        levels: fg.levels.map((l) => create(P.LevelSchema, { values: l.values.map((v) => BigInt(Math.round(v))) })),
        total: BigInt(Math.round(fg.total)),
        maxSelf: BigInt(Math.round(fg.maxSelf)),
      }),
    });
  }

  async selectMergeProfile(req: querierV1.SelectMergeProfileRequest, ctx: HandlerContext): Promise<googleV1.Profile> {
    const tenant = this.tenant(ctx);
    const profile = await this.merged(tenant, req, ctx);
    const r = this.range(req.start, req.end, true);
    return fromBinary(googleV1.ProfileSchema, gunzipSync(stackProfileToPprof(profile, { startMs: r.startMs, endMs: r.endMs - 1 })));
  }

  async selectSeries(req: querierV1.SelectSeriesRequest, ctx: HandlerContext): Promise<querierV1.SelectSeriesResponse> {
    const tenant = this.tenant(ctx);
    if (req.stackTraceSelector) throw new ConnectError('stack trace selectors are not supported yet', Code.Unimplemented);
    const r = this.range(req.start, req.end, true);
    if (!(req.step > 0)) throw FirnError.invalidArgument('step (seconds) must be positive');
    const pt = this.storedType(tenant, req.profileTypeID, r);
    const stepMs = Math.max(1, Math.round(req.step * 1000));
    const signal = this.frontend.deadline(ctx);
    const sel = { selector: this.selector(pt, req.labelSelector), ...r };
    const buckets = await this.frontend.withDeadline(signal, () => this.frontend.series(tenant, sel, stepMs, req.groupBy, signal));
    return create(P.SelectSeriesResponseSchema, {
      series: [...buckets].map(([key, points]) =>
        create(T.SeriesSchema, {
          labels: seriesLabels(key).map(([name, value]) => create(T.LabelPairSchema, { name, value })),
          points: [...points].sort(([a], [b]) => a - b).map(([ts, p]) => create(T.PointSchema, { timestamp: BigInt(ts), value: p.value })),
        }),
      ),
    });
  }

  async diff(req: querierV1.DiffRequest, ctx: HandlerContext): Promise<querierV1.DiffResponse> {
    const tenant = this.tenant(ctx);
    if (!req.left || !req.right) throw FirnError.invalidArgument('diff needs both left and right');
    const side = (s: querierV1.SelectMergeStacktracesRequest): { selector: string; startMs: number; endMs: number } => {
      const r = this.range(s.start, s.end, true);
      return { selector: this.selector(this.storedType(tenant, s.profileTypeID, r), s.labelSelector), ...r };
    };
    const signal = this.frontend.deadline(ctx);
    const profile = await this.frontend.withDeadline(signal, () => this.frontend.diff(tenant, side(req.left as querierV1.SelectMergeStacktracesRequest), side(req.right as querierV1.SelectMergeStacktracesRequest), signal));
    const fg = pyroscopeFlameGraphDiff(profile, { maxNodes: this.limits.maxNodes(Number(req.right.maxNodes ?? BigInt(DEFAULT_MAX_NODES))) });
    return create(P.DiffResponseSchema, {
      flamegraph: create(P.FlameGraphDiffSchema, {
        names: fg.names,
        levels: fg.levels.map((l) => create(P.LevelSchema, { values: l.values.map((v) => BigInt(Math.round(v))) })),
        total: BigInt(Math.round(fg.total)),
        maxSelf: BigInt(Math.round(fg.maxSelf)),
        leftTicks: BigInt(Math.round(fg.leftTicks)),
        rightTicks: BigInt(Math.round(fg.rightTicks)),
      }),
    });
  }
}

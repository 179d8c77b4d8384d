import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import { create } from '@bufbuild/protobuf';
import { Code, ConnectError, type HandlerContext } from '@connectrpc/connect';
import { FirnError } from '@firn/errors';
import { TOKEN_STORE } from '@firn/platform';
import { parseMatchers, parseProfileType, parseSelector } from '@firn/profiles';
import { profilestoreV1alpha1, queryV1alpha1 } from '@firn/proto';
import { QueryEngine, seriesLabels } from '@firn/query';
import { flamegraphArrow, parcaTop, stackProfileToPprof, tableArrow, type StackProfile } from '@firn/reports';
import { RpcRegistry } from '@firn/server-runtime';
import { Scope, principalOf, type TenantId, type TokenStore } from '@firn/tenancy';
import { queryAuthInterceptor } from './internal-auth';
import { QUERY_ENGINE } from './querier.options';
import { QueryFrontend } from './query-frontend';
import { QueryLimits } from './query-limits';
import { checkedRange } from './query-range';
import { applyFilters } from './stack-filters';
import { durationMs, timestampMs, toTimestamp } from './timestamps';

const Q = queryV1alpha1;
const { QueryRequest_Mode: Mode, QueryRequest_ReportType: Report, ProfileDiffSelection_Mode: DiffMode } = Q;

/** A whole day past "now": the default end when a request leaves it open. */
const FAR_FUTURE_MS = 24 * 3600_000;

/**
 * Parca's QueryService, so Grafana's Parca data source and Parca's own UI/CLI work against Firn:
 * ProfileTypes, Labels, Values, QueryRange and Query (merge, diff, single; flame graph arrow,
 * pprof, top, table arrow). Every call is scoped to the token's tenant.
 */
@Injectable()
export class ParcaQueryRpc implements OnModuleInit {
  constructor(
    private readonly rpc: RpcRegistry,
    @Inject(QUERY_ENGINE) private readonly engine: QueryEngine,
    @Inject(TOKEN_STORE) private readonly tokens: TokenStore,
    private readonly frontend: QueryFrontend,
    private readonly limits: QueryLimits,
  ) {}

  onModuleInit(): void {
    this.rpc.add(
      Q.QueryService,
      {
        profileTypes: (req, ctx) => this.profileTypes(req, ctx),
        labels: (req, ctx) => this.labels(req, ctx),
        values: (req, ctx) => this.values(req, ctx),
        queryRange: (req, ctx) => this.queryRange(req, ctx),
        query: (req, ctx) => this.query(req, ctx),
      },
      { interceptors: [queryAuthInterceptor(this.tokens, Scope.ReadProfiles, this.frontend.internalToken), this.limits.interceptor()] },
    );
  }

  private tenant(ctx: HandlerContext): TenantId {
    return principalOf(ctx, Scope.ReadProfiles).tenant;
  }

  private range(start: number, end: number, limited = true): { startMs: number; endMs: number } {
    return checkedRange(start, end, limited ? this.limits.current().maxQueryRangeMs : undefined);
  }

  async profileTypes(req: queryV1alpha1.ProfileTypesRequest, ctx: HandlerContext): Promise<queryV1alpha1.ProfileTypesResponse> {
    const tenant = this.tenant(ctx);
    const now = Date.now();
    const types = this.engine.profileTypes(tenant, {
      startMs: timestampMs(req.start, 'start', 0),
      endMs: timestampMs(req.end, 'end', now + FAR_FUTURE_MS) + 1,
    });
    return create(Q.ProfileTypesResponseSchema, {
      types: types.map((t) => {
        const p = parseProfileType(t);
        return create(Q.ProfileTypeSchema, {
          name: p.name,
          sampleType: p.sampleType,
          sampleUnit: p.sampleUnit,
          periodType: p.periodType,
          periodUnit: p.periodUnit,
          delta: p.delta,
        });
      }),
    });
  }

  async labels(req: queryV1alpha1.LabelsRequest, ctx: HandlerContext): Promise<queryV1alpha1.LabelsResponse> {
    const tenant = this.tenant(ctx);
    const r = this.range(timestampMs(req.start, 'start', 0), timestampMs(req.end, 'end', Date.now() + FAR_FUTURE_MS), false);
    const names = await this.frontend.labelNames(tenant, { ...r, profileType: req.profileType || undefined, matchers: matchersOf(req.match) }, ctx.signal);
    return create(Q.LabelsResponseSchema, { labelNames: names });
  }

  async values(req: queryV1alpha1.ValuesRequest, ctx: HandlerContext): Promise<queryV1alpha1.ValuesResponse> {
    const tenant = this.tenant(ctx);
    if (!req.labelName) throw FirnError.invalidArgument('label_name is required');
    const r = this.range(timestampMs(req.start, 'start', 0), timestampMs(req.end, 'end', Date.now() + FAR_FUTURE_MS), false);
    const values = await this.frontend.labelValues(
      tenant,
      req.labelName,
      { ...r, profileType: req.profileType || undefined, matchers: matchersOf(req.match) },
      ctx.signal,
    );
    return create(Q.ValuesResponseSchema, { labelValues: values });
  }

  async queryRange(req: queryV1alpha1.QueryRangeRequest, ctx: HandlerContext): Promise<queryV1alpha1.QueryRangeResponse> {
    const tenant = this.tenant(ctx);
    const start = timestampMs(req.start, 'start');
    const end = timestampMs(req.end, 'end');
    const r = this.range(start, end);
    // Grafana sends `limit` (max data points) and no step: spread the range over that many points.
    const points = req.limit > 0 ? req.limit : 300;
    const stepMs = durationMs(req.step) ?? Math.max(10_000, Math.ceil((r.endMs - r.startMs) / points / 1000) * 1000);
    const type = parseSelector(req.query).profileType;
    const signal = this.frontend.deadline(ctx);
    const buckets = await this.frontend.withDeadline(signal, () =>
      this.frontend.series(tenant, { selector: req.query, ...r }, stepMs, req.sumBy.length ? req.sumBy : undefined, signal),
    );
    const series = [...buckets].map(([key, points]) =>
      create(Q.MetricsSeriesSchema, {
        labelset: create(profilestoreV1alpha1.LabelSetSchema, {
          labels: seriesLabels(key).map(([name, value]) => create(profilestoreV1alpha1.LabelSchema, { name, value })),
        }),
        samples: [...points]
          .sort(([a], [b]) => a - b)
          .map(([ts, p]) =>
            create(Q.MetricsSampleSchema, {
              timestamp: toTimestamp(ts),
              value: BigInt(Math.round(p.value)),
              valuePerSecond: p.value / (stepMs / 1000),
              duration: BigInt(Math.round(p.durationNs)),
              count: p.count,
            }),
          ),
        periodType: create(Q.ValueTypeSchema, { type: type.periodType, unit: type.periodUnit }),
        sampleType: create(Q.ValueTypeSchema, { type: type.sampleType, unit: type.sampleUnit }),
      }),
    );
    return create(Q.QueryRangeResponseSchema, { series });
  }

  async query(req: queryV1alpha1.QueryRequest, ctx: HandlerContext): Promise<queryV1alpha1.QueryResponse> {
    const tenant = this.tenant(ctx);
    if (req.filterQuery) throw FirnError.invalidArgument('filter_query is deprecated upstream and not supported; use filter');
    const signal = this.frontend.deadline(ctx);
    return this.frontend.withDeadline(signal, () => this.run(req, tenant, signal));
  }

  private async run(req: queryV1alpha1.QueryRequest, tenant: TenantId, signal: AbortSignal): Promise<queryV1alpha1.QueryResponse> {
    let profile: StackProfile;
    let diff = false;
    let absolute = false;
    switch (req.mode) {
      case Mode.MERGE: {
        if (req.options.case !== 'merge') throw FirnError.invalidArgument('mode MERGE needs the merge options');
        const m = req.options.value;
        const r = this.range(timestampMs(m.start, 'merge.start'), timestampMs(m.end, 'merge.end'));
        profile = await this.frontend.mergeStacks(tenant, { selector: m.query, ...r }, signal);
        break;
      }
      case Mode.SINGLE_UNSPECIFIED: {
        if (req.options.case !== 'single') throw FirnError.invalidArgument('mode SINGLE needs the single options');
        const t = timestampMs(req.options.value.time, 'single.time');
        profile = await this.frontend.mergeStacks(tenant, { selector: req.options.value.query, startMs: t, endMs: t + 1 }, signal);
        break;
      }
      case Mode.DIFF: {
        if (req.options.case !== 'diff') throw FirnError.invalidArgument('mode DIFF needs the diff options');
        const d = req.options.value;
        profile = await this.frontend.diff(tenant, this.selection(d.a, 'a'), this.selection(d.b, 'b'), signal);
        diff = true;
        absolute = d.absolute ?? false;
        break;
      }
      default:
        throw FirnError.invalidArgument(`unknown query mode ${req.mode}`);
    }
    const { profile: shown, filteredOut } = applyFilters(profile, req.filter);
    return this.report(req, shown, diff, absolute, filteredOut);
  }

  private selection(s: queryV1alpha1.ProfileDiffSelection | undefined, side: string): { selector: string; startMs: number; endMs: number } {
    if (!s) throw FirnError.invalidArgument(`diff.${side} is required`);
    if (s.mode === DiffMode.MERGE && s.options.case === 'merge') {
      const r = this.range(timestampMs(s.options.value.start, `diff.${side}.start`), timestampMs(s.options.value.end, `diff.${side}.end`));
      return { selector: s.options.value.query, ...r };
    }
    if (s.options.case === 'single') {
      const t = timestampMs(s.options.value.time, `diff.${side}.time`);
      return { selector: s.options.value.query, startMs: t, endMs: t + 1 };
    }
    throw FirnError.invalidArgument(`diff.${side} needs merge or single options matching its mode`);
  }

  private report(req: queryV1alpha1.QueryRequest, p: StackProfile, diff: boolean, absolute: boolean, filteredOut: number): queryV1alpha1.QueryResponse {
    const total = BigInt(Math.round(p.total + filteredOut));
    const filtered = BigInt(Math.round(filteredOut));
    switch (req.reportType) {
      case Report.FLAMEGRAPH_ARROW: {
        // Parca's request has no node cap of its own: the tenant's limit applies as is.
        const fg = flamegraphArrow(p, {
          nodeTrimThreshold: req.nodeTrimThreshold,
          maxNodes: this.limits.maxNodes(0),
          groupBy: req.groupBy?.fields,
          diff,
          absolute,
        });
        return create(Q.QueryResponseSchema, {
          report: {
            case: 'flamegraphArrow',
            value: create(Q.FlamegraphArrowSchema, { record: fg.record, unit: fg.unit, height: fg.height, trimmed: fg.trimmed }),
          },
          total,
          filtered,
        });
      }
      case Report.PPROF:
        return create(Q.QueryResponseSchema, { report: { case: 'pprof', value: stackProfileToPprof(p) }, total, filtered });
      case Report.TOP: {
        const t = parcaTop(p, { diff, absolute });
        return create(Q.QueryResponseSchema, { report: { case: 'top', value: t.top }, total, filtered });
      }
      case Report.TABLE_ARROW: {
        const t = tableArrow(p, { diff, absolute });
        return create(Q.QueryResponseSchema, {
          report: { case: 'tableArrow', value: create(Q.TableArrowSchema, { record: t.record, unit: t.unit }) },
          total,
          filtered,
        });
      }
      default:
        throw new ConnectError(
          `report type ${Report[req.reportType] ?? req.reportType} is not supported (use FLAMEGRAPH_ARROW, PPROF, TOP or TABLE_ARROW)`,
          Code.Unimplemented,
        );
    }
  }
}

/** Parca's `match` is a list of matcher sets (`{a="b"}`); they are ANDed here. */
function matchersOf(match: readonly string[]): ReturnType<typeof parseMatchers> {
  return match.filter((m) => m.trim() !== '').flatMap((m) => parseMatchers(m.trim().startsWith('{') ? m : `{${m}}`));
}

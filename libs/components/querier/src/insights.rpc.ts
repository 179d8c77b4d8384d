import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import { create } from '@bufbuild/protobuf';
import type { HandlerContext } from '@connectrpc/connect';
import { FirnError } from '@firn/errors';
import {
  costCsv,
  costOpenMetrics,
  costPrometheus,
  microsToAmount,
  nsToSeconds,
  type FunctionChange,
  type MetricChange,
  type RegressionReport,
} from '@firn/insights';
import { TOKEN_STORE } from '@firn/platform';
import { firnInsightsV1 } from '@firn/proto';
import { RpcRegistry } from '@firn/server-runtime';
import { Scope, principalOf, type TenantId, type TokenStore } from '@firn/tenancy';
import { InsightsService, type InsightSelection } from './insights.service';
import { queryAuthInterceptor } from './internal-auth';
import { PgoExportService } from './pgo-export.service';
import { QueryFrontend } from './query-frontend';
import { QueryLimits } from './query-limits';
import { checkedRange } from './query-range';
import { timestampMs, toTimestamp } from './timestamps';

const I = firnInsightsV1;

/**
 * firn.insights.v1.InsightsService over gRPC, gRPC-web and Connect: thin handlers that check
 * the request, call InsightsService / PgoExportService and build the response. Scoped to the
 * token's tenant (`read:profiles`), or the tenant the gateway's query proxy authenticated (with
 * the internal token), under the same per-tenant query limits as every query.
 */
@Injectable()
export class InsightsRpc implements OnModuleInit {
  constructor(
    private readonly rpc: RpcRegistry,
    @Inject(TOKEN_STORE) private readonly tokens: TokenStore,
    private readonly insights: InsightsService,
    private readonly pgo: PgoExportService,
    private readonly frontend: QueryFrontend,
    private readonly limits: QueryLimits,
  ) {}

  onModuleInit(): void {
    this.rpc.add(
      I.InsightsService,
      {
        exportPgoProfile: (req, ctx) => this.exportPgo(req, ctx),
        compareRegression: (req, ctx) => this.compareRegression(req, ctx),
        costReport: (req, ctx) => this.costReport(req, ctx),
      },
      { interceptors: [queryAuthInterceptor(this.tokens, Scope.ReadProfiles, this.frontend.internalToken), this.limits.interceptor()] },
    );
  }

  private tenant(ctx: HandlerContext): TenantId {
    return principalOf(ctx, Scope.ReadProfiles).tenant;
  }

  private selection(s: firnInsightsV1.Selection | undefined, field: string): InsightSelection {
    if (!s) throw FirnError.invalidArgument(`${field} is required`);
    if (s.query.trim() === '') throw FirnError.invalidArgument(`${field}.query is required`);
    const r = checkedRange(timestampMs(s.start, `${field}.start`), timestampMs(s.end, `${field}.end`), this.limits.current().maxQueryRangeMs);
    return { selector: s.query, ...r };
  }

  private async run<T>(ctx: HandlerContext, fn: (tenant: TenantId, signal: AbortSignal) => Promise<T>): Promise<T> {
    const tenant = this.tenant(ctx);
    const signal = this.frontend.deadline(ctx);
    return this.frontend.withDeadline(signal, () => fn(tenant, signal));
  }

  async costReport(req: firnInsightsV1.CostReportRequest, ctx: HandlerContext): Promise<firnInsightsV1.CostReportResponse> {
    const selection = this.selection(req.selection, 'selection');
    if (req.format === I.CostFormat.OPENMETRICS && req.stepSeconds === 0) throw FirnError.invalidArgument('format OPENMETRICS needs step_seconds');
    const a = await this.run(ctx, (tenant, signal) =>
      this.insights.cost(tenant, { selection, groupBy: req.groupBy, topFunctions: req.topFunctions, stepMs: req.stepSeconds * 1000 }, signal),
    );
    const total = a.report.totalCpuNs;
    const input = { report: a.report, groupBy: req.groupBy, currency: a.currency, rangeSeconds: a.rangeSeconds, series: a.series };
    const text =
      req.format === I.CostFormat.CSV
        ? costCsv(input)
        : req.format === I.CostFormat.PROMETHEUS
          ? costPrometheus(input)
          : req.format === I.CostFormat.OPENMETRICS
            ? costOpenMetrics(input)
            : '';
    return create(I.CostReportResponseSchema, {
      groups: a.report.groups.map((g, gi) =>
        create(I.CostGroupSchema, {
          labels: req.groupBy.map((name, k) => create(I.LabelSchema, { name, value: g.values[k] })),
          samples: g.samples,
          cpuSeconds: nsToSeconds(g.cpuNs),
          cores: a.rangeSeconds > 0 ? nsToSeconds(g.cpuNs) / a.rangeSeconds : 0,
          cost: microsToAmount(g.costMicros),
          costMicros: g.costMicros,
          share: total > 0n ? Number(g.cpuNs) / Number(total) : 0,
          topFunctions: g.topFunctions.map((f) =>
            create(I.FunctionCostSchema, {
              functionName: f.functionName,
              fileName: f.fileName,
              selfCpuSeconds: nsToSeconds(f.selfCpuNs),
              totalCpuSeconds: nsToSeconds(f.totalCpuNs),
              selfCost: microsToAmount(f.selfCostMicros),
            }),
          ),
          series: (a.series?.[gi] ?? []).map((p) => create(I.CostPointSchema, { timestamp: toTimestamp(p.tsMs), cpuSeconds: p.cpuSeconds, cost: p.cost })),
        }),
      ),
      totalCpuSeconds: nsToSeconds(total),
      totalCost: microsToAmount(a.report.totalCostMicros),
      pricePerCoreHour: a.pricePerCoreHour,
      currency: a.currency,
      rangeSeconds: a.rangeSeconds,
      text,
    });
  }

  async compareRegression(req: firnInsightsV1.CompareRegressionRequest, ctx: HandlerContext): Promise<firnInsightsV1.CompareRegressionResponse> {
    const baseline = this.selection(req.baseline, 'baseline');
    const target = this.selection(req.target, 'target');
    const r = await this.run(ctx, (tenant, signal) =>
      this.insights.regression(
        tenant,
        baseline,
        target,
        {
          alpha: req.alpha,
          minRelativeChange: req.minRelativeChange,
          limit: req.limit,
          normalization: req.normalization === I.Normalization.MEDIAN_RATIO ? 'median_ratio' : 'total',
          correction: req.correction === I.Correction.BENJAMINI_HOCHBERG ? 'bh' : 'holm',
        },
        signal,
      ),
    );
    return regressionMessage(r);
  }

  async exportPgo(req: firnInsightsV1.ExportPgoProfileRequest, ctx: HandlerContext): Promise<firnInsightsV1.ExportPgoProfileResponse> {
    const selection = this.selection(req.selection, 'selection');
    if (req.format !== I.PgoFormat.GO_PPROF && req.format !== I.PgoFormat.LLVM_SAMPLE_TEXT)
      throw FirnError.invalidArgument('format is required: GO_PPROF or LLVM_SAMPLE_TEXT');
    if (!req.buildId && !req.executable) throw FirnError.invalidArgument('choose the binary: build_id or executable is required');
    const r = await this.run(ctx, (tenant, signal) =>
      this.pgo.export(
        tenant,
        selection,
        { buildId: req.buildId || undefined, executable: req.executable || undefined },
        req.format === I.PgoFormat.GO_PPROF ? 'go' : 'llvm',
        signal,
      ),
    );
    return create(I.ExportPgoProfileResponseSchema, {
      profile: r.profile,
      fileName: r.fileName,
      buildId: r.buildId,
      mappingFile: r.mappingFile,
      selectionSamples: BigInt(Math.round(r.selectionSamples)),
      binarySamples: BigInt(Math.round(r.binarySamples)),
      exportedSamples: BigInt(Math.round(r.exportedSamples)),
      unresolvedSamples: BigInt(Math.round(r.unresolvedSamples)),
      functions: r.functions,
      debuginfoSource: r.debuginfoSource,
    });
  }
}

/** A regression report as the wire message (also the body of deploy check webhooks). */
export function regressionMessage(r: RegressionReport): firnInsightsV1.CompareRegressionResponse {
  return create(I.CompareRegressionResponseSchema, {
    offenders: r.offenders.map(changeMsg),
    improvements: r.improvements.map(changeMsg),
    baselineTotalSamples: r.baselineTotalSamples,
    targetTotalSamples: r.targetTotalSamples,
    baselineCpuSeconds: r.baselineCpuSeconds,
    targetCpuSeconds: r.targetCpuSeconds,
    tests: r.tests,
    dispersion: r.dispersion,
    scale: r.scale,
    method: r.method,
  });
}

function metricMsg(m: MetricChange): firnInsightsV1.MetricChange {
  return create(I.MetricChangeSchema, { ...m });
}

function changeMsg(c: FunctionChange): firnInsightsV1.FunctionChange {
  return create(I.FunctionChangeSchema, {
    functionName: c.functionName,
    fileName: c.fileName,
    mappingFile: c.mappingFile,
    metric: c.metric === 'self' ? I.Metric.SELF : I.Metric.TOTAL,
    self: metricMsg(c.self),
    total: metricMsg(c.total),
    impactSamples: c.impactSamples,
    impactCpuSeconds: c.impactCpuSeconds,
    impactCores: c.impactCores,
  });
}

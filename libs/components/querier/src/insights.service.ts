import { Inject, Injectable } from '@nestjs/common';
import { FirnError } from '@firn/errors';
import {
  costReport,
  cpuValueKind,
  microsToAmount,
  periodGroups,
  regressionReport,
  type CostReport,
  type CostSeriesPoint,
  type Correction,
  type Normalization,
  type RegressionReport,
} from '@firn/insights';
import { formatProfileType, parseSelector } from '@firn/profiles';
import { PERIOD_GROUP, seriesLabels } from '@firn/query';
import type { TenantId } from '@firn/tenancy';
import { QUERIER_OPTIONS, type QuerierOptions } from './querier.options';
import { QueryFrontend } from './query-frontend';
import { QueryLimits } from './query-limits';

/** A validated selection: selector and [startMs, endMs). */
export interface InsightSelection {
  selector: string;
  startMs: number;
  endMs: number;
}

export interface CostQuery {
  selection: InsightSelection;
  groupBy: string[];
  topFunctions: number;
  /** 0 = no series. */
  stepMs: number;
}

export interface CostAnswer {
  report: CostReport;
  currency: string;
  pricePerCoreHour: number;
  rangeSeconds: number;
  /** Per group (report order), when stepMs > 0. */
  series?: CostSeriesPoint[][];
}

const MAX_GROUP_BY = 10;
const MAX_TOP_FUNCTIONS = 100;
const MAX_SERIES_BUCKETS = 11_000;

/**
 * The insights of the InsightsService (cost attribution, regression reports; PGO export in
 * pgo-export.service.ts): plans the merges through the QueryFrontend (so they fan out across
 * queriers like any query) and hands the merged profiles to @firn/insights' pure functions.
 */
@Injectable()
export class InsightsService {
  constructor(
    private readonly frontend: QueryFrontend,
    private readonly limits: QueryLimits,
    @Inject(QUERIER_OPTIONS) private readonly opts: QuerierOptions,
  ) {}

  get currency(): string {
    return this.opts.insights?.currency ?? 'USD';
  }

  async cost(tenant: TenantId, q: CostQuery, signal: AbortSignal): Promise<CostAnswer> {
    const kind = cpuValueKind(profileTypeOf(q.selection.selector));
    checkGroupBy(q.groupBy);
    const top = q.topFunctions === 0 ? 5 : q.topFunctions;
    if (top < 1 || top > MAX_TOP_FUNCTIONS) throw FirnError.invalidArgument(`top_functions must be between 1 and ${MAX_TOP_FUNCTIONS}, got ${q.topFunctions}`);
    if (q.stepMs > 0 && Math.ceil((q.selection.endMs - q.selection.startMs) / q.stepMs) > MAX_SERIES_BUCKETS) {
      throw FirnError.invalidArgument(`step of ${q.stepMs / 1000} s gives more than ${MAX_SERIES_BUCKETS} points over the range; raise step_seconds`);
    }
    const price = this.limits.current().pricePerCoreHour;
    const merged = await this.frontend.mergeGrouped(tenant, q.selection, [...q.groupBy, PERIOD_GROUP], { symbolize: true, signal });
    const report = costReport(periodGroups(merged.groups, q.groupBy, PERIOD_GROUP), kind, price, top);
    const rangeSeconds = (q.selection.endMs - q.selection.startMs) / 1000;
    const answer: CostAnswer = { report, currency: this.currency, pricePerCoreHour: price, rangeSeconds };
    if (q.stepMs > 0) answer.series = await this.costSeries(tenant, q, report, kind, signal);
    return answer;
  }

  /**
   * CPU and money per step and group. The series engine sums values per bucket; each group's
   * values turn into CPU time at the group's exact CPU per value over the whole range (the same
   * as the period of its rows unless its agents changed their sampling rate within the range).
   */
  private async costSeries(
    tenant: TenantId,
    q: CostQuery,
    report: CostReport,
    kind: 'count' | 'nanoseconds',
    signal: AbortSignal,
  ): Promise<CostSeriesPoint[][]> {
    const buckets = await this.frontend.series(tenant, q.selection, q.stepMs, q.groupBy, signal);
    const nsPerValue = new Map(
      report.groups.map((g) => [g.values.join('\u0000'), kind === 'count' && g.samples > 0n ? Number(g.cpuNs) / Number(g.samples) : 1]),
    );
    const byGroup = new Map<string, CostSeriesPoint[]>();
    const pricePerNs = microsToAmount(report.priceMicrosPerCoreHour) / 3.6e12;
    for (const [key, points] of buckets) {
      const labels = new Map(seriesLabels(key));
      const gk = q.groupBy.map((n) => labels.get(n) ?? '').join('\u0000');
      const ratio = nsPerValue.get(gk) ?? 0;
      const list = byGroup.get(gk) ?? [];
      for (const [tsMs, p] of points) list.push({ tsMs, cpuSeconds: (p.value * ratio) / 1e9, cost: p.value * ratio * pricePerNs });
      byGroup.set(gk, list);
    }
    return report.groups.map((g) => (byGroup.get(g.values.join('\u0000')) ?? []).sort((a, b) => a.tsMs - b.tsMs));
  }

  async regression(
    tenant: TenantId,
    baseline: InsightSelection,
    target: InsightSelection,
    o: { alpha: number; minRelativeChange: number; limit: number; normalization: Normalization; correction: Correction },
    signal: AbortSignal,
  ): Promise<RegressionReport> {
    const pt = profileTypeOf(baseline.selector);
    if (profileTypeOf(target.selector) !== pt)
      throw FirnError.invalidArgument(`baseline and target must have the same profile type (${pt} vs ${profileTypeOf(target.selector)})`);
    const kind = cpuValueKind(pt);
    if (o.alpha < 0 || o.alpha >= 1) throw FirnError.invalidArgument(`alpha must be in (0, 1), got ${o.alpha}`);
    if (o.minRelativeChange < 0) throw FirnError.invalidArgument(`min_relative_change must not be negative, got ${o.minRelativeChange}`);
    const [a, b] = await Promise.all([
      this.frontend.mergeGrouped(tenant, baseline, [PERIOD_GROUP], { symbolize: true, signal }),
      this.frontend.mergeGrouped(tenant, target, [PERIOD_GROUP], { symbolize: true, signal }),
    ]);
    return regressionReport(periodGroups(a.groups, [], PERIOD_GROUP), periodGroups(b.groups, [], PERIOD_GROUP), kind, {
      ...o,
      targetRangeSeconds: (target.endMs - target.startMs) / 1000,
    });
  }
}

export function profileTypeOf(selector: string): string {
  return formatProfileType(parseSelector(selector).profileType);
}

function checkGroupBy(names: readonly string[]): void {
  if (names.length > MAX_GROUP_BY) throw FirnError.invalidArgument(`group_by has ${names.length} labels, at most ${MAX_GROUP_BY}`);
  const seen = new Set<string>();
  for (const n of names) {
    if (n.trim() === '') throw FirnError.invalidArgument('group_by has an empty label name');
    if (n === PERIOD_GROUP) throw FirnError.invalidArgument(`group_by label ${PERIOD_GROUP} is reserved`);
    if (seen.has(n)) throw FirnError.invalidArgument(`group_by names ${JSON.stringify(n)} twice`);
    seen.add(n);
  }
}

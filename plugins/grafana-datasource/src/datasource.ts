import {
  CoreApp,
  DataFrame,
  DataQueryError,
  DataQueryRequest,
  DataQueryResponse,
  DataSourceApi,
  DataSourceInstanceSettings,
  LegacyMetricFindQueryOptions,
  MetricFindValue,
  rangeUtil,
  ScopedVars,
  TestDataSourceResponse,
  TimeRange,
} from '@grafana/data';
import { getBackendSrv, getTemplateSrv, isFetchError } from '@grafana/runtime';
import { FirnApi, FirnApiError, firnErrorFromResponse, type FirnTransport, type ProfileSelection, type ProfileType, type TimeRangeMs } from './firn-api';
import { diffFlameGraphFrame, flameGraphFrame, seriesFrames } from './frames';
import { scopedSelector, splitSelector } from './selector';
import { DEFAULT_MIN_STEP, DEFAULT_QUERY, FirnOptions, FirnQuery, ROUTE_PATH } from './types';
import { parseVariableQuery } from './variables';

const HOUR_MS = 3600_000;

/**
 * Requests through Grafana's data source proxy: `<instance url>/firn/<path>` matches the route in
 * plugin.json, whose URL and `Authorization: Bearer` header Grafana's server fills from the
 * saved settings. The browser (and this class) never sees the token.
 */
function proxyTransport(instanceUrl: string, firnUrl: string): FirnTransport {
  return async (req) => {
    try {
      const response = getBackendSrv().fetch<unknown>({
        url: `${instanceUrl}/${ROUTE_PATH}${req.path}`,
        method: req.method,
        data: req.body,
        headers: req.body === undefined ? undefined : { 'Content-Type': 'application/json' },
        // Errors surface in the panel or the config page, not as extra toasts.
        showErrorAlert: false,
        showSuccessAlert: false,
      });
      // Subscribed directly rather than through rxjs helpers: the plugin then needs no rxjs of its own.
      return await new Promise<unknown>((resolve, reject) => {
        let data: unknown;
        response.subscribe({ next: (r) => (data = r.data), error: reject, complete: () => resolve(data) });
      });
    } catch (err) {
      if (isFetchError(err)) throw firnErrorFromResponse(err.status ?? 0, err.data, req.path, firnUrl);
      throw err;
    }
  };
}

function regexEscape(v: string): string {
  return v.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Text inside a double-quoted matcher value. */
function stringEscape(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"');
}

/**
 * How variables land inside selectors (Prometheus's rule): a single value as is (escaped for the
 * quotes around it); a multi-value or "All" variable as a regex alternation for `=~`.
 */
export function selectorFormatter(value: string | string[], variable?: { multi?: boolean; includeAll?: boolean }): string {
  if (typeof value === 'string' && !variable?.multi && !variable?.includeAll) return stringEscape(value);
  const values = typeof value === 'string' ? [value] : value;
  const alternation = values.map(regexEscape).join('|');
  return stringEscape(values.length === 1 ? alternation : `(${alternation})`);
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export class DataSource extends DataSourceApi<FirnQuery, FirnOptions> {
  private readonly api: FirnApi;
  private readonly jsonData: FirnOptions;

  constructor(instanceSettings: DataSourceInstanceSettings<FirnOptions>) {
    super(instanceSettings);
    this.jsonData = instanceSettings.jsonData ?? {};
    this.api = new FirnApi(proxyTransport(instanceSettings.url ?? '', this.jsonData.url ?? ''));
  }

  override getDefaultQuery(_app: CoreApp): Partial<FirnQuery> {
    return { ...DEFAULT_QUERY, profileTypeId: this.jsonData.defaultProfileType };
  }

  override filterQuery(query: FirnQuery): boolean {
    return !query.hide && Boolean(query.profileTypeId || splitSelector(query.labelSelector ?? '').profileTypeId);
  }

  /** Dashboard variables in selectors, group-by labels, step and offset. */
  applyTemplateVariables(query: FirnQuery, scopedVars: ScopedVars): FirnQuery {
    const t = getTemplateSrv();
    const sel = (s: string | undefined) => (s === undefined ? undefined : t.replace(s, scopedVars, selectorFormatter));
    const plain = (s: string | undefined) => (s === undefined ? undefined : t.replace(s, scopedVars));
    return {
      ...query,
      profileTypeId: plain(query.profileTypeId),
      labelSelector: sel(query.labelSelector),
      baselineSelector: sel(query.baselineSelector),
      groupBy: query.groupBy
        ?.flatMap((g) => t.replace(g, scopedVars, 'csv').split(','))
        .map((g) => g.trim())
        .filter((g) => g !== ''),
      step: plain(query.step),
      baselineOffset: plain(query.baselineOffset),
    };
  }

  override interpolateVariablesInQueries(queries: FirnQuery[], scopedVars: ScopedVars): FirnQuery[] {
    return queries.map((q) => this.applyTemplateVariables(q, scopedVars));
  }

  async query(request: DataQueryRequest<FirnQuery>): Promise<DataQueryResponse> {
    const range = { startMs: request.range.from.valueOf(), endMs: request.range.to.valueOf() };
    const targets = request.targets.filter((t) => this.filterQuery(t));
    const results = await Promise.all(
      targets.map(async (t): Promise<{ frames: DataFrame[]; error?: DataQueryError }> => {
        try {
          return { frames: await this.runQuery(this.applyTemplateVariables(t, request.scopedVars), range, request.intervalMs) };
        } catch (err) {
          return { frames: [], error: { refId: t.refId, message: errorMessage(err) } };
        }
      }),
    );
    const errors = results.flatMap((r) => (r.error ? [r.error] : []));
    return { data: results.flatMap((r) => r.frames), ...(errors.length > 0 ? { errors, error: errors[0] } : {}) };
  }

  /** One (interpolated) query: the flame graph frame first, then the series frames. */
  async runQuery(query: FirnQuery, range: TimeRangeMs, intervalMs: number): Promise<DataFrame[]> {
    const { profileTypeId, labelSelector } = this.selection(query.profileTypeId, query.labelSelector);
    if (!profileTypeId) throw new Error('Choose a profile type.');
    const type = query.queryType ?? 'both';
    const comparison: ProfileSelection = { profileTypeId, labelSelector, ...range };
    const jobs: Array<Promise<DataFrame[]>> = [];
    if (type !== 'series') {
      if (query.diff) {
        const base = this.selection(profileTypeId, query.baselineSelector ?? labelSelector);
        const offsetMs = query.baselineOffset?.trim() ? rangeUtil.intervalToMs(query.baselineOffset.trim()) : 0;
        const baseline: ProfileSelection = {
          profileTypeId: base.profileTypeId ?? profileTypeId,
          labelSelector: base.labelSelector,
          startMs: range.startMs - offsetMs,
          endMs: range.endMs - offsetMs,
        };
        jobs.push(this.api.diff(baseline, comparison, query.maxNodes).then((fg) => [diffFlameGraphFrame(fg, profileTypeId, query.refId)]));
      } else {
        jobs.push(this.api.mergeStacktraces(comparison, query.maxNodes).then((fg) => [flameGraphFrame(fg, profileTypeId, query.refId)]));
      }
    }
    if (type !== 'flamegraph') {
      const groupBy = query.groupBy ?? [];
      jobs.push(
        this.api.selectSeries(comparison, groupBy, this.stepSeconds(query, intervalMs)).then((s) => seriesFrames(s, profileTypeId, groupBy, query.refId)),
      );
    }
    return (await Promise.all(jobs)).flat();
  }

  /** The explicit step, else Grafana's interval but at least the data source's minimum step. */
  stepSeconds(query: FirnQuery, intervalMs: number): number {
    if (query.step?.trim()) return rangeUtil.intervalToSeconds(query.step.trim());
    const min = rangeUtil.intervalToSeconds(this.jsonData.minStep?.trim() || DEFAULT_MIN_STEP);
    return Math.max(intervalMs / 1000, min);
  }

  /** A Parca-style `<type>{…}` in the selector field wins over the profile type picker. */
  private selection(profileTypeId: string | undefined, labelSelector: string | undefined): { profileTypeId?: string; labelSelector: string } {
    const split = splitSelector(labelSelector ?? '');
    const sel = split.labelSelector.trim() === '' ? '{}' : split.labelSelector.trim();
    return { profileTypeId: split.profileTypeId ?? (profileTypeId || undefined), labelSelector: sel };
  }

  // Used by the query editor for its pickers and autocomplete.

  getProfileTypes(range?: TimeRange): Promise<ProfileType[]> {
    return this.api.profileTypes(rangeMs(range));
  }

  /** Label names of the series the selector matches, without Pyroscope's internal `__…__` names. */
  async getLabelNames(profileTypeId: string | undefined, labelSelector: string | undefined, range?: TimeRange): Promise<string[]> {
    const s = this.selection(profileTypeId, labelSelector);
    const names = await this.api.labelNames(scopedSelector(s.profileTypeId, s.labelSelector), rangeMs(range));
    return names.filter((n) => !n.startsWith('__'));
  }

  getLabelValues(name: string, profileTypeId: string | undefined, labelSelector: string | undefined, range?: TimeRange): Promise<string[]> {
    const s = this.selection(profileTypeId, labelSelector);
    return this.api.labelValues(name, scopedSelector(s.profileTypeId, s.labelSelector), rangeMs(range));
  }

  /** Dashboard variables: `profile_types()`, `label_names(...)`, `label_values(...)` (see variables.ts). */
  override async metricFindQuery(query: string, options?: LegacyMetricFindQueryOptions): Promise<MetricFindValue[]> {
    const text = getTemplateSrv().replace(query, options?.scopedVars, selectorFormatter);
    const vq = parseVariableQuery(text);
    const range = options?.range;
    let values: string[];
    if (vq.kind === 'profile_types') values = (await this.getProfileTypes(range)).map((t) => t.id);
    else if (vq.kind === 'label_names') values = await this.getLabelNames(undefined, vq.selector, range);
    else values = await this.getLabelValues(vq.label, undefined, vq.selector, range);
    return values.map((v) => ({ text: v, value: v }));
  }

  /**
   * "Save & test": who the token belongs to (whoami, on Firn's gateway and all-in-one), then a
   * query API call (ProfileTypes) so a URL that reaches only a gateway, or a token without
   * read:profiles, fails here rather than in the first panel.
   */
  async testDatasource(): Promise<TestDataSourceResponse> {
    if (!this.jsonData.url?.trim()) return { status: 'error', message: "Set Firn's URL (e.g. http://firn:7070)." };
    try {
      let who: { tenant: string; scopes: string[] } | undefined;
      try {
        who = await this.api.whoami();
      } catch (err) {
        // Queriers serve the query APIs without whoami; the ProfileTypes call below still proves the token.
        if (!(err instanceof FirnApiError && err.kind === 'not-found')) throw err;
      }
      if (who && !who.scopes.includes('read:profiles') && !who.scopes.includes('admin')) {
        return {
          status: 'error',
          message: `The token belongs to tenant "${who.tenant}" but lacks the read:profiles scope (it has: ${who.scopes.join(', ') || 'none'}).`,
        };
      }
      const types = await this.api.profileTypes({ startMs: Date.now() - HOUR_MS, endMs: Date.now() });
      const seen = `${types.length} profile type${types.length === 1 ? '' : 's'} in the last hour`;
      return {
        status: 'success',
        message: who
          ? `Connected to Firn as tenant "${who.tenant}": ${seen}.`
          : `Connected to Firn's query API: ${seen} (this endpoint does not serve /api/v1/whoami, so the tenant is not shown).`,
      };
    } catch (err) {
      return { status: 'error', message: errorMessage(err) };
    }
  }
}

function rangeMs(range?: TimeRange): TimeRangeMs {
  if (range) return { startMs: range.from.valueOf(), endMs: range.to.valueOf() };
  const now = Date.now();
  return { startMs: now - HOUR_MS, endMs: now };
}

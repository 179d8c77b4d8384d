/**
 * Firn's public query APIs as the plugin uses them: Pyroscope's `querier.v1.QuerierService` over
 * Connect's JSON protocol (plain POSTs that Grafana's data source proxy forwards unchanged) and the
 * gateway's `GET /api/v1/whoami`. Requests go through a transport the data source provides, which
 * in Grafana is its proxy route: the API token is added on the Grafana server, never here.
 */

export interface FirnRequest {
  method: 'GET' | 'POST';
  /** Path on Firn, e.g. `/querier.v1.QuerierService/ProfileTypes`. */
  path: string;
  body?: unknown;
}

/** Resolves with the parsed JSON body of a 2xx answer; rejects with a {@link FirnApiError}. */
export type FirnTransport = (req: FirnRequest) => Promise<unknown>;

/** Why a call failed, in the terms a Grafana user can act on. */
export type FirnErrorKind = 'auth' | 'forbidden' | 'unreachable' | 'timeout' | 'not-found' | 'invalid' | 'server';

export class FirnApiError extends Error {
  constructor(
    readonly kind: FirnErrorKind,
    message: string,
    /** HTTP status as the plugin saw it (after Grafana's proxy). */
    readonly status: number,
  ) {
    super(message);
    this.name = 'FirnApiError';
  }
}

/** Grafana's data source proxy turns an upstream 401 into this 400 (pkg/api/pluginproxy). */
const GRAFANA_PROXY_AUTH_FAILED = 'Authentication to data source failed';

function connectError(body: unknown): { code?: string; message?: string } {
  if (body && typeof body === 'object') {
    const b = body as Record<string, unknown>;
    return { code: typeof b.code === 'string' ? b.code : undefined, message: typeof b.message === 'string' ? b.message : undefined };
  }
  return {};
}

/**
 * Maps an HTTP answer seen through Grafana's data source proxy to an error. `firnUrl` is only
 * named in messages.
 */
export function firnErrorFromResponse(status: number, body: unknown, path: string, firnUrl: string): FirnApiError {
  const text = typeof body === 'string' ? body : '';
  const { code, message } = connectError(body);
  const where = firnUrl ? ` at ${firnUrl}` : '';
  if (status === 401 || code === 'unauthenticated' || (status === 400 && text.includes(GRAFANA_PROXY_AUTH_FAILED))) {
    return new FirnApiError(
      'auth',
      `Firn rejected the API token${message ? `: ${message}` : ''}. Paste a valid token (firn tokens create --tenant <tenant> --scopes read:profiles) and save again.`,
      status,
    );
  }
  if (status === 403 || code === 'permission_denied') {
    return new FirnApiError('forbidden', `Firn refused the request: ${message ?? 'permission denied'}. The token needs the read:profiles scope.`, status);
  }
  if (status === 502 || status === 0) {
    return new FirnApiError(
      'unreachable',
      `Grafana could not reach Firn${where} (HTTP ${status} from Grafana's data source proxy): check the URL and port, that Firn is running, and TLS (an https URL needs a TLS endpoint whose certificate Grafana trusts; a plain-HTTP port needs http://).`,
      status,
    );
  }
  if (status === 504 || code === 'deadline_exceeded') {
    return new FirnApiError('timeout', `Firn did not answer in time${where}${message ? `: ${message}` : ''}. Narrow the time range or the selector.`, status);
  }
  if (status === 404 && !code) {
    return new FirnApiError('not-found', `${firnUrl || 'The configured URL'} answered 404 for ${path}: it does not look like Firn's query endpoint.`, status);
  }
  if (status === 400 || code === 'invalid_argument' || code === 'unimplemented' || code === 'resource_exhausted') {
    return new FirnApiError('invalid', `Firn: ${message ?? (text || `HTTP ${status}`)}`, status);
  }
  return new FirnApiError('server', `Firn answered HTTP ${status} for ${path}${message ? `: ${message}` : text ? `: ${text.slice(0, 200)}` : ''}`, status);
}

export interface TimeRangeMs {
  startMs: number;
  endMs: number;
}

export interface ProfileType {
  id: string;
  name: string;
  sampleType: string;
  sampleUnit: string;
  periodType: string;
  periodUnit: string;
}

/** querier.v1.FlameGraph with numbers (Connect JSON sends int64 as strings). */
export interface FlameGraphWire {
  names: string[];
  /** Per level, 4 numbers per node: x offset (delta from the previous node's end), total, self, name index. */
  levels: number[][];
  total: number;
  maxSelf: number;
}

/** querier.v1.FlameGraphDiff: 7 numbers per node (left x, left total, left self, right x, right total, right self, name). */
export interface FlameGraphDiffWire extends FlameGraphWire {
  leftTicks: number;
  rightTicks: number;
}

export interface SeriesWire {
  labels: Array<{ name: string; value: string }>;
  points: Array<{ timestamp: number; value: number }>;
}

export interface WhoAmI {
  tenant: string;
  scopes: string[];
}

export interface ProfileSelection {
  profileTypeId: string;
  labelSelector: string;
  startMs: number;
  endMs: number;
}

const QUERIER = '/querier.v1.QuerierService';

function num(v: unknown): number {
  return v === undefined || v === null ? 0 : Number(v);
}

function asObject(v: unknown): Record<string, unknown> {
  return v && typeof v === 'object' ? (v as Record<string, unknown>) : {};
}

function asArray(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}

function flameGraph(v: unknown): FlameGraphWire {
  const fg = asObject(v);
  return {
    names: asArray(fg.names).map(String),
    levels: asArray(fg.levels).map((l) => asArray(asObject(l).values).map(num)),
    total: num(fg.total),
    maxSelf: num(fg.maxSelf),
  };
}

function selection(s: ProfileSelection, maxNodes?: number): Record<string, unknown> {
  return {
    profileTypeID: s.profileTypeId,
    labelSelector: s.labelSelector,
    start: String(Math.floor(s.startMs)),
    end: String(Math.ceil(s.endMs)),
    ...(maxNodes && maxNodes > 0 ? { maxNodes: String(Math.floor(maxNodes)) } : {}),
  };
}

export class FirnApi {
  constructor(private readonly transport: FirnTransport) {}

  private call(method: string, body: unknown): Promise<unknown> {
    return this.transport({ method: 'POST', path: `${QUERIER}/${method}`, body });
  }

  /** Which tenant the token belongs to (served by Firn's gateway and all-in-one, not by queriers). */
  async whoami(): Promise<WhoAmI> {
    const r = asObject(await this.transport({ method: 'GET', path: '/api/v1/whoami' }));
    return { tenant: String(r.tenant ?? ''), scopes: asArray(r.scopes).map(String) };
  }

  async profileTypes(range: TimeRangeMs): Promise<ProfileType[]> {
    const r = asObject(await this.call('ProfileTypes', { start: String(Math.floor(range.startMs)), end: String(Math.ceil(range.endMs)) }));
    return asArray(r.profileTypes).map((t) => {
      const o = asObject(t);
      return {
        id: String(o.ID ?? ''),
        name: String(o.name ?? ''),
        sampleType: String(o.sampleType ?? ''),
        sampleUnit: String(o.sampleUnit ?? ''),
        periodType: String(o.periodType ?? ''),
        periodUnit: String(o.periodUnit ?? ''),
      };
    });
  }

  /** Label names of the series `selector` matches (`__profile_type__` scopes them to one type). */
  async labelNames(selector: string, range: TimeRangeMs): Promise<string[]> {
    const r = asObject(await this.call('LabelNames', { matchers: [selector], start: String(Math.floor(range.startMs)), end: String(Math.ceil(range.endMs)) }));
    return asArray(r.names).map(String);
  }

  async labelValues(name: string, selector: string, range: TimeRangeMs): Promise<string[]> {
    const r = asObject(
      await this.call('LabelValues', { name, matchers: [selector], start: String(Math.floor(range.startMs)), end: String(Math.ceil(range.endMs)) }),
    );
    return asArray(r.names).map(String);
  }

  async mergeStacktraces(s: ProfileSelection, maxNodes: number | undefined): Promise<FlameGraphWire> {
    const r = asObject(await this.call('SelectMergeStacktraces', { ...selection(s, maxNodes), format: 'PROFILE_FORMAT_FLAMEGRAPH' }));
    return flameGraph(r.flamegraph);
  }

  async diff(baseline: ProfileSelection, comparison: ProfileSelection, maxNodes: number | undefined): Promise<FlameGraphDiffWire> {
    const r = asObject(await this.call('Diff', { left: selection(baseline, maxNodes), right: selection(comparison, maxNodes) }));
    const fg = asObject(r.flamegraph);
    return { ...flameGraph(fg), leftTicks: num(fg.leftTicks), rightTicks: num(fg.rightTicks) };
  }

  async selectSeries(s: ProfileSelection, groupBy: string[], stepSeconds: number): Promise<SeriesWire[]> {
    const r = asObject(await this.call('SelectSeries', { ...selection(s), groupBy, step: stepSeconds }));
    return asArray(r.series).map((x) => {
      const o = asObject(x);
      return {
        labels: asArray(o.labels).map((l) => ({ name: String(asObject(l).name ?? ''), value: String(asObject(l).value ?? '') })),
        points: asArray(o.points).map((p) => ({ timestamp: num(asObject(p).timestamp), value: num(asObject(p).value) })),
      };
    });
  }
}

import { create } from '@bufbuild/protobuf';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import { Code, ConnectError, createClient, type Client, type Interceptor } from '@connectrpc/connect';
import { createConnectTransport } from '@connectrpc/connect-web';
import { queryV1alpha1 } from '@firn/proto';
import { formatProfileType } from '../model/selector';

const Q = queryV1alpha1;

/** What went wrong, in the terms the page shows: sign in again, server unreachable, or a message. */
export class ApiError extends Error {
  constructor(
    readonly kind: 'auth' | 'network' | 'input' | 'server',
    message: string,
  ) {
    super(message);
  }
}

export interface Principal {
  tenant: string;
  scopes: readonly string[];
}

export interface Range {
  startMs: number;
  endMs: number;
}

export interface SeriesData {
  labels: Array<[string, string]>;
  points: Array<[number, number]>;
}

export interface FlameReport {
  record: Uint8Array;
  unit: string;
  total: number;
  trimmed: number;
}

function networkMessage(err: unknown): string {
  return `cannot reach the Firn server at ${window.location.origin} (${err instanceof Error ? err.message : String(err)})`;
}

/** `GET /api/v1/whoami`: checks a token and names its tenant. */
export async function whoami(token: string): Promise<Principal> {
  let res: Response;
  try {
    res = await fetch('/api/v1/whoami', { headers: { authorization: `Bearer ${token}` } });
  } catch (err) {
    throw new ApiError('network', networkMessage(err));
  }
  const text = await res.text();
  let body: { tenant?: string; scopes?: string[]; message?: string } = {};
  try {
    body = JSON.parse(text) as typeof body;
  } catch {
    // a proxy's HTML error page: keep the status
  }
  if (res.status === 401 || res.status === 403) throw new ApiError('auth', body.message ?? `the server refused this token (HTTP ${res.status})`);
  if (!res.ok || !body.tenant) throw new ApiError(res.status >= 500 ? 'server' : 'input', body.message ?? `whoami answered HTTP ${res.status}`);
  return { tenant: body.tenant, scopes: body.scopes ?? [] };
}

function toApiError(err: unknown): ApiError {
  if (err instanceof ApiError) return err;
  const c = ConnectError.from(err);
  if (c.code === Code.Unauthenticated || c.code === Code.PermissionDenied) return new ApiError('auth', c.rawMessage);
  if (c.code === Code.InvalidArgument || c.code === Code.OutOfRange || c.code === Code.FailedPrecondition) return new ApiError('input', c.rawMessage);
  if (c.code === Code.ResourceExhausted) return new ApiError('input', `${c.rawMessage} (narrow the selection or the time range)`);
  if (c.cause instanceof TypeError || (c.code === Code.Unknown && /fetch|network/i.test(c.rawMessage)))
    return new ApiError('network', networkMessage(c.cause ?? c));
  if (c.code === Code.Unavailable) return new ApiError('network', `the server is unavailable: ${c.rawMessage}`);
  if (c.code === Code.DeadlineExceeded) return new ApiError('server', `the query took too long: ${c.rawMessage}`);
  return new ApiError('server', c.rawMessage || String(err));
}

const ts = (ms: number) => timestampFromMs(Math.round(ms));

/**
 * The UI's only way to the server: Parca's public QueryService over Connect (binary), on the
 * page's own origin, with the signed-in token. Every call is cancellable.
 */
export class Api {
  private readonly parca: Client<typeof Q.QueryService>;

  constructor(token: string) {
    const auth: Interceptor = (next) => (req) => {
      req.header.set('authorization', `Bearer ${token}`);
      return next(req);
    };
    const transport = createConnectTransport({ baseUrl: window.location.origin, useBinaryFormat: true, interceptors: [auth] });
    this.parca = createClient(Q.QueryService, transport);
  }

  private async call<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof DOMException && err.name === 'AbortError') throw err;
      if (ConnectError.from(err).code === Code.Canceled) throw new DOMException('aborted', 'AbortError');
      throw toApiError(err);
    }
  }

  async profileTypes(r: Range, signal?: AbortSignal): Promise<string[]> {
    const res = await this.call(() => this.parca.profileTypes({ start: ts(r.startMs), end: ts(r.endMs) }, { signal }));
    return res.types.map((t) => formatProfileType(t)).sort();
  }

  async labelNames(type: string, selector: string, r: Range, signal?: AbortSignal): Promise<string[]> {
    const res = await this.call(() =>
      this.parca.labels({ match: selector === '{}' ? [] : [selector], start: ts(r.startMs), end: ts(r.endMs), profileType: type }, { signal }),
    );
    return res.labelNames.filter((n) => !n.startsWith('__')).sort();
  }

  async labelValues(type: string, name: string, selector: string, r: Range, signal?: AbortSignal): Promise<string[]> {
    const res = await this.call(() =>
      this.parca.values({ labelName: name, match: selector === '{}' ? [] : [selector], start: ts(r.startMs), end: ts(r.endMs), profileType: type }, { signal }),
    );
    return res.labelValues.sort();
  }

  async series(query: string, r: Range, sumBy: string[], points: number, signal?: AbortSignal): Promise<SeriesData[]> {
    const res = await this.call(() => this.parca.queryRange({ query, start: ts(r.startMs), end: ts(r.endMs), limit: points, sumBy }, { signal }));
    return res.series.map((s) => ({
      labels: (s.labelset?.labels ?? []).map((l) => [l.name, l.value] as [string, string]),
      points: s.samples.map(
        (p) => [Number(p.timestamp?.seconds ?? 0n) * 1000 + Math.round((p.timestamp?.nanos ?? 0) / 1e6), p.valuePerSecond] as [number, number],
      ),
    }));
  }

  async flamegraph(query: string, r: Range, signal?: AbortSignal): Promise<FlameReport> {
    return this.flame(
      create(Q.QueryRequestSchema, {
        mode: Q.QueryRequest_Mode.MERGE,
        options: { case: 'merge', value: { query, start: ts(r.startMs), end: ts(r.endMs) } },
        reportType: Q.QueryRequest_ReportType.FLAMEGRAPH_ARROW,
      }),
      signal,
    );
  }

  /** B − A, both merged over their ranges; unless `absolute`, the smaller side is scaled to the other's total (Parca's rule). */
  async diff(a: { query: string; range: Range }, b: { query: string; range: Range }, absolute: boolean, signal?: AbortSignal): Promise<FlameReport> {
    const side = (s: { query: string; range: Range }) =>
      create(Q.ProfileDiffSelectionSchema, {
        mode: Q.ProfileDiffSelection_Mode.MERGE,
        options: { case: 'merge', value: { query: s.query, start: ts(s.range.startMs), end: ts(s.range.endMs) } },
      });
    return this.flame(
      create(Q.QueryRequestSchema, {
        mode: Q.QueryRequest_Mode.DIFF,
        options: { case: 'diff', value: { a: side(a), b: side(b), absolute } },
        reportType: Q.QueryRequest_ReportType.FLAMEGRAPH_ARROW,
      }),
      signal,
    );
  }

  /** The merged profile as gzip pprof, what `go tool pprof` reads. */
  async pprof(query: string, r: Range, signal?: AbortSignal): Promise<Uint8Array> {
    const res = await this.call(() =>
      this.parca.query(
        {
          mode: Q.QueryRequest_Mode.MERGE,
          options: { case: 'merge', value: { query, start: ts(r.startMs), end: ts(r.endMs) } },
          reportType: Q.QueryRequest_ReportType.PPROF,
        },
        { signal },
      ),
    );
    if (res.report.case !== 'pprof') throw new ApiError('server', `expected a pprof report, got ${res.report.case ?? 'nothing'}`);
    return res.report.value;
  }

  private async flame(req: queryV1alpha1.QueryRequest, signal?: AbortSignal): Promise<FlameReport> {
    const res = await this.call(() => this.parca.query(req, { signal }));
    if (res.report.case !== 'flamegraphArrow') throw new ApiError('server', `expected a flame graph, got ${res.report.case ?? 'nothing'}`);
    const fg = res.report.value;
    return { record: fg.record, unit: fg.unit, total: Number(res.total), trimmed: Number(fg.trimmed) };
  }
}

import { Code, ConnectError, type Interceptor, type Transport } from '@connectrpc/connect';
import { createConnectTransport } from '@connectrpc/connect-web';

/** A failure reported by (or on the way to) the server: the CLI prints it and exits 1. */
export class ApiError extends Error {}

/**
 * Connect (binary) over the CLI's own fetch, so every call goes through the injected fetch and
 * works against the gateway and the all-in-one alike (both serve Connect on their one port).
 */
export function connectTransport(base: string, token: string, fetchFn: typeof fetch): Transport {
  const bearer: Interceptor = (next) => (req) => {
    req.header.set('authorization', `Bearer ${token}`);
    return next(req);
  };
  return createConnectTransport({ baseUrl: base, fetch: fetchFn, useBinaryFormat: true, interceptors: [bearer] });
}

/** Runs one RPC; its error becomes an ApiError that says what went wrong in the user's terms. */
export async function call<T>(base: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw apiError(base, err);
  }
}

const CODE_NAMES: Partial<Record<Code, string>> = {
  [Code.InvalidArgument]: 'invalid_argument',
  [Code.NotFound]: 'not_found',
  [Code.FailedPrecondition]: 'failed_precondition',
  [Code.ResourceExhausted]: 'resource_exhausted',
  [Code.Unimplemented]: 'unimplemented',
  [Code.Unavailable]: 'unavailable',
  [Code.DeadlineExceeded]: 'deadline_exceeded',
  [Code.Internal]: 'internal',
};

export function apiError(base: string, err: unknown): ApiError {
  const unreachable = networkFailure(err);
  if (unreachable) return new ApiError(`cannot reach ${base}: ${unreachable}`);
  const e = ConnectError.from(err);
  return describe(e.code, e.rawMessage);
}

/** The same wording for an HTTP JSON error (`{code, message}`), e.g. from /ingest. */
export function httpError(status: number, text: string): ApiError {
  let message = text.trim();
  try {
    const body = JSON.parse(text) as { message?: unknown };
    if (typeof body.message === 'string') message = body.message;
  } catch {
    // not JSON: the text as it came
  }
  const code = status === 401 ? Code.Unauthenticated : status === 403 ? Code.PermissionDenied : undefined;
  if (code !== undefined) return describe(code, message);
  return new ApiError(`error ${status}: ${message || '(empty response)'}`);
}

function describe(code: Code, message: string): ApiError {
  if (code === Code.Unauthenticated) return new ApiError(`authentication failed: ${message} (check --token / FIRN_TOKEN: a tenant API token)`);
  if (code === Code.PermissionDenied) return new ApiError(`permission denied: ${message}`);
  return new ApiError(`error ${CODE_NAMES[code] ?? Code[code]?.toLowerCase() ?? code}: ${message}`);
}

/** fetch's own failure (refused, DNS, TLS), found along the error's cause chain. */
function networkFailure(err: unknown): string | undefined {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && /^E[A-Z]+$/.test(code)) return e.message;
    if (e instanceof TypeError && e.message === 'fetch failed') {
      const inner = e.cause instanceof Error ? e.cause.message : undefined;
      return inner ?? e.message;
    }
  }
  return undefined;
}

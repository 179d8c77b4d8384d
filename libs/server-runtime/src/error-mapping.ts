import { Code, ConnectError } from '@connectrpc/connect';
import { ErrorCode, FirnError } from '@firn/errors';

/**
 * The one place where error codes become wire statuses. Everything that leaves a process goes
 * through `toConnectError` (RPC) or `toHttpError` (plain HTTP).
 */
const TABLE: Record<ErrorCode, { grpc: Code; http: number }> = {
  [ErrorCode.InvalidArgument]: { grpc: Code.InvalidArgument, http: 400 },
  [ErrorCode.OutOfRange]: { grpc: Code.OutOfRange, http: 400 },
  [ErrorCode.FailedPrecondition]: { grpc: Code.FailedPrecondition, http: 400 },
  [ErrorCode.Unauthenticated]: { grpc: Code.Unauthenticated, http: 401 },
  [ErrorCode.PermissionDenied]: { grpc: Code.PermissionDenied, http: 403 },
  [ErrorCode.NotFound]: { grpc: Code.NotFound, http: 404 },
  [ErrorCode.AlreadyExists]: { grpc: Code.AlreadyExists, http: 409 },
  [ErrorCode.Aborted]: { grpc: Code.Aborted, http: 409 },
  [ErrorCode.ResourceExhausted]: { grpc: Code.ResourceExhausted, http: 429 },
  [ErrorCode.Canceled]: { grpc: Code.Canceled, http: 499 },
  [ErrorCode.Unimplemented]: { grpc: Code.Unimplemented, http: 501 },
  [ErrorCode.Unavailable]: { grpc: Code.Unavailable, http: 503 },
  [ErrorCode.DeadlineExceeded]: { grpc: Code.DeadlineExceeded, http: 504 },
  [ErrorCode.Internal]: { grpc: Code.Internal, http: 500 },
};

const HTTP_TO_CODE: Record<number, ErrorCode> = {
  400: ErrorCode.InvalidArgument,
  401: ErrorCode.Unauthenticated,
  403: ErrorCode.PermissionDenied,
  404: ErrorCode.NotFound,
  409: ErrorCode.AlreadyExists,
  413: ErrorCode.ResourceExhausted,
  429: ErrorCode.ResourceExhausted,
  501: ErrorCode.Unimplemented,
  503: ErrorCode.Unavailable,
  504: ErrorCode.DeadlineExceeded,
};

/** Logged once per unknown error, by whoever calls `classify`. */
export interface ClassifiedError {
  code: ErrorCode;
  /** Safe to send to clients. */
  message: string;
  details: Record<string, string | number | boolean>;
  /** True when the error was not a FirnError: the caller logs it with its stack. */
  unexpected: boolean;
}

export function classify(err: unknown): ClassifiedError {
  if (err instanceof FirnError) return { code: err.code, message: err.message, details: err.details, unexpected: false };
  if (err instanceof ConnectError) {
    const code = (Object.entries(TABLE).find(([, v]) => v.grpc === err.code)?.[0] ?? ErrorCode.Internal) as ErrorCode;
    // An INTERNAL from a library or a downstream call is as unexplained as any other crash.
    if (code === ErrorCode.Internal) return { code, message: 'internal error', details: {}, unexpected: true };
    return { code, message: err.rawMessage, details: {}, unexpected: false };
  }
  // Body-parser style errors (express) carry an HTTP status; they are the client's fault.
  const status = typeof err === 'object' && err !== null && 'status' in err ? Number((err as { status: unknown }).status) : NaN;
  if (status >= 400 && status < 500) {
    const message = err instanceof Error ? err.message : 'bad request';
    return { code: HTTP_TO_CODE[status] ?? ErrorCode.InvalidArgument, message, details: {}, unexpected: false };
  }
  return { code: ErrorCode.Internal, message: 'internal error', details: {}, unexpected: true };
}

export function httpStatusOf(code: ErrorCode): number {
  return TABLE[code].http;
}

/**
 * Seconds a client should wait before retrying, or undefined when retrying cannot help.
 * Retryable refusals say when: rate and concurrency limits carry their own wait; UNAVAILABLE
 * (a dependency down, the process starting or draining) gets a short default. Permanent ones
 * (size: RESOURCE_EXHAUSTED without a wait, 413; shape: INVALID_ARGUMENT, 400) carry none.
 */
export function retryAfterOf(c: ClassifiedError): number | undefined {
  const given = c.details['retry_after_seconds'];
  if (typeof given === 'number') return given;
  return c.code === ErrorCode.Unavailable ? DEFAULT_RETRY_AFTER_SECONDS : undefined;
}

/** For UNAVAILABLE without a better estimate: outages we see (NATS, S3, a restart) are seconds. */
export const DEFAULT_RETRY_AFTER_SECONDS = 1;

export function toConnectError(err: unknown): ConnectError {
  const c = classify(err);
  const e = new ConnectError(c.message, TABLE[c.code].grpc);
  for (const [k, v] of Object.entries(c.details)) e.metadata.set(`firn-${k.replace(/_/g, '-')}`, String(v));
  const retryAfter = retryAfterOf(c);
  if (retryAfter !== undefined) e.metadata.set('retry-after', String(retryAfter));
  return e;
}

export interface HttpError {
  status: number;
  headers: Record<string, string>;
  body: { code: ErrorCode; message: string; details?: Record<string, string | number | boolean> };
}

export function toHttpError(err: unknown): HttpError {
  const c = classify(err);
  const headers: Record<string, string> = {};
  const retryAfter = retryAfterOf(c);
  if (retryAfter !== undefined) headers['retry-after'] = String(retryAfter);
  const body = Object.keys(c.details).length ? { code: c.code, message: c.message, details: c.details } : { code: c.code, message: c.message };
  return { status: httpStatusFor(err, c, retryAfter), headers, body };
}

/**
 * A FirnError's own httpStatus wins; then a body-parser style 4xx keeps its status; then the
 * code's default, except that RESOURCE_EXHAUSTED without a wait is a size limit: 413, not the
 * 429 that would invite a retry of bytes that can never be accepted.
 */
function httpStatusFor(err: unknown, c: ClassifiedError, retryAfter: number | undefined): number {
  if (err instanceof FirnError && err.httpStatus !== undefined) return err.httpStatus;
  const status = !(err instanceof FirnError) && typeof err === 'object' && err !== null && 'status' in err ? Number((err as { status: unknown }).status) : NaN;
  if (status >= 400 && status < 500) return status;
  if (c.code === ErrorCode.ResourceExhausted && retryAfter === undefined) return 413;
  return TABLE[c.code].http;
}

/**
 * Firn's error codes. Domain code throws a FirnError with one of these codes; the edge
 * (libs/server-runtime) maps it once to a gRPC/Connect code and an HTTP status.
 * The names follow gRPC's canonical codes so the mapping is obvious.
 */
export const ErrorCode = {
  InvalidArgument: 'invalid_argument',
  NotFound: 'not_found',
  AlreadyExists: 'already_exists',
  Unauthenticated: 'unauthenticated',
  PermissionDenied: 'permission_denied',
  ResourceExhausted: 'resource_exhausted',
  FailedPrecondition: 'failed_precondition',
  Aborted: 'aborted',
  OutOfRange: 'out_of_range',
  Unavailable: 'unavailable',
  DeadlineExceeded: 'deadline_exceeded',
  Canceled: 'canceled',
  Unimplemented: 'unimplemented',
  Internal: 'internal',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

export interface FirnErrorOptions {
  /** Underlying cause; logged, never sent to clients. */
  cause?: unknown;
  /** Safe, client-visible structured details (e.g. the limit's name, retry-after seconds). */
  details?: Record<string, string | number | boolean>;
  /** A more precise HTTP status than the code's default (e.g. 413 for a body over the size limit). */
  httpStatus?: number;
}

export class FirnError extends Error {
  readonly code: ErrorCode;
  readonly details: Record<string, string | number | boolean>;
  readonly httpStatus: number | undefined;

  constructor(code: ErrorCode, message: string, options: FirnErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'FirnError';
    this.code = code;
    this.details = options.details ?? {};
    this.httpStatus = options.httpStatus;
  }

  static invalidArgument(message: string, details?: FirnErrorOptions['details']): FirnError {
    return new FirnError(ErrorCode.InvalidArgument, message, { details });
  }

  static notFound(message: string, details?: FirnErrorOptions['details']): FirnError {
    return new FirnError(ErrorCode.NotFound, message, { details });
  }

  static unavailable(message: string, cause?: unknown): FirnError {
    return new FirnError(ErrorCode.Unavailable, message, { cause });
  }

  static internal(message: string, cause?: unknown): FirnError {
    return new FirnError(ErrorCode.Internal, message, { cause });
  }
}

export function isFirnError(err: unknown, code?: ErrorCode): err is FirnError {
  return err instanceof FirnError && (code === undefined || err.code === code);
}

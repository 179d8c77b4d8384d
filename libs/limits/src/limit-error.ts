import { ErrorCode, FirnError } from '@firn/errors';
import { snakeName, type LimitName } from './tenant-limits';

/**
 * A tenant went over one of its limits. Rate and concurrency limits are worth retrying
 * (429 / RESOURCE_EXHAUSTED with Retry-After); size limits are not (413 / RESOURCE_EXHAUSTED).
 * `details.limit` names the limit (snake_case), so clients, logs and metrics agree.
 */
export function limitExceeded(limit: LimitName, message: string, opts: { retryAfterSeconds?: number; httpStatus?: number } = {}): FirnError {
  const details: Record<string, string | number> = { limit: snakeName(limit) };
  if (opts.retryAfterSeconds !== undefined) details['retry_after_seconds'] = Math.max(1, Math.ceil(opts.retryAfterSeconds));
  return new FirnError(ErrorCode.ResourceExhausted, `${message} (limit ${snakeName(limit)})`, { details, httpStatus: opts.httpStatus });
}

/** The limit named by a FirnError's details, if any. */
export function limitOf(err: unknown): string | undefined {
  if (!(err instanceof FirnError)) return undefined;
  const l = err.details['limit'];
  return typeof l === 'string' ? l : undefined;
}

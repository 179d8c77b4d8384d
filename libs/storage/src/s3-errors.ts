import { FirnError, isFirnError } from '@firn/errors';

/** The parts of an AWS SDK (or Node socket) error we classify on. */
interface ErrorShape {
  name?: unknown;
  code?: unknown;
  message?: unknown;
  cause?: unknown;
  $metadata?: { httpStatusCode?: number };
}

function shape(err: unknown): ErrorShape {
  return typeof err === 'object' && err !== null ? (err as ErrorShape) : {};
}

export function httpStatusOf(err: unknown): number | undefined {
  return shape(err).$metadata?.httpStatusCode;
}

/** NoSuchBucket is also a 404, but it is a broken deployment, not a missing object. */
export function isNoSuchKey(err: unknown): boolean {
  const { name } = shape(err);
  if (name === 'NoSuchBucket') return false;
  return name === 'NoSuchKey' || name === 'NotFound' || httpStatusOf(err) === 404;
}

export function isInvalidRange(err: unknown): boolean {
  return shape(err).name === 'InvalidRange' || httpStatusOf(err) === 416;
}

const NETWORK_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ERR_STREAM_PREMATURE_CLOSE',
]);

/** A failure of the connection itself (also when wrapped as a cause), as opposed to an S3 error reply. */
export function isNetworkError(err: unknown, depth = 0): boolean {
  const e = shape(err);
  if (typeof e.code === 'string' && NETWORK_CODES.has(e.code)) return true;
  if (e.name === 'TimeoutError') return true;
  return e.cause !== undefined && depth < 5 && isNetworkError(e.cause, depth + 1);
}

/**
 * Maps an SDK failure to a FirnError once, here. Anything that means "the backend can't serve us
 * right now or is misconfigured" (network, 5xx, throttling, credentials, missing bucket) becomes
 * unavailable so callers retry or report not-ready; other 4xx replies mean we sent a bad request.
 */
export function toFirnError(err: unknown, what: string): FirnError {
  if (isFirnError(err)) return err;
  const e = shape(err);
  const status = httpStatusOf(err);
  const name = typeof e.name === 'string' ? e.name : 'Error';
  const detail = `${name}${status === undefined ? '' : ` (HTTP ${status})`}: ${typeof e.message === 'string' ? e.message : String(err)}`;
  if (name === 'NoSuchBucket') return FirnError.unavailable(`${what}: bucket does not exist: ${detail}`, err);
  if (isNoSuchKey(err)) return FirnError.notFound(`${what}: object not found`);
  if (isNetworkError(err)) return FirnError.unavailable(`${what}: cannot reach S3: ${detail}`, err);
  if (status !== undefined && (status >= 500 || status === 401 || status === 403 || status === 408 || status === 429)) {
    return FirnError.unavailable(`${what}: ${detail}`, err);
  }
  return FirnError.internal(`${what}: ${detail}`, err);
}

import { ErrorCode, FirnError } from '@firn/errors';
import { ErrorCode as NatsCode, NatsError } from 'nats';
import { CasConflictError } from './cas-conflict';

/** JetStream API error codes we branch on (nats-server's errors.json). */
export const JsApiCode = {
  StreamNotFound: 10059,
  ConsumerNotFound: 10014,
  NoMessageFound: 10037,
  /** "wrong last sequence": a conditional publish (KV compare-and-set) lost. */
  WrongLastSequence: 10071,
} as const;

export function jsApiCode(err: unknown): number | undefined {
  return err instanceof NatsError ? err.api_error?.err_code : undefined;
}

/**
 * Maps a nats.js error to a FirnError once, at the adapter boundary, so callers never see SDK
 * error types. `what` names the operation for the message ("publish to ingest.t1").
 */
export function toFirnError(err: unknown, what: string): FirnError {
  if (err instanceof FirnError) return err;
  if (!(err instanceof NatsError)) {
    return FirnError.unavailable(`${what} failed: ${err instanceof Error ? err.message : String(err)}`, err);
  }
  const api = err.api_error;
  if (api) {
    const detail = `${what}: ${api.description} (JetStream error ${api.err_code ?? api.code})`;
    if (api.err_code === JsApiCode.WrongLastSequence) return new CasConflictError(`${what}: written concurrently (${api.description})`, err);
    if (api.code === 404) return new FirnError(ErrorCode.NotFound, detail, { cause: err });
    if (api.code === 400) return new FirnError(ErrorCode.InvalidArgument, detail, { cause: err });
    if (/maximum (bytes|messages)|resource|storage/i.test(api.description)) {
      return new FirnError(ErrorCode.ResourceExhausted, detail, { cause: err });
    }
    return FirnError.unavailable(detail, err);
  }
  switch (err.code) {
    case NatsCode.MaxPayloadExceeded:
      return new FirnError(ErrorCode.InvalidArgument, `${what}: message larger than the server's max_payload`, { cause: err });
    case NatsCode.NoResponders:
      // For a JetStream publish this means no stream captures the subject, or JetStream is off.
      return FirnError.unavailable(`${what}: no JetStream responder (no stream for the subject, or JetStream disabled)`, err);
    case NatsCode.Timeout:
      // Callers treat a missing ack like an outage: retry later (publishes are deduplicated by msgId).
      return FirnError.unavailable(`${what}: timed out waiting for NATS`, err);
    default:
      return FirnError.unavailable(`${what} failed: ${err.message} (${err.code})`, err);
  }
}

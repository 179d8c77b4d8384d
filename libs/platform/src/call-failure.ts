import { Code, ConnectError } from '@connectrpc/connect';

/**
 * Whether a failed read-only call between Firn processes (gateway → querier, querier → peer) may
 * go to another endpoint. Yes when the endpoint said UNAVAILABLE (starting, draining, missing what
 * the call needs), and when the call died on the wire without an answer: a connection reset, or a
 * stream reset with INTERNAL_ERROR, which Node's HTTP/2 sends for streams racing a graceful
 * server's GOAWAY (nodejs/node#55888), or a session destroyed under the call. connect-node reports
 * those as INTERNAL, ABORTED or CANCELED (though the caller cancelled nothing), like a
 * server's own error; the difference is that only an answer carries a `grpc-status`. An answer
 * (INTERNAL from a bug, INVALID_ARGUMENT, ...) would be the same elsewhere: it is final. So is
 * anything once the caller's own signal ended.
 */
export function worthAnotherEndpoint(err: unknown, signal: AbortSignal): boolean {
  if (signal.aborted) return false;
  const ce = ConnectError.from(err);
  if (ce.code === Code.Unavailable) return true;
  return diedOnTheWire(ce) && WIRE_CODES.has(ce.code);
}

/** What connect-node makes of a reset stream, a destroyed session or a reset connection. */
const WIRE_CODES: ReadonlySet<Code> = new Set([Code.Internal, Code.Aborted, Code.Canceled, Code.Unknown]);

/** No status from the other side: the transport failed, the endpoint never answered. */
function diedOnTheWire(ce: ConnectError): boolean {
  return !ce.metadata.has('grpc-status') && !ce.metadata.has('grpc-status-details-bin');
}

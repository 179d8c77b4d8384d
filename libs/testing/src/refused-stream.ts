import { ConnectError, type Interceptor } from '@connectrpc/connect';

/** Tries per call: the first, and two more on new connections. */
const ATTEMPTS = 3;

/**
 * Whether a call failed because its HTTP/2 stream was refused (REFUSED_STREAM) with no answer:
 * by the server, or by the client's own HTTP/2 session, which refuses a request still queued
 * when a GOAWAY arrives (nghttp2's START_STREAM_NOT_ALLOWED, seen when a request is started in
 * the same event-loop turn that reads a draining server's GOAWAY). connect-node reports both as
 * "Stream closed with error code NGHTTP2_REFUSED_STREAM" (INTERNAL) or "http/2 stream closed
 * with error code REFUSED_STREAM" (UNAVAILABLE).
 */
export function refusedUnprocessed(err: unknown): boolean {
  const ce = ConnectError.from(err);
  if (ce.metadata.has('grpc-status')) return false;
  const cause = ce.cause instanceof Error ? ce.cause.message : '';
  return /REFUSED_STREAM/.test(ce.rawMessage) || /REFUSED_STREAM/.test(cause);
}

/**
 * What every standard HTTP/2 client does and connect-node does not: a unary call whose stream
 * was refused before any processing is sent again (RFC 9113 §8.7: "Any request that was sent on
 * the reset stream can be safely retried"; Go's net/http and grpc-go, grpc-js and browsers retry
 * it transparently). Tests that read through a rolling restart use it to be such a client: only
 * this one failure is retried, and only for unary calls, so every other failure still counts.
 */
export function retryRefusedStreams(onRetry?: (err: unknown) => void): Interceptor {
  return (next) => async (req) => {
    for (let attempt = 1; ; attempt++) {
      try {
        return await next(req);
      } catch (err) {
        if (req.stream || req.signal.aborted || attempt >= ATTEMPTS || !refusedUnprocessed(err)) throw err;
        onRetry?.(err);
      }
    }
  };
}

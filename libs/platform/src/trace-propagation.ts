import type { Interceptor } from '@connectrpc/connect';
import { traceHeaders } from '@firn/observability';

/**
 * Client interceptor for internal calls (peer query shares, the gateway's forwarded queries):
 * sends the caller's active trace context as W3C `traceparent`/`tracestate`, which the callee's
 * one-port server continues (no auto-instrumentation does this for Connect).
 */
export const propagateTraceContext: Interceptor = (next) => (req) => {
  for (const [k, v] of Object.entries(traceHeaders())) req.header.set(k, v);
  return next(req);
};

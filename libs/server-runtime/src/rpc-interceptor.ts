import { ConnectError, type Interceptor } from '@connectrpc/connect';
import { Counter, Histogram, currentRequestContext, metricName, type Logger, type Registry } from '@firn/observability';
import { classify, toConnectError } from './error-mapping';
import { refuseMalformedMessages } from './malformed-request';

/**
 * Runs around every RPC: records the operation in the request context, counts and times calls by
 * procedure and gRPC code, and maps every thrown error to a ConnectError exactly once (unknown
 * errors are logged with their stack and leave as INTERNAL without internals). A streamed request
 * message that fails to decode is the client's fault: INVALID_ARGUMENT, not INTERNAL.
 */
export function rpcInterceptor(component: string, registry: Registry, log: Logger): Interceptor {
  const calls = new Counter({
    name: metricName(component, 'rpc_requests_total'),
    help: 'RPCs handled, by procedure and gRPC code.',
    labelNames: ['procedure', 'code'],
    registers: [registry],
  });
  const duration = new Histogram({
    name: metricName(component, 'rpc_duration_seconds'),
    help: 'RPC handling time by procedure.',
    labelNames: ['procedure'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry],
  });
  return (next) => async (req) => {
    const procedure = `${req.service.typeName}/${req.method.name}`;
    const ctx = currentRequestContext();
    if (ctx) ctx.operation = procedure;
    const end = duration.startTimer({ procedure });
    try {
      // A streamed request is decoded while the handler reads it, so its decoding failures pass here.
      const res = await next(req.stream ? { ...req, message: refuseMalformedMessages(req.message) } : req);
      calls.inc({ procedure, code: 'ok' });
      return res;
    } catch (err) {
      const c = classify(err);
      if (c.unexpected) log.error({ err, procedure }, 'rpc failed with an unexpected error');
      else log.debug({ procedure, code: c.code, reason: c.message }, 'rpc rejected');
      const ce = err instanceof ConnectError && !c.unexpected ? err : toConnectError(err);
      calls.inc({ procedure, code: c.code });
      throw ce;
    } finally {
      end();
    }
  };
}

import { ConnectError, type Interceptor } from '@connectrpc/connect';
import { currentRequestContext, type Logger, type Registry } from '@firn/observability';
import { classify, toConnectError } from './error-mapping';
import { refuseMalformedMessages } from './malformed-request';
import { RpcMetrics } from './runtime.metrics';

/**
 * Runs around every RPC: records the operation in the request context, counts and times calls by
 * procedure and gRPC code, and maps every thrown error to a ConnectError exactly once (unknown
 * errors are logged with their stack and leave as INTERNAL without internals). A streamed request
 * message that fails to decode is the client's fault: INVALID_ARGUMENT, not INTERNAL.
 */
export function rpcInterceptor(component: string, registry: Registry, log: Logger): Interceptor {
  const { calls, duration } = new RpcMetrics(registry, component);
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

import { trace } from '@opentelemetry/api';
import { createLogger, createMetricsRegistry } from '@firn/observability';
import { OnePortServer } from './one-port-server';
import { Readiness } from './readiness';
import { rpcInterceptor } from './rpc-interceptor';
import { RpcRegistry } from './runtime.module';

/**
 * For tests of the RPC layer: a ready OnePortServer on a free loopback port serving the services
 * `register` adds, behind the runtime's RPC interceptor as in a real server. Stop it with
 * `server.drain(ms)`.
 */
export async function startRpcTestServer(
  register: (rpc: RpcRegistry) => void,
  readMaxBytes?: number,
): Promise<{ server: OnePortServer; port: number; base: string }> {
  const readiness = new Readiness();
  readiness.markRunning();
  const log = createLogger({ component: 'test', level: 'silent' });
  const registry = createMetricsRegistry('test', { defaultMetrics: false });
  const server = new OnePortServer({ component: 'test', host: '127.0.0.1', port: 0, log, registry, readiness, tracer: trace.getTracer('test') });
  const rpc = new RpcRegistry();
  register(rpc);
  server.setApp({ routes: (r) => rpc.routes(r, [rpcInterceptor('test', registry, log)]), readMaxBytes });
  const { port } = await server.listen();
  return { server, port, base: `http://127.0.0.1:${port}` };
}

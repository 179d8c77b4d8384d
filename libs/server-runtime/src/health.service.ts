import { setTimeout as sleep } from 'node:timers/promises';
import { create } from '@bufbuild/protobuf';
import { Code, ConnectError, type HandlerContext } from '@connectrpc/connect';
import { grpcHealthV1 } from '@firn/proto';
import type { Readiness } from './readiness';
import type { RpcRegistry } from './runtime.module';

const { Health, HealthCheckResponseSchema, HealthCheckResponse_ServingStatus: Status } = grpcHealthV1;

/**
 * The standard gRPC health protocol over our readiness: SERVING exactly when /readyz is 200.
 * Kubernetes gRPC probes and grpc_health_probe work against any Firn port.
 */
export function registerHealthService(rpc: RpcRegistry, readiness: Readiness, watchIntervalMs = 1000): void {
  const known = (service: string): boolean => service === '' || rpc.serviceNames.includes(service);
  const status = async (): Promise<grpcHealthV1.HealthCheckResponse_ServingStatus> =>
    (await readiness.evaluate()).ready ? Status.SERVING : Status.NOT_SERVING;

  rpc.add(Health, {
    async check(req) {
      if (!known(req.service)) throw new ConnectError(`unknown service ${JSON.stringify(req.service)}`, Code.NotFound);
      return create(HealthCheckResponseSchema, { status: await status() });
    },
    async *watch(req, ctx: HandlerContext) {
      let last: grpcHealthV1.HealthCheckResponse_ServingStatus | undefined;
      while (!ctx.signal.aborted) {
        const now = known(req.service) ? await status() : Status.SERVICE_UNKNOWN;
        if (now !== last) {
          last = now;
          yield create(HealthCheckResponseSchema, { status: now });
        }
        await sleep(watchIntervalMs, undefined, { signal: ctx.signal }).catch(() => undefined);
      }
    },
  });
}

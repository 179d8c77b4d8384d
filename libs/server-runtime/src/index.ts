export { classify, grpcCodeOf, httpStatusOf, toConnectError, toHttpError, type ClassifiedError, type HttpError } from './error-mapping';
export { registerHealthService } from './health.service';
export { HttpErrorFilter } from './http-error.filter';
export { OnePortServer, type AppHandlers, type HttpHandler, type OnePortServerOptions } from './one-port-server';
export { Readiness, type Check, type ReadinessReport } from './readiness';
export { rpcInterceptor } from './rpc-interceptor';
export { main, runServer, type BaseServerConfig, type RunOptions, type RunningServer, type ServerSpec, type Setup } from './run-server';
export { LOGGER, METRICS, NestPinoLogger, READINESS, RpcRegistry, RuntimeModule, TRACER, type RuntimeContext } from './runtime.module';

import { Global, Module, type DynamicModule, type LoggerService } from '@nestjs/common';
import type { ConnectRouter, Interceptor, ServiceImpl } from '@connectrpc/connect';
import type { DescService } from '@bufbuild/protobuf';
import type { Tracer } from '@opentelemetry/api';
import type { Logger, Registry } from '@firn/observability';
import type { Readiness } from './readiness';

/** Injection tokens for what the runtime gives every component. */
export const LOGGER = Symbol('firn.logger');
export const METRICS = Symbol('firn.metrics-registry');
export const READINESS = Symbol('firn.readiness');
export const TRACER = Symbol('firn.tracer');
/** How this server dies at a fault-injection crash point (a `Crash`). */
export const CRASH = Symbol('firn.crash');

/**
 * Dies at once, as a SIGKILL would: no drain, no flush. A server that owns its process kills the
 * process; one embedded in a test (the in-process cluster of @firn/testing) cuts the server off
 * from everything and throws, so the code after the crash point never runs.
 */
export type Crash = (reason: string) => never;

/** Components add their Connect services here (in a constructor or onModuleInit). */
export class RpcRegistry {
  private readonly services: Array<(router: ConnectRouter, outer: Interceptor[]) => void> = [];
  private readonly names = new Set<string>();
  private readonly servingHooks: Array<(baseUrl: string) => Promise<void>> = [];

  /**
   * `interceptors` run inside the process-wide ones (error mapping, metrics), e.g. auth. Connect
   * replaces (does not extend) router-level interceptors with per-service ones, so `routes`
   * passes both lists explicitly to every service.
   */
  add<S extends DescService>(service: S, impl: Partial<ServiceImpl<S>>, opts: { interceptors?: Interceptor[] } = {}): void {
    if (this.names.has(service.typeName)) throw new Error(`service ${service.typeName} registered twice`);
    this.names.add(service.typeName);
    const own = opts.interceptors ?? [];
    this.services.push((router, outer) => router.service(service, impl, { interceptors: [...outer, ...own] }));
  }

  get serviceNames(): string[] {
    return [...this.names];
  }

  /**
   * `hook` runs once these services answer and before the server is marked ready, with this
   * server's own base URL (loopback): calls a component makes to itself, e.g. a warm-up of the
   * path its first clients take. Start-up waits for it; it handles its own failures.
   */
  whenServing(hook: (baseUrl: string) => Promise<void>): void {
    this.servingHooks.push(hook);
  }

  /** Runs the `whenServing` hooks in order (runServer, once the routes are installed). */
  async serving(baseUrl: string): Promise<void> {
    for (const hook of this.servingHooks) await hook(baseUrl);
  }

  routes(router: ConnectRouter, outer: Interceptor[]): void {
    for (const register of this.services) register(router, outer);
  }
}

export interface RuntimeContext {
  component: string;
  log: Logger;
  registry: Registry;
  readiness: Readiness;
  tracer: Tracer;
  rpc: RpcRegistry;
  crash: Crash;
}

@Global()
@Module({})
export class RuntimeModule {
  static forRoot(ctx: RuntimeContext): DynamicModule {
    return {
      module: RuntimeModule,
      providers: [
        { provide: LOGGER, useValue: ctx.log },
        { provide: METRICS, useValue: ctx.registry },
        { provide: READINESS, useValue: ctx.readiness },
        { provide: TRACER, useValue: ctx.tracer },
        { provide: RpcRegistry, useValue: ctx.rpc },
        { provide: CRASH, useValue: ctx.crash },
      ],
      exports: [LOGGER, METRICS, READINESS, TRACER, RpcRegistry, CRASH],
    };
  }
}

/** Routes NestJS' own log lines into our JSON logger. */
export class NestPinoLogger implements LoggerService {
  constructor(private readonly pino: Logger) {}
  log(message: unknown, context?: string): void {
    this.pino.debug({ nest: context }, String(message));
  }
  error(message: unknown, trace?: string, context?: string): void {
    this.pino.error({ nest: context, trace }, String(message));
  }
  warn(message: unknown, context?: string): void {
    this.pino.warn({ nest: context }, String(message));
  }
  debug(message: unknown, context?: string): void {
    this.pino.debug({ nest: context }, String(message));
  }
  verbose(message: unknown, context?: string): void {
    this.pino.trace({ nest: context }, String(message));
  }
}

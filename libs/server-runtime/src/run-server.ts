import 'reflect-metadata';
import { Module, type DynamicModule, type INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ExpressAdapter } from '@nestjs/platform-express';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setFlagsFromString } from 'node:v8';
import { ConfigError, configDocs, loadConfig, wantsHelp, type ConfigDefinition, type ConfigOf, type SettingsDef } from '@firn/config';
import { createLogger, createMetricsRegistry, startTracing, type Logger } from '@firn/observability';
import { registerHealthService } from './health.service';
import { HttpErrorFilter } from './http-error.filter';
import { OnePortServer } from './one-port-server';
import { Readiness } from './readiness';
import { rpcInterceptor } from './rpc-interceptor';
import { NestPinoLogger, RpcRegistry, RuntimeModule, type Crash, type RuntimeContext } from './runtime.module';

/** Settings every server's schema must contain (from `serverSettings()` in @firn/config). */
export interface BaseServerConfig {
  host: string;
  port: number;
  logLevel: string;
  shutdownTimeoutMs: number;
  heapGrowingPercent: number;
  otlpEndpoint: string;
  traceSampleRatio: number;
}

export interface Setup {
  /** The component module(s) to run; they get the runtime tokens (logger, metrics, ...) injected. */
  modules: Array<DynamicModule | (new (...args: never[]) => unknown)>;
  /** Closes dependencies (bus, storage, cache) after every component has stopped and flushed. */
  close?: () => Promise<void>;
  /** Largest accepted RPC message, bytes. */
  readMaxBytes?: number;
  /** Printed once the server is ready (e.g. the all-in-one's quick-start lines). */
  banner?: () => string;
}

export interface ServerSpec<D extends SettingsDef> {
  component: string;
  config: ConfigDefinition<D>;
  /** Connects dependencies (registering readiness checks), returns the modules to run. */
  setup(config: ConfigOf<D> & BaseServerConfig, ctx: RuntimeContext): Promise<Setup>;
}

export interface RunningServer {
  readonly port: number;
  readonly ctx: RuntimeContext;
  /** Drain, stop components, flush, close dependencies. Resolves when done. */
  shutdown(reason: string): Promise<void>;
}

export interface RunOptions {
  argv: readonly string[];
  env: Readonly<Record<string, string | undefined>>;
  /** Install SIGTERM/SIGINT handlers that shut down and exit the process (entry points: true). */
  handleSignals?: boolean;
  /**
   * What a fault-injection crash point does (RuntimeContext.crash). Default: SIGKILL this process.
   * Servers embedded in a test process (the in-process cluster) pass their own.
   */
  crash?: Crash;
}

/**
 * Fixes V8's heap growing factor (`FIRN_HEAP_GROWING_PERCENT`; 0 leaves V8's adaptive one). At a
 * steady low request rate the adaptive factor falls to its minimum (1.1×, at least 8 MB), and a
 * server whose requests churn buffers then runs a full collection every second or two.
 */
export function applyHeapGrowing(percent: number): void {
  if (percent > 0) setFlagsFromString(`--heap-growing-percent=${percent}`);
}

const killProcess: Crash = () => {
  process.kill(process.pid, 'SIGKILL');
  throw new Error('unreachable: the process was SIGKILLed');
};

/**
 * The one lifecycle every Firn server follows: config → telemetry → listen (healthz answers,
 * readyz says "starting") → connect dependencies → start components → ready. On SIGTERM:
 * not ready → stop accepting → drain in-flight requests → components stop intake and flush →
 * dependencies close → exit 0.
 */
export async function runServer<D extends SettingsDef>(spec: ServerSpec<D>, opts: RunOptions): Promise<RunningServer> {
  const config = loadConfig(spec.config, { argv: opts.argv, env: opts.env }) as ConfigOf<D> & BaseServerConfig;
  // Process-wide: only a server that owns its process sets it (not one embedded in a test).
  if (opts.handleSignals) applyHeapGrowing(config.heapGrowingPercent);
  const log = createLogger({ component: spec.component, level: config.logLevel });
  const tracing = startTracing({ serviceName: `firn-${spec.component}`, otlpEndpoint: config.otlpEndpoint, sampleRatio: config.traceSampleRatio });
  const registry = createMetricsRegistry(spec.component);
  const readiness = new Readiness();
  const rpc = new RpcRegistry();
  registerHealthService(rpc, readiness);
  const crash: Crash = (reason) => {
    log.warn({ reason }, 'crashing now (fault injection)');
    log.flush();
    return (opts.crash ?? killProcess)(reason);
  };
  const ctx: RuntimeContext = { component: spec.component, log, registry, readiness, tracer: tracing.tracer, rpc, crash };
  const server = new OnePortServer({ component: spec.component, host: config.host, port: config.port, log, registry, readiness, tracer: tracing.tracer });
  const address = await server.listen();
  log.info({ host: address.address, port: address.port }, 'listening; connecting dependencies');

  let app: INestApplication | undefined;
  let setup: Setup | undefined;
  let stopping: Promise<void> | undefined;

  const shutdown = (reason: string): Promise<void> => {
    stopping ??= (async () => {
      log.info({ reason }, 'shutting down: draining');
      readiness.markDraining();
      // Which step a shutdown that runs out its budget is stuck in.
      let phase = 'draining requests';
      const deadline = setTimeout(() => {
        log.error({ timeoutMs: config.shutdownTimeoutMs, phase }, opts.handleSignals ? 'shutdown timed out; exiting anyway' : 'shutdown timed out');
        log.flush();
        // Only a server that owns its process exits it; an embedded one (tests) must not end its host.
        if (opts.handleSignals) process.exit(1);
      }, config.shutdownTimeoutMs);
      // A process owner keeps the deadline: a step waiting on a promise nothing will settle must
      // end in exit 1 and this log, not in an event loop that runs dry and exits 0 unflushed.
      if (!opts.handleSignals) deadline.unref();
      const { abandoned } = await server.drain(Math.floor(config.shutdownTimeoutMs / 2));
      if (abandoned > 0) log.warn({ abandoned }, 'requests still running after the drain period were cut');
      phase = 'stopping components (shutdown hooks)';
      if (app) await app.close();
      phase = 'closing dependencies';
      if (setup?.close) await setup.close();
      phase = 'exporting traces';
      await tracing.shutdown().catch((err: unknown) => log.warn({ err }, 'trace export failed at shutdown'));
      clearTimeout(deadline);
      log.info('stopped');
      log.flush();
    })();
    return stopping;
  };

  if (opts.handleSignals) {
    for (const sig of ['SIGTERM', 'SIGINT'] as const) {
      process.once(sig, () => {
        process.once(sig, () => process.exit(130));
        shutdown(sig).then(
          () => process.exit(0),
          (err: unknown) => {
            log.error({ err }, 'shutdown failed');
            log.flush();
            process.exit(1);
          },
        );
      });
    }
  }

  try {
    setup = await spec.setup(config, ctx);
    @Module({ imports: [RuntimeModule.forRoot(ctx), ...setup.modules] })
    class RootModule {}
    app = await NestFactory.create(RootModule, new ExpressAdapter(), { logger: new NestPinoLogger(log), abortOnError: false, bodyParser: false });
    app.useGlobalFilters(new HttpErrorFilter(log));
    await app.init();
    const express = app.getHttpAdapter().getInstance() as (req: IncomingMessage, res: ServerResponse) => void;
    const outer = [rpcInterceptor(spec.component, registry, log)];
    server.setApp({ routes: (r) => rpc.routes(r, outer), http: express, readMaxBytes: setup.readMaxBytes });
    await rpc.serving(loopbackUrl(address));
    readiness.markRunning();
    log.info({ port: address.port, services: rpc.serviceNames }, 'started');
    const banner = setup.banner?.();
    if (banner) process.stdout.write(`${banner}\n`);
  } catch (err) {
    log.error({ err }, 'start-up failed');
    await shutdown('start-up failed').catch(() => undefined);
    throw err;
  }

  return { port: address.port, ctx, shutdown };
}

/** This server's base URL as its own process reaches it: loopback when it listens on every address. */
function loopbackUrl(a: AddressInfo): string {
  const host = a.address === '0.0.0.0' ? '127.0.0.1' : a.address === '::' ? '::1' : a.address;
  return `http://${host.includes(':') ? `[${host}]` : host}:${a.port}`;
}

/**
 * Entry-point helper: run a server from `process.argv`/`process.env`; print `--help`; turn a
 * config error into one line on stderr and exit code 2; any other start-up error exits 1.
 */
export function main<D extends SettingsDef>(spec: ServerSpec<D>, argv: readonly string[], env: Readonly<Record<string, string | undefined>>): void {
  if (wantsHelp(argv)) {
    process.stdout.write(`firn ${spec.component}: settings (env or flag)\n\n${configDocs(spec.config)}\n`);
    process.exit(0);
  }
  runServer(spec, { argv, env, handleSignals: true }).catch((err: unknown) => {
    if (err instanceof ConfigError) {
      process.stderr.write(`firn-${spec.component}: config error: ${err.message}\n`);
      process.exit(2);
    }
    process.stderr.write(`firn-${spec.component}: failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}

export type { Logger };

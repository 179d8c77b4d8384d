import { setTimeout as sleep } from 'node:timers/promises';
import { connectBus, type Bus } from '@firn/bus';
import type { SettingsDef } from '@firn/config';
import { runServer, type RunningServer, type ServerSpec } from '@firn/server-runtime';
import { S3Store } from '@firn/storage';
import { startNats, startRedis, startS3Server, type S3Server, type TestNats, type TestRedis } from '@firn/testing';
import { startTcpProxy, type TcpProxy } from './tcp-proxy';

// Logs of in-process components go to this process's stdout: quiet unless a test asks for more.
const DEFAULT_LOG_LEVEL = 'warn';

export interface TestClusterOptions {
  /** Start a redis-server and point components at it (FIRN_SYMBOL_CACHE=redis). Default: memory cache. */
  redis?: boolean;
  /** FIRN_LOG_LEVEL of every component (default warn; `debug` to follow a failing test). */
  logLevel?: string;
}

export interface StartComponentOptions {
  /** Unique in the cluster; default `<component>-<n>`. Reserve it first to know its URL early. */
  name?: string;
  /** FIRN_* settings on top of the cluster's (NATS, S3, Redis, host, port, log level). */
  env?: Record<string, string>;
}

/** One component running in this process behind its own proxies. */
export interface ClusterComponent {
  readonly name: string;
  /** Where clients and peers reach it (its front proxy). */
  readonly url: string;
  readonly server: RunningServer;
  /** Resolves with the reason once it was killed or crashed at a fault-injection point. */
  readonly killed: Promise<string>;
  /** Its Prometheus exposition, read from its registry (works after a kill too). */
  metrics(): Promise<string>;
  /** Graceful stop: drain, flush, close dependencies (what SIGTERM does). */
  stop(): Promise<void>;
  /**
   * Crash: cut every connection it has (clients, NATS, S3, Redis) at once; no drain, no flush.
   * Its code may still run, but nothing it does reaches anyone: unacked NATS messages are
   * redelivered to others after their ack wait, as after a SIGKILL.
   */
  kill(reason?: string): void;
}

export interface TestCluster {
  readonly nats: TestNats;
  readonly s3: S3Server;
  readonly redis: TestRedis | undefined;
  /** The test's own connections (not through any component's proxy). */
  readonly bus: Bus;
  readonly store: S3Store;
  /** Reserves a component name and its URL before it starts (e.g. to tell peers about each other). */
  reserve(name: string): Promise<string>;
  /** Runs `spec` (a component's server spec, e.g. `ingesterServer`) in this process. */
  start<D extends SettingsDef>(spec: ServerSpec<D>, opts?: StartComponentOptions): Promise<ClusterComponent>;
  /** Stops live components gracefully, reaps killed ones, stops the servers. Idempotent. */
  stop(): Promise<void>;
}

/** How long a killed component's leftover shutdown may take at cluster stop before we leave it. */
const REAP_TIMEOUT_MS = 5_000;
/**
 * How long a live component's graceful stop may take at cluster stop (its own budget,
 * FIRN_SHUTDOWN_TIMEOUT_MS, is 25 s) before we leave it and say so, within the hook's 60 s.
 */
const STOP_LIMIT_MS = 40_000;

/**
 * Starts real nats-server (JetStream), s3rver and optionally redis-server, then lets a test run
 * any set of components in this process (Grafana Pyroscope's in-process test cluster, for Firn).
 * Each component gets free ports and its own cuttable proxies (see ClusterComponent.kill).
 */
export async function startTestCluster(opts: TestClusterOptions = {}): Promise<TestCluster> {
  const [nats, s3, redis] = await Promise.all([startNats(), startS3Server(), opts.redis ? startRedis() : Promise.resolve(undefined)]);
  const store = new S3Store({
    endpoint: s3.endpoint,
    bucket: s3.bucket,
    region: s3.region,
    accessKeyId: s3.accessKeyId,
    secretAccessKey: s3.secretAccessKey,
    forcePathStyle: true,
  });
  const bus = await connectBus({ servers: [nats.url], name: 'firn-test-cluster' });
  const fronts = new Map<string, TcpProxy>();
  const components: Array<{ name: string; handle: ClusterComponent; isKilled: () => boolean; proxies: TcpProxy[] }> = [];
  const counts = new Map<string, number>();
  let stopping: Promise<void> | undefined;

  const reserve = async (name: string): Promise<string> => {
    let front = fronts.get(name);
    if (!front) {
      front = await startTcpProxy();
      fronts.set(name, front);
    }
    return front.url('http');
  };

  async function start<D extends SettingsDef>(spec: ServerSpec<D>, o: StartComponentOptions = {}): Promise<ClusterComponent> {
    const n = (counts.get(spec.component) ?? 0) + 1;
    counts.set(spec.component, n);
    const name = o.name ?? `${spec.component}-${n}`;
    if (components.some((c) => c.name === name)) throw new Error(`cluster: a component named ${name} was started already`);
    const url = await reserve(name);
    const front = fronts.get(name) as TcpProxy;
    const [natsProxy, s3Proxy, redisProxy] = await Promise.all([
      startTcpProxy(nats.port),
      startTcpProxy(s3.port),
      redis ? startTcpProxy(redis.port) : undefined,
    ]);
    const proxies = [front, natsProxy, s3Proxy, ...(redisProxy ? [redisProxy] : [])];
    const env: Record<string, string> = {
      FIRN_HOST: '127.0.0.1',
      FIRN_PORT: '0',
      FIRN_LOG_LEVEL: opts.logLevel ?? DEFAULT_LOG_LEVEL,
      FIRN_NATS_URL: natsProxy.url('nats'),
      FIRN_STORAGE: 's3',
      FIRN_S3_ENDPOINT: s3Proxy.url('http'),
      FIRN_S3_BUCKET: s3.bucket,
      FIRN_S3_REGION: s3.region,
      FIRN_S3_ACCESS_KEY_ID: s3.accessKeyId,
      FIRN_S3_SECRET_ACCESS_KEY: s3.secretAccessKey,
      ...(redisProxy ? { FIRN_SYMBOL_CACHE: 'redis', FIRN_REDIS_URL: redisProxy.url('redis') } : { FIRN_SYMBOL_CACHE: 'memory' }),
      ...o.env,
    };
    let killedReason: string | undefined;
    let onKilled: (reason: string) => void = () => undefined;
    const killed = new Promise<string>((resolve) => (onKilled = resolve));
    let stopped: Promise<void> | undefined;
    const kill = (reason = 'killed by the test'): void => {
      if (killedReason !== undefined || stopped) return;
      killedReason = reason;
      for (const p of proxies) p.cut();
      onKilled(reason);
    };
    let server: RunningServer;
    try {
      server = await runServer(spec, {
        argv: [],
        env,
        // A crash point: cut it off, then stop the code after the crash point from running.
        crash: (reason) => {
          kill(reason);
          throw new Error(`${name} crashed (in-process test cluster): ${reason}`);
        },
      });
    } catch (err) {
      await Promise.all(proxies.map((p) => p.close()));
      fronts.delete(name);
      throw err;
    }
    front.setTarget(server.port);
    const handle: ClusterComponent = {
      name,
      url,
      server,
      killed,
      metrics: () => server.ctx.registry.metrics(),
      stop: () =>
        (stopped ??= (async () => {
          if (killedReason !== undefined) throw new Error(`${name} was killed (${killedReason}); nothing to stop gracefully`);
          await server.shutdown('stopped by the test');
          await Promise.all(proxies.map((p) => p.close()));
        })()),
      kill,
    };
    components.push({ name, handle, isKilled: () => killedReason !== undefined, proxies });
    return handle;
  }

  /** A killed component still holds timers and clients; shut it down with every cable cut. */
  const reap = async (server: RunningServer): Promise<void> => {
    await settlesWithin(server.shutdown('reaped after a kill'), REAP_TIMEOUT_MS);
  };

  /**
   * A graceful stop, bounded: one that overruns is named on stderr (its own "shutdown timed out"
   * log says which step it was in) and left behind, so the other components and servers still stop.
   */
  const stopLive = async (c: ClusterComponent): Promise<void> => {
    const stopped = await settlesWithin(
      c.stop().catch(() => reap(c.server)),
      STOP_LIMIT_MS,
    );
    if (!stopped) process.stderr.write(`test cluster: ${c.name} still stopping after ${STOP_LIMIT_MS} ms; left behind\n`);
  };

  return {
    nats,
    s3,
    redis,
    bus,
    store,
    reserve,
    start,
    stop: () =>
      (stopping ??= (async () => {
        // Should a step still hang, the test's hook timeout alone would not say which.
        let step = 'stopping components';
        const watchdog = setTimeout(
          () => process.stderr.write(`test cluster: stop still ${step} after ${STOP_LIMIT_MS + 10_000} ms\n`),
          STOP_LIMIT_MS + 10_000,
        );
        watchdog.unref();
        await Promise.all(components.map((c) => (c.isKilled() ? reap(c.handle.server) : stopLive(c.handle))));
        step = 'closing proxies';
        await Promise.all([...components.flatMap((c) => c.proxies), ...fronts.values()].map((p) => p.close()));
        step = 'closing its own NATS and S3 clients';
        await bus.close().catch(() => undefined);
        await store.close().catch(() => undefined);
        step = 'stopping nats-server, the S3 server and redis-server';
        await Promise.all([nats.stop(), s3.stop(), redis?.stop()]);
        clearTimeout(watchdog);
      })()),
  };
}

/** True once `p` settles (either way), false if `ms` pass first; `p` keeps running then. */
async function settlesWithin(p: Promise<unknown>, ms: number): Promise<boolean> {
  return Promise.race([
    p.then(
      () => true,
      () => true,
    ),
    sleep(ms, false, { ref: false }),
  ]);
}

/** Polls `fn` until `ok` accepts its value or `timeoutMs` passes; returns the last value either way. */
export async function eventually<T>(fn: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 20_000, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let v = await fn();
  while (!ok(v) && Date.now() < deadline) {
    await sleep(everyMs);
    v = await fn();
  }
  return v;
}

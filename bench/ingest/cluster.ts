// The write path as separate processes on loopback: nats-server, object storage (a local dir or
// s3rver), one gateway and one ingester, each started as an operator would start it.
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { connectBus, type Bus } from '@firn/bus';
import { INGEST_CONSUMER, INGEST_STREAM } from '@firn/ingest-log';
import { LocalDirStore, S3Store, type ObjectStore } from '@firn/storage';
import { Scope, issueToken, writeTokenFile } from '@firn/tenancy';
import {
  freePort,
  makeTempDir,
  removeDir,
  spawnServer,
  startNats,
  startS3Server,
  withPortRetry,
  type ServerProcess,
  type TestNats,
  type S3Server,
} from '@firn/testing';

const ROOT = resolve(__dirname, '..', '..');

export interface ClusterOptions {
  storage: 'local' | 's3';
  tenants: string[];
  ingesterEnv?: Record<string, string>;
  gatewayEnv?: Record<string, string>;
  /** Node flags per app, e.g. --cpu-prof (not allowed in NODE_OPTIONS). */
  ingesterNodeArgs?: string[];
  gatewayNodeArgs?: string[];
  logLevel?: string;
}

export interface AppProcess {
  base: string;
  pid: number;
  proc: ServerProcess;
}

export interface Cluster {
  nats: TestNats;
  gateway: AppProcess;
  ingester: AppProcess;
  bus: Bus;
  /** The same storage the apps write to, for reading segments back. */
  store: ObjectStore;
  tokens: Record<string, string>;
  storageDescription: string;
  /** What the apps were started with (NATS, storage, tokens), to start another one alike. */
  env: Record<string, string>;
  stop(): Promise<void>;
}

/** Starts one app as its own process; `port` fixes its port (to restart it where clients expect it). */
export async function startFirnApp(
  name: 'gateway' | 'ingester' | 'querier' | 'compactor',
  env: Record<string, string>,
  nodeArgs: string[] = [],
  port?: number,
): Promise<AppProcess> {
  return withPortRetry(port === undefined ? freePort : async () => port, async (port) => {
    const base = `http://127.0.0.1:${port}`;
    const proc = await spawnServer({
      name: `bench-${name}`,
      command: process.execPath,
      args: [...nodeArgs, resolve(ROOT, 'scripts/run-ts.cjs'), resolve(ROOT, `apps/${name}/src/main.ts`)],
      env: { FIRN_HOST: '127.0.0.1', FIRN_PORT: String(port), ...env },
      ready: async () => (await fetch(`${base}/readyz`)).status === 200,
      // Generous: compiling an app's TypeScript takes minutes on a loaded 2-core machine.
      readyTimeoutMs: 240_000,
      stopTimeoutMs: 30_000,
    });
    return { base, pid: proc.pid, proc };
  });
}

export async function startCluster(opts: ClusterOptions): Promise<Cluster> {
  const cleanups: Array<() => Promise<void> | void> = [];
  const stop = async (): Promise<void> => {
    for (const c of cleanups.reverse()) await Promise.resolve(c()).catch(() => undefined);
    cleanups.length = 0;
  };
  try {
    const dir = makeTempDir('bench-ingest');
    cleanups.push(() => removeDir(dir));
    const nats = await startNats();
    cleanups.push(() => nats.stop());
    let store: ObjectStore;
    const env: Record<string, string> = { FIRN_NATS_URL: nats.url, FIRN_LOG_LEVEL: opts.logLevel ?? 'warn' };
    if (opts.storage === 's3') {
      const s3: S3Server = await startS3Server({ bucket: 'firn-bench' });
      cleanups.push(() => s3.stop());
      Object.assign(env, {
        FIRN_STORAGE: 's3',
        FIRN_S3_ENDPOINT: s3.endpoint,
        FIRN_S3_BUCKET: s3.bucket,
        FIRN_S3_REGION: s3.region,
        FIRN_S3_ACCESS_KEY_ID: s3.accessKeyId,
        FIRN_S3_SECRET_ACCESS_KEY: s3.secretAccessKey,
      });
      store = new S3Store({
        endpoint: s3.endpoint,
        bucket: s3.bucket,
        region: s3.region,
        accessKeyId: s3.accessKeyId,
        secretAccessKey: s3.secretAccessKey,
        forcePathStyle: true,
      });
    } else {
      const dataDir = join(dir, 'data');
      Object.assign(env, { FIRN_STORAGE: 'local', FIRN_DATA_DIR: dataDir });
      // The apps keep objects under <data dir>/objects (libs/platform infra-config).
      store = new LocalDirStore({ dir: join(dataDir, 'objects') });
    }
    cleanups.push(() => store.close());
    const tokens: Record<string, string> = {};
    const records = opts.tenants.map((t) => {
      const issued = issueToken(t, [Scope.WriteProfiles, Scope.ReadProfiles]);
      tokens[t] = issued.token;
      return issued.record;
    });
    const tokensFile = join(dir, 'tokens.json');
    await writeTokenFile(tokensFile, records);
    env.FIRN_TOKENS_FILE = tokensFile;

    const gateway = await startFirnApp('gateway', { ...env, ...opts.gatewayEnv }, opts.gatewayNodeArgs);
    cleanups.push(() => gateway.proc.stop());
    const ingester = await startFirnApp('ingester', { ...env, FIRN_INGESTER_ID: 'bench-ingester', ...opts.ingesterEnv }, opts.ingesterNodeArgs);
    cleanups.push(() => ingester.proc.stop());
    const bus = await connectBus({ servers: [nats.url], name: 'firn-bench' });
    cleanups.push(() => bus.close());
    return { nats, gateway, ingester, bus, store, tokens, storageDescription: store.description, env, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** The ingest log's backlog: messages not yet delivered, and delivered but not yet acked. */
export async function ingestBacklog(bus: Bus): Promise<{ pending: number; unacked: number }> {
  const c = await bus.consumerState(INGEST_STREAM, INGEST_CONSUMER);
  return { pending: c.pending, unacked: c.ackPending };
}

/**
 * Resolves once every message in the ingest log has been delivered and acked, i.e. is in a
 * segment listed in the manifest. Polls often so the measured drain time is not inflated much.
 */
export async function waitForDrained(bus: Bus, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let stable = 0;
  for (;;) {
    const { pending, unacked } = await ingestBacklog(bus);
    if (pending === 0 && unacked === 0) {
      if (++stable >= 2) return;
    } else {
      stable = 0;
      if (Date.now() > deadline) throw new Error(`ingest log not drained after ${timeoutMs} ms: pending ${pending}, unacked ${unacked}`);
    }
    await sleep(50);
  }
}

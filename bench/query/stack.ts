// The processes of the query benchmark, each started as an operator would start it, on loopback:
// nats-server (JetStream, data dir kept when the caller names one), the gateway and ingester for
// loading, the compactor for blocks, and queriers. Everything lives under one work dir so a loaded dataset can be reused.
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { connectBus, type Bus } from '@firn/bus';
import { LocalDirStore } from '@firn/storage';
import { Scope, issueToken, writeTokenFile } from '@firn/tenancy';
import { freePort, spawnServer, startNats, withPortRetry, type ServerProcess, type TestNats } from '@firn/testing';

const ROOT = resolve(__dirname, '..', '..');

export type AppName = 'gateway' | 'ingester' | 'querier' | 'compactor';

export interface AppProcess {
  name: string;
  base: string;
  port: number;
  pid: number;
  proc: ServerProcess;
}

export interface StackDirs {
  /** <work>/data: FIRN_DATA_DIR; objects live in <work>/data/objects. */
  data: string;
  objects: string;
  nats: string;
  tokensFile: string;
}

export function stackDirs(workDir: string): StackDirs {
  const data = join(workDir, 'data');
  return { data, objects: join(data, 'objects'), nats: join(workDir, 'nats'), tokensFile: join(workDir, 'tokens.json') };
}

export interface Stack {
  dirs: StackDirs;
  nats: TestNats;
  bus: Bus;
  store: LocalDirStore;
  token: string;
  /** Environment every Firn app of this stack shares. */
  env: Record<string, string>;
  startApp(name: AppName, opts?: { env?: Record<string, string>; nodeArgs?: string[]; port?: number; label?: string }): Promise<AppProcess>;
  /** Stops every app started here (newest first), then the bus and nats-server. Idempotent. */
  stop(): Promise<void>;
}

/**
 * Starts nats-server on `<workDir>/nats` (kept: the manifest stream is what queriers read) and
 * writes a fresh token for `tenant`. Apps are started on demand with `startApp`.
 */
export async function startStack(workDir: string, tenant: string, logLevel = 'warn'): Promise<Stack> {
  const dirs = stackDirs(workDir);
  mkdirSync(dirs.objects, { recursive: true });
  mkdirSync(dirs.nats, { recursive: true });
  const issued = issueToken(tenant, [Scope.WriteProfiles, Scope.ReadProfiles]);
  await writeTokenFile(dirs.tokensFile, [issued.record]);
  const nats = await startNats({ dataDir: dirs.nats });
  const apps: AppProcess[] = [];
  let bus: Bus | undefined;
  let store: LocalDirStore | undefined;
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopping ??= (async () => {
      for (const a of apps.reverse()) await a.proc.stop().catch(() => undefined);
      await bus?.close().catch(() => undefined);
      await store?.close();
      await nats.stop();
    })());
  try {
    bus = await connectBus({ servers: [nats.url], name: 'firn-bench-query' });
    store = new LocalDirStore({ dir: dirs.objects });
    const env: Record<string, string> = {
      FIRN_NATS_URL: nats.url,
      FIRN_STORAGE: 'local',
      FIRN_DATA_DIR: dirs.data,
      FIRN_TOKENS_FILE: dirs.tokensFile,
      FIRN_SYMBOL_CACHE: 'memory',
      FIRN_LOG_LEVEL: logLevel,
    };
    const startApp: Stack['startApp'] = async (name, opts = {}) => {
      const start = async (port: number): Promise<AppProcess> => {
        const base = `http://127.0.0.1:${port}`;
        const label = opts.label ?? name;
        const proc = await spawnServer({
          name: `bench-${label}`,
          command: process.execPath,
          args: [...(opts.nodeArgs ?? []), resolve(ROOT, 'scripts/run-ts.cjs'), resolve(ROOT, `apps/${name}/src/main.ts`)],
          env: { ...env, FIRN_HOST: '127.0.0.1', FIRN_PORT: String(port), ...opts.env },
          ready: async () => (await fetch(`${base}/readyz`)).status === 200,
          readyTimeoutMs: 120_000,
          stopTimeoutMs: 30_000,
        });
        const app = { name: label, base, port, pid: proc.pid, proc };
        apps.push(app);
        return app;
      };
      return opts.port !== undefined ? start(opts.port) : withPortRetry(freePort, start);
    };
    return { dirs, nats, bus, store, token: issued.token, env, startApp, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** Stops one app and forgets nothing else: the stack's stop() skips it (stop is idempotent). */
export async function stopApp(app: AppProcess): Promise<void> {
  await app.proc.stop();
}

import { resolve } from 'node:path';
import { freePort, spawnServer, withPortRetry, type ServerProcess } from '@firn/testing';

export const ROOT = resolve(__dirname, '..', '..', '..');
export type AppName = 'gateway' | 'ingester' | 'querier' | 'compactor' | 'symbolizer' | 'all-in-one';

export interface RunningApp {
  readonly name: AppName;
  readonly port: number;
  readonly base: string;
  readonly proc: ServerProcess;
  /** Sends a signal and resolves with the exit code (and the log tail, read before cleanup). */
  signal(sig: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null; log: string }>;
  stop(): Promise<void>;
}

export interface StartAppOptions {
  env?: Record<string, string | undefined>;
  args?: string[];
  /** 'ready' waits for /readyz 200; 'live' only for /healthz 200 (for tests of readiness itself). */
  waitFor?: 'ready' | 'live';
  readyTimeoutMs?: number;
  /** A port chosen beforehand (e.g. so peers can be told about each other); default: a free one. */
  port?: number;
}

/** Runs an app exactly as an operator would: its own Node process, config from env and flags. */
export async function startApp(name: AppName, opts: StartAppOptions = {}): Promise<RunningApp> {
  const pickPort = opts.port === undefined ? freePort : async () => opts.port as number;
  return withPortRetry(pickPort, async (port) => {
    const base = `http://127.0.0.1:${port}`;
    const path = opts.waitFor === 'live' ? '/healthz' : '/readyz';
    const proc = await spawnServer({
      name: `app-${name}`,
      command: process.execPath,
      args: [resolve(ROOT, 'scripts/run-ts.cjs'), resolve(ROOT, `apps/${name}/src/main.ts`), ...(opts.args ?? [])],
      env: { FIRN_HOST: '127.0.0.1', FIRN_PORT: String(port), FIRN_LOG_LEVEL: 'info', ...opts.env },
      ready: async () => (await fetch(base + path)).status === 200,
      // Generous: loading the TypeScript entry point alone takes 30 s on a loaded 2-core machine.
      readyTimeoutMs: opts.readyTimeoutMs ?? 90_000,
      stopTimeoutMs: 15_000,
    });
    return {
      name,
      port,
      base,
      proc,
      async signal(sig) {
        process.kill(proc.pid, sig);
        const exit = await proc.exited;
        return { ...exit, log: proc.logTail(64 * 1024) };
      },
      stop: () => proc.stop(),
    };
  });
}

/** Runs an app that is expected to exit by itself (e.g. on a config error). */
export async function runAppToExit(
  name: AppName,
  opts: { env?: Record<string, string | undefined>; args?: string[] } = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const { spawn } = await import('node:child_process');
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [resolve(ROOT, 'scripts/run-ts.cjs'), resolve(ROOT, `apps/${name}/src/main.ts`), ...(opts.args ?? [])], {
      env: { ...process.env, ...opts.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${name} did not exit within 30 s; stderr: ${stderr}`));
    }, 30_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolvePromise({ code, stdout, stderr });
    });
  });
}

export async function getJson(url: string, headers: Record<string, string> = {}): Promise<{ status: number; body: unknown }> {
  const res = await fetch(url, { headers });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON: keep the text
  }
  return { status: res.status, body };
}

/** The warn and error lines of each app's log tail, for a failure message that says what the apps saw. */
export function warningsOf(...apps: RunningApp[]): string {
  return apps
    .map((a) => {
      const lines = a.proc
        .logTail(256 * 1024)
        .split('\n')
        .filter((l) => /"level":"(warn|error|fatal)"/.test(l));
      return `${a.name} :${a.port} (${lines.length} warnings/errors):\n${lines.slice(-20).join('\n')}`;
    })
    .join('\n');
}

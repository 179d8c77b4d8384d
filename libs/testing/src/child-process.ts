import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface SpawnServerOptions {
  /** Short name for messages and the temp dir prefix ("redis", "debuginfod"). */
  name: string;
  command: string;
  /** Arguments; a function gets the fresh temp dir so data paths can live inside it. */
  args: string[] | ((tmpDir: string) => string[]);
  /** Added to (or, with undefined, removed from) the parent's environment. */
  env?: Record<string, string | undefined>;
  /** Working directory; default: the fresh temp dir. */
  cwd?: string;
  /**
   * Resolves true once the server serves; a throw or false means "not yet". Check that the
   * answer comes from this child (`pid`): a port picked as free can be taken meanwhile.
   */
  ready: (ctx: { tmpDir: string; pid: number }) => Promise<boolean>;
  readyTimeoutMs?: number;
  pollIntervalMs?: number;
  /** How long stop() waits after SIGTERM before SIGKILL. */
  stopTimeoutMs?: number;
}

export interface ServerProcess {
  readonly name: string;
  readonly pid: number;
  /** Private temp dir, removed by stop(). */
  readonly tmpDir: string;
  /** The child's stdout and stderr. Lives in tmpDir. */
  readonly logFile: string;
  logTail(bytes?: number): string;
  /** Resolves when the child exits, for any reason. */
  readonly exited: Promise<ChildExit>;
  /** SIGTERM, SIGKILL after the timeout, then removes tmpDir. Idempotent. */
  stop(): Promise<void>;
}

export interface ChildExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** The child died at startup because its port was taken: worth retrying on another port. */
export class PortInUseError extends Error {}

const DEFAULT_READY_TIMEOUT_MS = 20_000;
const DEFAULT_STOP_TIMEOUT_MS = 5000;

/**
 * Starts a server binary in its own temp dir and resolves once `ready` says so. Whatever
 * happens, the child is not left behind: failed starts kill it, and a process-exit hook kills
 * children and removes temp dirs that tests forgot to stop.
 */
export async function spawnServer(opts: SpawnServerOptions): Promise<ServerProcess> {
  const tmpDir = makeTempDir(opts.name);
  const logFile = join(tmpDir, `${opts.name}.log`);
  const args = typeof opts.args === 'function' ? opts.args(tmpDir) : opts.args;
  const logFd = openSync(logFile, 'a');
  let child: ChildProcess;
  try {
    child = spawn(opts.command, args, { cwd: opts.cwd ?? tmpDir, env: mergeEnv(opts.env), stdio: ['ignore', logFd, logFd] });
  } catch (err) {
    removeDir(tmpDir);
    throw err;
  } finally {
    closeSync(logFd);
  }
  const exited = new Promise<ChildExit>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
    child.once('error', () => resolve({ code: null, signal: null }));
  });
  const spawnErr = await new Promise<NodeJS.ErrnoException | undefined>((resolve) => {
    child.once('spawn', () => resolve(undefined));
    child.once('error', (err: NodeJS.ErrnoException) => resolve(err));
  });
  if (spawnErr) {
    removeDir(tmpDir);
    const hint = spawnErr.code === 'ENOENT' ? `${opts.command} not found on PATH; run scripts/install-system-deps.sh` : spawnErr.message;
    throw new Error(`${opts.name}: cannot start ${opts.command}: ${hint}`, { cause: spawnErr });
  }

  const entry: LiveEntry = { child, tmpDir };
  live.add(entry);
  installExitHook();
  const logTail = (bytes = 4096): string => tailOf(logFile, bytes);
  const stopTimeoutMs = opts.stopTimeoutMs ?? DEFAULT_STOP_TIMEOUT_MS;
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopping ??= (async () => {
      await terminate(child, exited, stopTimeoutMs);
      removeDir(tmpDir);
      live.delete(entry);
    })());

  let exit: ChildExit | undefined;
  void exited.then((e) => {
    exit = e;
  });
  const timeoutMs = opts.readyTimeoutMs ?? DEFAULT_READY_TIMEOUT_MS;
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    if (exit) {
      const tail = logTail();
      await stop();
      const msg = `${opts.name} (${opts.command} ${args.join(' ')}) exited during startup (code ${exit.code}, signal ${exit.signal}); log tail:\n${tail}`;
      throw /address already in use/i.test(tail) ? new PortInUseError(msg) : new Error(msg);
    }
    try {
      if (await opts.ready({ tmpDir, pid: child.pid as number })) break;
      lastError = undefined;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() >= deadline) {
      const tail = logTail();
      await stop();
      const why = lastError instanceof Error ? ` (last error: ${lastError.message})` : '';
      throw new Error(`${opts.name} not ready within ${timeoutMs} ms${why}; log tail:\n${tail}`, { cause: lastError });
    }
    await sleep(opts.pollIntervalMs ?? 100);
  }

  return { name: opts.name, pid: child.pid as number, tmpDir, logFile, logTail, exited, stop };
}

/** Runs `start` with a port from `pickPort`, retrying a few times when the port was taken meanwhile. */
export async function withPortRetry<T>(pickPort: () => Promise<number>, start: (port: number) => Promise<T>, attempts = 5): Promise<T> {
  for (let i = 1; ; i++) {
    const port = await pickPort();
    try {
      return await start(port);
    } catch (err) {
      if (!(err instanceof PortInUseError) || i >= attempts) throw err;
    }
  }
}

/** A temp dir that is removed at process exit unless the caller removes it first. */
export function makeTempDir(name: string): string {
  const dir = mkdtempSync(join(tmpdir(), `firn-${name}-`));
  tempDirs.add(dir);
  installExitHook();
  return dir;
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
  tempDirs.delete(dir);
}

async function terminate(child: ChildProcess, exited: Promise<ChildExit>, timeoutMs: number): Promise<void> {
  if (child.exitCode === null && child.signalCode === null) {
    child.kill('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      exited.then(() => false),
      new Promise<boolean>((r) => {
        timer = setTimeout(() => r(true), timeoutMs);
      }),
    ]);
    clearTimeout(timer);
    if (timedOut) child.kill('SIGKILL');
  }
  await exited;
}

interface LiveEntry {
  child: ChildProcess;
  tmpDir: string;
}

// Process-wide on purpose: the exit hook must reach every child and temp dir this test worker
// created, whichever helper created it.
const live = new Set<LiveEntry>();
const tempDirs = new Set<string>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const { child } of live) child.kill('SIGKILL');
    for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
  });
}

function mergeEnv(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const [k, v] of Object.entries(extra)) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  return env;
}

function tailOf(path: string, bytes: number): string {
  try {
    const buf = readFileSync(path);
    return buf.subarray(Math.max(0, buf.length - bytes)).toString('utf8');
  } catch {
    return '(no log)';
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

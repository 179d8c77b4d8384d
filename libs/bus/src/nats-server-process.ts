import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { FirnError } from '@firn/errors';
import { connect } from 'nats';
import { pickFreePort } from './free-port';

export interface StartNatsServerOptions {
  /** JetStream data lives in `<dataDir>/jetstream`; the generated config and default log go here too. */
  dataDir: string;
  /** Listen address; loopback unless the caller decides otherwise. */
  host?: string;
  /** 0 or undefined picks a free port. */
  port?: number;
  /** Server `max_payload`; the NATS default is 1 MiB, the server refuses more than 64 MiB. */
  maxPayloadBytes?: number;
  /** Where the server's stdout/stderr go; defaults to `<dataDir>/nats-server.log` (appended). */
  logFile?: string;
  /** Binary to run; defaults to `nats-server` on PATH. */
  binary?: string;
  startTimeoutMs?: number;
  /** How long stop() waits after SIGTERM before SIGKILL. */
  stopTimeoutMs?: number;
}

export interface NatsServerExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface NatsServerProcess {
  url: string;
  host: string;
  port: number;
  pid: number;
  logFile: string;
  /** Resolves when the server process ends, for whatever reason (lets owners notice a crash). */
  exited: Promise<NatsServerExit>;
  /** SIGTERM, wait, then SIGKILL. Safe to call more than once. */
  stop(): Promise<void>;
}

const DEFAULT_START_TIMEOUT_MS = 20_000;
const DEFAULT_STOP_TIMEOUT_MS = 10_000;
const MAX_PORT_ATTEMPTS = 5;
const LOG_TAIL_BYTES = 4096;

/**
 * Runs a JetStream-enabled nats-server as a child process and resolves once clients can use
 * JetStream. Used by the all-in-one binary and by the test harness.
 */
export async function startNatsServer(opts: StartNatsServerOptions): Promise<NatsServerProcess> {
  const host = opts.host ?? '127.0.0.1';
  const autoPort = opts.port === undefined || opts.port === 0;
  for (let attempt = 1; ; attempt++) {
    const port = autoPort ? await pickFreePort(host) : (opts.port as number);
    try {
      return await startOnce(opts, host, port);
    } catch (err) {
      // A picked port can be taken between picking and binding; only then is a retry useful.
      if (autoPort && attempt < MAX_PORT_ATTEMPTS && err instanceof PortInUseError) continue;
      throw err instanceof PortInUseError ? FirnError.unavailable(err.message) : err;
    }
  }
}

class PortInUseError extends Error {}

async function startOnce(opts: StartNatsServerOptions, host: string, port: number): Promise<NatsServerProcess> {
  const binary = opts.binary ?? 'nats-server';
  mkdirSync(join(opts.dataDir, 'jetstream'), { recursive: true });
  const configFile = join(opts.dataDir, 'nats-server.conf');
  // A unique name lets readiness tell our server apart from whatever else answers on the port.
  const serverName = `firn-${randomBytes(6).toString('hex')}`;
  writeFileSync(configFile, renderConfig({ serverName, host, port, storeDir: join(opts.dataDir, 'jetstream'), maxPayloadBytes: opts.maxPayloadBytes }));
  const logFile = opts.logFile ?? join(opts.dataDir, 'nats-server.log');
  const logOffset = fileSize(logFile);
  const logFd = openSync(logFile, 'a');
  let child: ChildProcess;
  try {
    child = spawn(binary, ['-c', configFile], { stdio: ['ignore', logFd, logFd] });
  } finally {
    // The child holds its own copy of the descriptor.
    closeSync(logFd);
  }
  const exited = watchExit(child);
  const spawnError = await firstSpawnError(child);
  if (spawnError) {
    if (spawnError.code === 'ENOENT') {
      throw FirnError.unavailable(`${binary} not found on PATH; run scripts/install-system-deps.sh`, spawnError);
    }
    throw FirnError.unavailable(`could not start ${binary}: ${spawnError.message}`, spawnError);
  }
  killOnParentExit(child, exited);

  const url = `nats://${host}:${port}`;
  const deadline = Date.now() + (opts.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS);
  let lastError: unknown;
  let done: NatsServerExit | undefined;
  void exited.then((e) => {
    done = e;
  });
  while (Date.now() < deadline) {
    if (done) {
      const tail = readTail(logFile, logOffset);
      const msg = `${binary} exited during startup (code ${done.code}, signal ${done.signal}); log ${logFile}:\n${tail}`;
      if (/address already in use/i.test(tail)) throw new PortInUseError(msg);
      throw FirnError.unavailable(msg);
    }
    try {
      await probeJetStream(url, serverName);
      return makeHandle({ child, exited, url, host, port, logFile, stopTimeoutMs: opts.stopTimeoutMs ?? DEFAULT_STOP_TIMEOUT_MS });
    } catch (err) {
      lastError = err;
      await sleep(100);
    }
  }
  await terminate(child, exited, 2000);
  throw FirnError.unavailable(
    `${binary} on ${url} not ready within ${opts.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS} ms ` +
      `(last error: ${errorMessage(lastError)}); log ${logFile}:\n${readTail(logFile, logOffset)}`,
    lastError,
  );
}

function renderConfig(c: { serverName: string; host: string; port: number; storeDir: string; maxPayloadBytes?: number }): string {
  const lines = [`server_name: ${JSON.stringify(c.serverName)}`, `listen: ${JSON.stringify(`${c.host}:${c.port}`)}`];
  if (c.maxPayloadBytes !== undefined) lines.push(`max_payload: ${Math.floor(c.maxPayloadBytes)}`);
  lines.push(`jetstream {`, `  store_dir: ${JSON.stringify(c.storeDir)}`, `}`);
  return lines.join('\n') + '\n';
}

/** Ready means a client can connect and JetStream answers for the account (streams recovered). */
async function probeJetStream(url: string, serverName: string): Promise<void> {
  const nc = await connect({ servers: url, reconnect: false, timeout: 1000, name: 'firn-nats-readiness' });
  try {
    if (nc.info?.server_name !== serverName) throw new Error(`another server answers on ${url} (${nc.info?.server_name})`);
    const jsm = await nc.jetstreamManager({ timeout: 1000 });
    await jsm.getAccountInfo();
  } finally {
    await nc.close();
  }
}

function makeHandle(p: {
  child: ChildProcess;
  exited: Promise<NatsServerExit>;
  url: string;
  host: string;
  port: number;
  logFile: string;
  stopTimeoutMs: number;
}): NatsServerProcess {
  let stopping: Promise<void> | undefined;
  return {
    url: p.url,
    host: p.host,
    port: p.port,
    pid: p.child.pid as number,
    logFile: p.logFile,
    exited: p.exited,
    stop: () => (stopping ??= terminate(p.child, p.exited, p.stopTimeoutMs)),
  };
}

async function terminate(child: ChildProcess, exited: Promise<NatsServerExit>, timeoutMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const timer = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), timeoutMs).unref());
  if ((await Promise.race([exited, timer])) === 'timeout') {
    child.kill('SIGKILL');
    await exited;
  }
}

function watchExit(child: ChildProcess): Promise<NatsServerExit> {
  return new Promise((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
    // A failed spawn emits 'error' and never 'exit'.
    child.once('error', () => resolve({ code: null, signal: null }));
  });
}

/** spawn() reports ENOENT asynchronously; wait for either that or the 'spawn' event. */
function firstSpawnError(child: ChildProcess): Promise<NodeJS.ErrnoException | undefined> {
  return new Promise((resolve) => {
    child.once('spawn', () => resolve(undefined));
    child.once('error', (err: NodeJS.ErrnoException) => resolve(err));
  });
}

// A nats-server left behind by a crashed parent would hold its port and data dir, so children
// are killed when this process exits. One listener for all children avoids listener-leak warnings.
const liveChildren = new Set<ChildProcess>();
let exitHookInstalled = false;

function killOnParentExit(child: ChildProcess, exited: Promise<NatsServerExit>): void {
  liveChildren.add(child);
  void exited.then(() => liveChildren.delete(child));
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.once('exit', () => {
      for (const c of liveChildren) c.kill('SIGKILL');
    });
  }
}

function fileSize(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}

function readTail(path: string, fromOffset: number): string {
  try {
    const buf = readFileSync(path);
    const start = Math.max(fromOffset, buf.length - LOG_TAIL_BYTES);
    return buf.subarray(start).toString('utf8');
  } catch {
    return '(no log)';
  }
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

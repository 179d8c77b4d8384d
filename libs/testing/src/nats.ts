// Runs NATS through the production launcher, so tests exercise the same server config the
// all-in-one uses.
import { startNatsServer, type NatsServerProcess } from '@firn/bus';
import { makeTempDir, removeDir } from './child-process';
import { requireBinary } from './require-binary';

export interface StartNatsOptions {
  /** Reuse a data dir (e.g. to test recovery after restart); it is then left in place by stop(). */
  dataDir?: string;
  maxPayloadBytes?: number;
  port?: number;
}

export interface TestNats {
  url: string;
  port: number;
  pid: number;
  dataDir: string;
  /** Stops the server; removes the data dir unless the caller supplied it. Idempotent. */
  stop(): Promise<void>;
}

/** A JetStream nats-server on a free loopback port with a temp data dir. */
export async function startNats(opts: StartNatsOptions = {}): Promise<TestNats> {
  const binary = requireBinary('nats-server');
  const ownsDir = opts.dataDir === undefined;
  const dataDir = opts.dataDir ?? makeTempDir('nats');
  let server: NatsServerProcess;
  try {
    server = await startNatsServer({ dataDir, binary, port: opts.port, maxPayloadBytes: opts.maxPayloadBytes });
  } catch (err) {
    if (ownsDir) removeDir(dataDir);
    throw err;
  }
  let stopping: Promise<void> | undefined;
  return {
    url: server.url,
    port: server.port,
    pid: server.pid,
    dataDir,
    stop: () =>
      (stopping ??= (async () => {
        await server.stop();
        if (ownsDir) removeDir(dataDir);
      })()),
  };
}

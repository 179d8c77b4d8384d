import { connect } from 'node:net';
import { spawnServer, withPortRetry } from './child-process';
import { freePort } from './free-port';
import { requireBinary } from './require-binary';

export interface TestRedis {
  url: string;
  port: number;
  pid: number;
  /** The server's working dir (removed by stop()). */
  tmpDir: string;
  /** Stops the server and removes its temp dir. Idempotent. */
  stop(): Promise<void>;
}

/** A throwaway redis-server on a free loopback port, without persistence. */
export async function startRedis(opts: { readyTimeoutMs?: number } = {}): Promise<TestRedis> {
  const binary = requireBinary('redis-server');
  return withPortRetry(freePort, async (port) => {
    const proc = await spawnServer({
      name: 'redis',
      command: binary,
      args: (dir) => ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no', '--daemonize', 'no'],
      ready: ({ pid }) => answersAs(port, pid),
      readyTimeoutMs: opts.readyTimeoutMs,
    });
    return { url: `redis://127.0.0.1:${port}`, port, pid: proc.pid, tmpDir: proc.tmpDir, stop: proc.stop };
  });
}

/** Speaks just enough RESP to know that our child (not another process on the port) answers. */
function answersAs(port: number, pid: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = connect({ host: '127.0.0.1', port });
    let reply = '';
    const done = (ok: boolean): void => {
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(1000, () => done(false));
    sock.on('error', () => done(false));
    sock.on('connect', () => sock.write('PING\r\nINFO server\r\n'));
    sock.on('data', (chunk) => {
      reply += chunk.toString('utf8');
      const m = /process_id:(\d+)\r\n/.exec(reply);
      if (m) done(reply.startsWith('+PONG') && Number(m[1]) === pid);
    });
  });
}

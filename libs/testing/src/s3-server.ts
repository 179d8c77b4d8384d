import { readFile } from 'node:fs/promises';
import { request } from 'node:http';
import { dirname, join } from 'node:path';
import { spawnServer, withPortRetry } from './child-process';
import { freePort } from './free-port';

/** A running s3rver child process with one bucket; credentials are s3rver's built-in account. */
export interface S3Server {
  endpoint: string;
  port: number;
  pid: number;
  region: string;
  bucket: string;
  accessKeyId: string;
  secretAccessKey: string;
  /** The server's temp dir (its data under `data/` unless `dataDir` was given, its log); removed by stop(). */
  directory: string;
  /** Kills the server (SIGTERM, then SIGKILL) and removes its directory. Idempotent. */
  stop(): Promise<void>;
}

export interface StartS3ServerOptions {
  bucket?: string;
  readyTimeoutMs?: number;
  /** A fixed port (e.g. to restart a stopped server where its clients expect it). */
  port?: number;
  /** Keep the objects here instead of in the temp dir, so they outlive stop() (restart tests). */
  dataDir?: string;
}

const HOST = '127.0.0.1';

/** Any HTTP reply means something serves the port; the log banner says it is our child. */
function answersHttp(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request({ host: HOST, port, path: '/', method: 'GET', timeout: 1_000 }, (res) => {
      res.resume();
      resolve(true);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
    req.end();
  });
}

/**
 * Starts s3rver (an S3-compatible server, npm devDependency) as a child process on a free
 * loopback port, in a fresh temp dir, with `bucket` created. A separate process keeps its event
 * loop and OpenSSL settings away from the code under test, like a real S3 endpoint.
 *
 * Known gaps versus S3 (see libs/storage/README.md): no conditional writes, listing order differs
 * for names around '/', ranged GETs of empty objects promise a byte they never send.
 */
export async function startS3Server(opts: StartS3ServerOptions = {}): Promise<S3Server> {
  const bucket = opts.bucket ?? 'firn-test';
  if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket)) {
    throw new Error(`bucket ${JSON.stringify(bucket)} is not a valid DNS-style S3 bucket name (3-63 chars of a-z 0-9 . -)`);
  }
  const bin = join(dirname(require.resolve('s3rver/package.json')), 'bin', 's3rver.js');
  const pickPort = opts.port === undefined ? freePort : async () => opts.port as number;
  return withPortRetry(pickPort, async (port) => {
    const proc = await spawnServer({
      name: 's3rver',
      command: process.execPath,
      args: (dir) => [
        bin,
        '--directory',
        opts.dataDir ?? join(dir, 'data'),
        '--address',
        HOST,
        '--port',
        String(port),
        '--silent',
        '--configure-bucket',
        bucket,
      ],
      // s3rver encrypts ListObjectsV2 continuation tokens with a cipher that Node 20's OpenSSL 3
      // only offers through the legacy provider (PITFALLS.md). This replaces the parent's
      // NODE_OPTIONS so test-runner loaders don't leak into the child.
      env: { NODE_OPTIONS: '--openssl-legacy-provider' },
      ready: async ({ tmpDir }) => {
        const log = await readFile(join(tmpDir, 's3rver.log'), 'utf8').catch(() => '');
        return log.includes(`S3rver listening on ${HOST}:${port}`) && (await answersHttp(port));
      },
      readyTimeoutMs: opts.readyTimeoutMs,
    });
    return {
      endpoint: `http://${HOST}:${port}`,
      port,
      pid: proc.pid,
      region: 'us-east-1',
      bucket,
      accessKeyId: 'S3RVER',
      secretAccessKey: 'S3RVER',
      directory: proc.tmpDir,
      stop: proc.stop,
    };
  });
}

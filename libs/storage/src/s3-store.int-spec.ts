import { randomBytes } from 'node:crypto';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isFirnError } from '@firn/errors';
import { startS3Server, type S3Server } from '@firn/testing';
import { describeObjectStoreConformance } from './object-store.conformance';
import { S3Store, type S3StoreOptions } from './s3-store';

// Collected from the first line so the S3Client constructions below are all covered.
const warnings: string[] = [];
process.on('warning', (w) => warnings.push(`${w.name}: ${w.message}`));

function storeFor(server: S3Server, extra: Partial<S3StoreOptions> = {}): S3Store {
  return new S3Store({
    endpoint: server.endpoint,
    region: server.region,
    bucket: server.bucket,
    accessKeyId: server.accessKeyId,
    secretAccessKey: server.secretAccessKey,
    ...extra,
  });
}

async function codeOf(p: Promise<unknown>): Promise<string | undefined> {
  return p.then(
    () => undefined,
    (e: unknown) => (isFirnError(e) ? e.code : String(e)),
  );
}

type ConnectionPlan = 'drop' | 'pass' | { cutResponseAfterBytes: number };

interface FlakyProxy {
  endpoint: string;
  /** Connections accepted so far, in order, with what was done to each. */
  log: ConnectionPlan[];
  close(): Promise<void>;
}

/** A loopback TCP proxy that misbehaves on chosen connections, to exercise retries. */
async function startFlakyProxy(targetPort: number, plan: (n: number) => ConnectionPlan): Promise<FlakyProxy> {
  const sockets = new Set<Socket>();
  const log: ConnectionPlan[] = [];
  const server: Server = createServer((client) => {
    const action = plan(log.length);
    log.push(action);
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    client.on('error', () => undefined);
    if (action === 'drop') {
      client.resetAndDestroy();
      return;
    }
    const upstream = connect(targetPort, '127.0.0.1');
    sockets.add(upstream);
    upstream.on('close', () => sockets.delete(upstream));
    upstream.on('error', () => client.destroy());
    client.on('close', () => upstream.destroy());
    client.pipe(upstream);
    let forwarded = 0;
    upstream.on('data', (chunk: Buffer) => {
      if (action !== 'pass' && forwarded + chunk.length > action.cutResponseAfterBytes) {
        client.write(chunk.subarray(0, action.cutResponseAfterBytes - forwarded), () => client.resetAndDestroy());
        upstream.destroy();
        forwarded = action.cutResponseAfterBytes;
        return;
      }
      forwarded += chunk.length;
      client.write(chunk);
    });
    upstream.on('end', () => client.end());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('proxy has no port');
  return {
    endpoint: `http://127.0.0.1:${address.port}`,
    log,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

describeObjectStoreConformance(
  S3Store.name,
  async () => {
    const server = await startS3Server();
    return { store: storeFor(server, { prefix: 'conformance' }), cleanup: () => server.stop() };
  },
  {
    knownDeviations: {
      siblingOrderAroundSlash:
        "s3rver walks its data directory sorted by name, so it lists 'x/1' before 'x-1' and its pagination can skip keys; real S3 lists byte-wise",
    },
  },
);

describe(S3Store.name, () => {
  let server: S3Server;
  const opened: S3Store[] = [];
  const open = (extra: Partial<S3StoreOptions> = {}) => {
    const store = storeFor(server, extra);
    opened.push(store);
    return store;
  };

  beforeAll(async () => {
    server = await startS3Server({ bucket: 'firn-s3-specific' });
  });
  afterAll(async () => {
    await Promise.all(opened.map((s) => s.close()));
    await server?.stop();
  });

  it('describes bucket, prefix and endpoint without credentials', () => {
    const store = open({ prefix: 'env-a/' });
    expect(store.description).toBe(`s3://firn-s3-specific/env-a/ @ ${server.endpoint}`);
    expect(store.description).not.toContain(server.secretAccessKey);
  });

  it('keeps stores with different prefixes apart in one bucket', async () => {
    const a = open({ prefix: 'iso-a' });
    const b = open({ prefix: 'iso-b' });
    const raw = open();
    await a.put('k', Buffer.from('from a'));
    await b.put('k', Buffer.from('from b'));
    expect((await a.get('k')).toString()).toBe('from a');
    expect((await b.get('k')).toString()).toBe('from b');
    expect((await a.list('')).objects.map((o) => o.key)).toEqual(['k']);
    expect((await raw.list('iso-')).objects.map((o) => o.key)).toEqual(['iso-a/k', 'iso-b/k']);
  });

  it('fails its readiness check with unavailable when the bucket does not exist', async () => {
    const store = open({ bucket: 'no-such-bucket', maxAttempts: 1 });
    expect(await codeOf(store.check())).toBe('unavailable');
  });

  it('succeeds when the first connections are dropped (SDK retries)', async () => {
    const port = Number(new URL(server.endpoint).port);
    const proxy = await startFlakyProxy(port, (n) => (n < 2 ? 'drop' : 'pass'));
    try {
      const store = open({ endpoint: proxy.endpoint, maxAttempts: 5 });
      const body = randomBytes(64 * 1024);
      await store.put('retry/put', body);
      expect(proxy.log.slice(0, 3)).toEqual(['drop', 'drop', 'pass']);
      expect((await open().get('retry/put')).equals(body)).toBe(true);
    } finally {
      await proxy.close();
    }
  });

  it('re-reads an object when the connection drops mid-body (our retry)', async () => {
    const body = randomBytes(2 * 1024 * 1024);
    await open().put('retry/get', body);
    const port = Number(new URL(server.endpoint).port);
    const proxy = await startFlakyProxy(port, (n) => (n === 0 ? { cutResponseAfterBytes: 256 * 1024 } : 'pass'));
    try {
      const store = open({ endpoint: proxy.endpoint, maxAttempts: 3 });
      expect((await store.get('retry/get')).equals(body)).toBe(true);
      expect((await store.getRange('retry/get', 1000, 1024 * 1024)).equals(body.subarray(1000, 1000 + 1024 * 1024))).toBe(true);
      expect(proxy.log[0]).toEqual({ cutResponseAfterBytes: 256 * 1024 });
      expect(proxy.log.length).toBeGreaterThanOrEqual(2);
    } finally {
      await proxy.close();
    }
  });

  it('reports unavailable when the server goes away', async () => {
    const doomed = await startS3Server({ bucket: 'firn-doomed' });
    try {
      const store = open({ ...doomedOptions(doomed) });
      await store.check();
      await store.put('k', Buffer.from('v'));
      await doomed.stop();
      expect(await codeOf(store.check())).toBe('unavailable');
      expect(await codeOf(store.get('k'))).toBe('unavailable');
      expect(await codeOf(store.put('k', Buffer.from('v')))).toBe('unavailable');
    } finally {
      await doomed.stop();
    }
  });

  it('does not print the AWS SDK Node version warning', async () => {
    expect(opened.length).toBeGreaterThan(0);
    // process.emitWarning delivers on a later tick.
    await new Promise((resolve) => setImmediate(resolve));
    expect(warnings.filter((w) => w.includes('NodeVersionSupportWarning'))).toEqual([]);
  });
});

function doomedOptions(s: S3Server): S3StoreOptions {
  return {
    endpoint: s.endpoint,
    region: s.region,
    bucket: s.bucket,
    accessKeyId: s.accessKeyId,
    secretAccessKey: s.secretAccessKey,
    maxAttempts: 2,
    requestTimeoutMs: 2_000,
  };
}

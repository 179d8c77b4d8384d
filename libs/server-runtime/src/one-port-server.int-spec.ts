import { Agent, request } from 'node:http';
import { connect, type ClientHttp2Session } from 'node:http2';
import { createServer, connect as tcpConnect, type AddressInfo, type Server, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { create } from '@bufbuild/protobuf';
import { ConnectError, createClient } from '@connectrpc/connect';
import { createGrpcTransport } from '@connectrpc/connect-node';
import { trace } from '@opentelemetry/api';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger, createMetricsRegistry } from '@firn/observability';
import { firnQueryV1 } from '@firn/proto';
import { retryRefusedStreams } from '@firn/testing';
import { OnePortServer } from './one-port-server';
import { Readiness } from './readiness';

function get(port: number, path: string, agent: Agent | false = false): Promise<{ status: number; body: string; connection?: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, agent }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, connection: res.headers.connection }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/** One HTTP/2 request; resolves with the status, or with the stream's reset code if it got none. */
function h2get(session: ClientHttp2Session, path: string): Promise<{ status?: number; rstCode?: number }> {
  return new Promise((resolve) => {
    const stream = session.request({ ':path': path });
    let status: number | undefined;
    stream.on('response', (h) => (status = Number(h[':status'])));
    stream.on('error', () => undefined);
    stream.on('data', () => undefined);
    stream.on('close', () => resolve(status === undefined ? { rstCode: stream.rstCode } : { status }));
    stream.end();
  });
}

describe(OnePortServer.name, () => {
  let server: OnePortServer | undefined;
  afterEach(async () => {
    await server?.drain(100);
    server = undefined;
  });

  function make(slowMs: number, rpc = false): OnePortServer {
    const readiness = new Readiness();
    readiness.markRunning();
    const s = new OnePortServer({
      component: 'test',
      host: '127.0.0.1',
      port: 0,
      log: createLogger({ component: 'test', level: 'silent' }),
      registry: createMetricsRegistry('test', { defaultMetrics: false }),
      readiness,
      tracer: trace.getTracer('test'),
    });
    s.setApp({
      routes: (router) => {
        if (rpc) router.service(firnQueryV1.PartialQueryService, { partial: () => create(firnQueryV1.PartialResponseSchema, {}) });
      },
      http: (_req, res) => {
        setTimeout(() => res.end('done'), slowMs);
      },
    });
    return s;
  }

  it('answers 503 for application routes until the app is installed, while /healthz works', async () => {
    const readiness = new Readiness();
    server = new OnePortServer({
      component: 'test',
      host: '127.0.0.1',
      port: 0,
      log: createLogger({ component: 'test', level: 'silent' }),
      registry: createMetricsRegistry('test', { defaultMetrics: false }),
      readiness,
      tracer: trace.getTracer('test'),
    });
    const { port } = await server.listen();
    expect((await get(port, '/healthz')).status).toBe(200);
    expect((await get(port, '/readyz')).status).toBe(503);
    expect(await get(port, '/api/x')).toMatchObject({ status: 503, body: expect.stringContaining('starting') });
  });

  it('lets in-flight requests finish on drain and refuses new connections', async () => {
    server = make(300);
    const { port } = await server.listen();
    const inflight = get(port, '/slow');
    await new Promise((r) => setTimeout(r, 50));
    const drained = server.drain(5000);
    await new Promise((r) => setTimeout(r, 20));
    await expect(get(port, '/late')).rejects.toThrow(/ECONNREFUSED/);
    expect(await inflight).toMatchObject({ status: 200, body: 'done' });
    expect(await drained).toEqual({ abandoned: 0 });
    server = undefined;
  });

  it('serves HTTP/2 requests that cross the drain start instead of refusing them', async () => {
    server = make(0);
    const { port } = await server.listen();
    const session = connect(`http://127.0.0.1:${port}`);
    try {
      expect(await h2get(session, '/healthz')).toEqual({ status: 200 });
      // Sent before this client can have seen any GOAWAY: a single GOAWAY naming the last stream
      // processed would refuse both (REFUSED_STREAM, UNAVAILABLE to a gRPC client).
      const crossing = [h2get(session, '/healthz'), h2get(session, '/readyz')];
      const drained = server.drain(5000);
      expect(await Promise.all(crossing)).toEqual([{ status: 200 }, { status: 200 }]);
      expect(await drained).toEqual({ abandoned: 0 });
      expect(session.closed || session.destroyed).toBe(true);
    } finally {
      session.destroy();
    }
    server = undefined;
  });

  it('answers an HTTP/1.1 keep-alive request sent as the drain starts, asking the client to close', async () => {
    server = make(0);
    const { port } = await server.listen();
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      expect((await get(port, '/warm', agent)).connection).not.toBe('close');
      const drained = server.drain(5000);
      // On the idle keep-alive connection, which the server must not close under the client.
      expect(await get(port, '/next', agent)).toEqual({ status: 200, body: 'done', connection: 'close' });
      expect(await drained).toEqual({ abandoned: 0 });
    } finally {
      agent.destroy();
    }
    server = undefined;
  });

  it('cuts requests that outlive the drain period and reports them', async () => {
    server = make(10_000);
    const { port } = await server.listen();
    const stuck = get(port, '/stuck').catch((err: Error) => err);
    await new Promise((r) => setTimeout(r, 50));
    expect(await server.drain(100)).toEqual({ abandoned: 1 });
    expect(await stuck).toBeInstanceOf(Error);
    server = undefined;
  });

  it('fails no call of a client that retries refused streams, while one replica drains and another takes over', async () => {
    // A rolling restart behind a Service: new connections go to the new replica, the old one
    // drains. A connect-node call started in the event-loop turn that reads the old replica's
    // GOAWAY is refused by the client's own HTTP/2 session before it is sent (REFUSED_STREAM);
    // a standard HTTP/2 client sends it again on a new connection (see retryRefusedStreams).
    const proxy = await switchProxy();
    const failures: string[] = [];
    let retried = 0;
    let calls = 0;
    try {
      for (let round = 0; round < 10 && retried === 0; round++) {
        const old = make(0, true);
        proxy.target = (await old.listen()).port;
        const next = make(0, true);
        const nextPort = (await next.listen()).port;
        const client = createClient(
          firnQueryV1.PartialQueryService,
          createGrpcTransport({ baseUrl: `http://127.0.0.1:${proxy.port}`, interceptors: [retryRefusedStreams(() => retried++)] }),
        );
        let stop = false;
        const callers = Array.from({ length: 8 }, async () => {
          while (!stop) {
            try {
              await client.partial(create(firnQueryV1.PartialRequestSchema, {}));
              calls++;
            } catch (err) {
              failures.push(String(ConnectError.from(err)));
            }
            await sleep(Math.random() * 3);
          }
        });
        await sleep(30);
        proxy.target = nextPort;
        const drained = await old.drain(10_000);
        await sleep(30);
        stop = true;
        await Promise.all(callers);
        expect(drained, 'calls the old replica cut').toEqual({ abandoned: 0 });
        await next.drain(10_000);
      }
    } finally {
      await proxy.close();
    }
    expect(failures).toEqual([]);
    expect(calls).toBeGreaterThan(0);
    // Else no call crossed a GOAWAY and this test proved nothing.
    expect(retried, 'refused calls sent again').toBeGreaterThan(0);
  }, 60_000);
});

/** A TCP balancer like kube-proxy: each new connection goes to the current target. */
async function switchProxy(): Promise<{ port: number; target: number; close: () => Promise<void> }> {
  const sockets = new Set<Socket>();
  const track = (s: Socket): void => {
    sockets.add(s);
    s.on('error', () => s.destroy());
    s.once('close', () => sockets.delete(s));
  };
  const state = { port: 0, target: 0, close: async () => undefined as void };
  const server: Server = createServer((client) => {
    track(client);
    const upstream = tcpConnect(state.target, '127.0.0.1');
    track(upstream);
    client.pipe(upstream).pipe(client);
    client.once('close', () => upstream.destroy());
    upstream.once('close', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  state.port = (server.address() as AddressInfo).port;
  state.close = () =>
    new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    });
  return state;
}

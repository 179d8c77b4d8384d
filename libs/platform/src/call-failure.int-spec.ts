// A real HTTP/2 server that fails calls the ways a draining or crashing peer does, and a real
// connect-node gRPC client: what worthAnotherEndpoint decides for each.
import { once } from 'node:events';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { create } from '@bufbuild/protobuf';
import { ConnectError, createClient } from '@connectrpc/connect';
import { createGrpcTransport } from '@connectrpc/connect-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setTimeout as sleep } from 'node:timers/promises';
import { trace } from '@opentelemetry/api';
import { createLogger, createMetricsRegistry } from '@firn/observability';
import { firnQueryV1 } from '@firn/proto';
import { OnePortServer, Readiness } from '@firn/server-runtime';
import { worthAnotherEndpoint } from './call-failure';

type Mode = 'reset-internal' | 'session-destroyed' | 'refused' | 'answer-internal' | 'answer-unavailable' | 'answer-invalid';

describe(worthAnotherEndpoint.name, () => {
  let server: http2.Http2Server;
  let baseUrl = '';
  const sessions = new Set<http2.ServerHttp2Session>();

  beforeAll(async () => {
    server = http2.createServer();
    server.on('session', (s: http2.ServerHttp2Session) => sessions.add(s));
    server.on('stream', (stream, headers) => {
      const mode = headers['x-mode'] as Mode;
      stream.on('error', () => undefined);
      const answer = (status: number) =>
        stream.respond(
          { ':status': 200, 'content-type': 'application/grpc+proto', 'grpc-status': String(status), 'grpc-message': 'from the server' },
          { endStream: true },
        );
      if (mode === 'reset-internal') stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR);
      else if (mode === 'session-destroyed') stream.session?.destroy();
      else if (mode === 'refused') stream.close(http2.constants.NGHTTP2_REFUSED_STREAM);
      else if (mode === 'answer-internal') answer(13);
      else if (mode === 'answer-unavailable') answer(14);
      else answer(3);
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const s of sessions) s.destroy();
    await closed;
  });

  async function failure(mode: Mode): Promise<unknown> {
    // A fresh transport per call: a destroyed socket must not leak into the next case.
    const client = createClient(firnQueryV1.PartialQueryService, createGrpcTransport({ baseUrl }));
    try {
      await client.partial(create(firnQueryV1.PartialRequestSchema, {}), { headers: { 'x-mode': mode } });
    } catch (err) {
      return err;
    }
    throw new Error(`${mode}: the call succeeded`);
  }

  const live = new AbortController().signal;

  it('tries another endpoint when the call died on the wire or the endpoint said UNAVAILABLE', async () => {
    for (const mode of ['reset-internal', 'session-destroyed', 'refused', 'answer-unavailable'] as const) {
      const err = await failure(mode);
      expect(worthAnotherEndpoint(err, live), `${mode}: ${String(err)}`).toBe(true);
    }
  });

  it('keeps an answer (even INTERNAL) as final, and anything once the caller gave up', async () => {
    for (const mode of ['answer-internal', 'answer-invalid'] as const) {
      expect(worthAnotherEndpoint(await failure(mode), live), mode).toBe(false);
    }
    const gaveUp = new AbortController();
    gaveUp.abort();
    expect(worthAnotherEndpoint(await failure('reset-internal'), gaveUp.signal)).toBe(false);
  });

  it('tries another endpoint after every failure a draining Firn server causes its callers', async () => {
    // What a querier's rolling restart does to the gateway and to peer queriers: calls keep
    // coming while the server drains. The client's own HTTP/2 session refuses a call queued in the
    // turn that reads the GOAWAY ("Stream closed with error code NGHTTP2_REFUSED_STREAM", INTERNAL
    // to connect-node), which was never sent.
    const seen = new Map<string, { n: number; retried: boolean }>();
    for (let round = 0; round < 10; round++) {
      const readiness = new Readiness();
      readiness.markRunning();
      const server = new OnePortServer({
        component: 'test',
        host: '127.0.0.1',
        port: 0,
        log: createLogger({ component: 'test', level: 'silent' }),
        registry: createMetricsRegistry('test', { defaultMetrics: false }),
        readiness,
        tracer: trace.getTracer('test'),
      });
      server.setApp({
        routes: (router) =>
          void router.service(firnQueryV1.PartialQueryService, {
            partial: async () => {
              await sleep(Math.random() * 10);
              return create(firnQueryV1.PartialResponseSchema, {});
            },
          }),
        http: (_req, res) => void res.writeHead(404).end(),
      });
      const { port } = await server.listen();
      const client = createClient(firnQueryV1.PartialQueryService, createGrpcTransport({ baseUrl: `http://127.0.0.1:${port}` }));
      let draining = false;
      const callers = Array.from({ length: 8 }, async () => {
        for (;;) {
          try {
            await client.partial(create(firnQueryV1.PartialRequestSchema, { selector: 'x'.repeat(16_384) }));
          } catch (err) {
            const ce = ConnectError.from(err);
            const key = `${ce.code} ${ce.rawMessage.replace(/:\d+/g, ':<port>')}`;
            seen.set(key, { n: (seen.get(key)?.n ?? 0) + 1, retried: worthAnotherEndpoint(ce, live) });
            // Once the server is gone (connection refused) this caller is done.
            if (draining && ce.code === 14) return;
          }
        }
      });
      await sleep(30 + Math.random() * 40);
      draining = true;
      // Not asserted: calls the drain abandons. On a loaded machine Node sometimes leaves a few
      // half-closed streams unanswered until the drain deadline destroys the session; their
      // callers then see the call die on the wire, which the check below covers like any other.
      await server.drain(2000);
      await Promise.all(callers);
    }
    const final = [...seen].filter(([, v]) => !v.retried).map(([k, v]) => `${k} ×${v.n}`);
    expect(final, `every kind seen: ${[...seen].map(([k, v]) => `${k} ×${v.n}`).join('; ')}`).toEqual([]);
  }, 120_000);
});

// A real HTTP/2 server that refuses or fails streams, and a real connect-node gRPC client with and
// without retryRefusedStreams: only a refused, unanswered stream is sent again.
import { once } from 'node:events';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { create } from '@bufbuild/protobuf';
import { ConnectError, createClient, type Interceptor } from '@connectrpc/connect';
import { createGrpcTransport } from '@connectrpc/connect-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { firnQueryV1 } from '@firn/proto';
import { refusedUnprocessed, retryRefusedStreams } from './refused-stream';

type Mode = 'refuse-once' | 'refuse-always' | 'reset-internal' | 'answer-unavailable';

describe(retryRefusedStreams.name, () => {
  let server: http2.Http2Server;
  let baseUrl = '';
  const sessions = new Set<http2.ServerHttp2Session>();
  /** Streams the server saw, per call id. */
  const attempts = new Map<string, number>();

  beforeAll(async () => {
    server = http2.createServer();
    server.on('session', (s: http2.ServerHttp2Session) => sessions.add(s));
    server.on('stream', (stream, headers) => {
      const id = String(headers['x-call']);
      const n = (attempts.get(id) ?? 0) + 1;
      attempts.set(id, n);
      stream.on('error', () => undefined);
      const mode = headers['x-mode'] as Mode;
      const answer = (status: number) =>
        stream.respond({ ':status': 200, 'content-type': 'application/grpc+proto', 'grpc-status': String(status) }, { endStream: true });
      if (mode === 'refuse-always' || (mode === 'refuse-once' && n === 1)) stream.close(http2.constants.NGHTTP2_REFUSED_STREAM);
      else if (mode === 'reset-internal') stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR);
      else if (mode === 'answer-unavailable') answer(14);
      else {
        // One empty message, then status OK in the trailers.
        stream.respond({ ':status': 200, 'content-type': 'application/grpc+proto' }, { waitForTrailers: true });
        stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
        stream.end(Buffer.alloc(5));
      }
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

  let nextCall = 0;
  async function call(mode: Mode, interceptors: Interceptor[]): Promise<{ err?: unknown; attempts: number }> {
    const id = String(nextCall++);
    const client = createClient(firnQueryV1.PartialQueryService, createGrpcTransport({ baseUrl, interceptors }));
    try {
      await client.partial(create(firnQueryV1.PartialRequestSchema, {}), { headers: { 'x-mode': mode, 'x-call': id } });
      return { attempts: attempts.get(id) ?? 0 };
    } catch (err) {
      return { err, attempts: attempts.get(id) ?? 0 };
    }
  }

  it('sends a refused call again, and without it the call fails', async () => {
    const without = await call('refuse-once', []);
    expect(refusedUnprocessed(without.err), String(without.err)).toBe(true);
    expect(without.attempts).toBe(1);

    const retried: unknown[] = [];
    const withIt = await call('refuse-once', [retryRefusedStreams((err) => retried.push(err))]);
    expect(withIt).toEqual({ attempts: 2 });
    expect(retried).toHaveLength(1);
  });

  it('gives up after three refusals with the refusal', async () => {
    const r = await call('refuse-always', [retryRefusedStreams()]);
    expect(r.attempts).toBe(3);
    expect(refusedUnprocessed(r.err)).toBe(true);
  });

  it('sends nothing again that the server may have processed or answered', async () => {
    for (const mode of ['reset-internal', 'answer-unavailable'] as const) {
      const r = await call(mode, [retryRefusedStreams()]);
      expect(r.attempts, mode).toBe(1);
      expect(refusedUnprocessed(r.err), `${mode}: ${String(r.err)}`).toBe(false);
      expect(r.err).toBeInstanceOf(ConnectError);
    }
  });
});

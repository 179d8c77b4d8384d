import { gzipSync } from 'node:zlib';
import { Code, ConnectError } from '@connectrpc/connect';
import type { UniversalHandler, UniversalServerResponse } from '@connectrpc/connect/protocol';
import { grpcHealthV1 } from '@firn/proto';
import { grpcFrame } from '@firn/testing';
import { describe, expect, it } from 'vitest';
import { isMalformedRequestFailure, refuseMalformedMessages, refuseMalformedRequests } from './malformed-request';

async function* inPieces(bytes: Buffer, size: number): AsyncIterable<Uint8Array> {
  for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size);
}

async function collect(body: UniversalServerResponse['body']): Promise<Buffer> {
  const parts: Uint8Array[] = [];
  if (body && Symbol.asyncIterator in body) for await (const p of body) parts.push(p);
  return Buffer.concat(parts);
}

function fakeHandler(res: UniversalServerResponse): UniversalHandler {
  const method = grpcHealthV1.Health.method.check;
  return Object.assign(async () => res, {
    protocolNames: ['test'],
    service: grpcHealthV1.Health,
    method,
    requestPath: '/grpc.health.v1.Health/Check',
    allowedMethods: ['POST'],
    supportedContentType: Object.assign(() => true, { supported: [] as string[] }),
  }) as unknown as UniversalHandler;
}

const DATA = grpcFrame(0, Buffer.alloc(300, 9));

describe(refuseMalformedRequests.name, () => {
  it.each([1, 2, 3, 7, 1000])('rewrites a gRPC-web trailer frame however the body is chunked (%i-byte chunks)', async (size) => {
    const trailer = grpcFrame(0x80, Buffer.from('grpc-status: 13\r\ngrpc-message: parse%20binary%3A%20premature%20EOF\r\n'));
    const h = refuseMalformedRequests(
      fakeHandler({ status: 200, header: new Headers({ 'content-type': 'application/grpc-web+proto' }), body: inPieces(Buffer.concat([DATA, trailer]), size) }),
    );
    const out = await collect((await h({} as never)).body);
    expect(out.subarray(0, DATA.length).equals(DATA)).toBe(true);
    expect(out.subarray(DATA.length + 5).toString()).toBe('grpc-status: 3\r\ngrpc-message: parse%20binary%3A%20premature%20EOF\r\n');
    expect(out.readUInt32BE(DATA.length + 1)).toBe(out.length - DATA.length - 5);
  });

  it('reads a compressed Connect end-stream frame and sends the fixed one uncompressed', async () => {
    const end = grpcFrame(0x03, gzipSync(JSON.stringify({ error: { code: 'internal', message: 'decompression failed' }, metadata: {} })));
    const h = refuseMalformedRequests(
      fakeHandler({
        status: 200,
        header: new Headers({ 'content-type': 'application/connect+proto', 'connect-content-encoding': 'gzip' }),
        body: inPieces(Buffer.concat([DATA, end]), 4),
      }),
    );
    const out = await collect((await h({} as never)).body);
    expect(out[DATA.length]).toBe(0x02);
    expect(JSON.parse(out.subarray(DATA.length + 5).toString())).toEqual({
      error: { code: 'invalid_argument', message: 'decompression failed' },
      metadata: {},
    });
  });

  it('leaves other INTERNAL errors and successful bodies alone', async () => {
    const body = Buffer.concat([DATA, grpcFrame(0x80, Buffer.from('grpc-status: 13\r\ngrpc-message: internal%20error\r\n'))]);
    const h = refuseMalformedRequests(fakeHandler({ status: 200, header: new Headers({ 'content-type': 'application/grpc-web' }), body: inPieces(body, 5) }));
    expect((await collect((await h({} as never)).body)).equals(body)).toBe(true);
  });

  it('fixes gRPC trailers once the body is drained', async () => {
    const trailer = new Headers({ 'grpc-status': '13', 'grpc-message': 'parse%20binary%3A%20x' });
    const h = refuseMalformedRequests(
      fakeHandler({ status: 200, header: new Headers({ 'content-type': 'application/grpc' }), body: inPieces(Buffer.alloc(0), 1), trailer }),
    );
    const res = await h({} as never);
    await collect(res.body);
    expect(res.trailer?.get('grpc-status')).toBe('3');
  });
});

describe(refuseMalformedMessages.name, () => {
  it('turns a decoding failure of the request stream into INVALID_ARGUMENT, other errors pass', async () => {
    async function* failing(err: Error): AsyncIterable<number> {
      yield 1;
      throw err;
    }
    const drain = async (it: AsyncIterable<number>): Promise<unknown> => {
      try {
        for await (const _ of it) void _;
      } catch (e) {
        return e;
      }
      return undefined;
    };
    const bad = (await drain(refuseMalformedMessages(failing(new ConnectError('parse binary: premature EOF', Code.Internal))))) as ConnectError;
    expect([bad.code, bad.rawMessage]).toEqual([Code.InvalidArgument, 'parse binary: premature EOF']);
    const other = (await drain(refuseMalformedMessages(failing(new ConnectError('boom', Code.Internal))))) as ConnectError;
    expect(other.code).toBe(Code.Internal);
    expect(isMalformedRequestFailure(Code.Unavailable, 'parse binary: x')).toBe(false);
  });
});

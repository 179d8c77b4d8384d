import { gzipSync } from 'node:zlib';
import { create } from '@bufbuild/protobuf';
import { Code, ConnectError } from '@connectrpc/connect';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { grpcFrame, rawGrpc } from '@firn/testing';
import { debuginfoV1alpha1, grpcHealthV1 } from '@firn/proto';
import { refuseMalformedRequests } from './malformed-request';
import type { OnePortServer } from './one-port-server';
import { startRpcTestServer } from './rpc-test-server';

const { Health, HealthCheckResponseSchema, HealthCheckResponse_ServingStatus: Status } = grpcHealthV1;
const { DebuginfoService, UploadResponseSchema } = debuginfoV1alpha1;

/** Field 1, length-delimited, claims 127 bytes, has 1: "premature EOF" for any message whose field 1 is bytes/string/message. */
const GARBAGE = Buffer.from([0x0a, 0x7f, 0x01]);
const READ_MAX = 1024 * 1024;
const CHECK = '/grpc.health.v1.Health/Check';
const WATCH = '/grpc.health.v1.Health/Watch';
const UPLOAD = '/parca.debuginfo.v1alpha1.DebuginfoService/Upload';

function frames(body: Buffer): Array<{ flags: number; data: Buffer }> {
  const out: Array<{ flags: number; data: Buffer }> = [];
  for (let at = 0; at + 5 <= body.length;) {
    const len = body.readUInt32BE(at + 1);
    out.push({ flags: body[at], data: body.subarray(at + 5, at + 5 + len) });
    at += 5 + len;
  }
  return out;
}

describe(refuseMalformedRequests.name, () => {
  let server: OnePortServer;
  let port: number;
  let base: string;
  let grpcClient: grpc.Client;

  beforeAll(async () => {
    ({ server, port, base } = await startRpcTestServer((rpc) => {
      rpc.add(Health, {
        check(req) {
          // A downstream answer that failed to decode is our fault, whatever its message says.
          if (req.service === 'downstream') throw new ConnectError('parse binary: from a downstream reply', Code.Internal);
          return create(HealthCheckResponseSchema, { status: Status.SERVING });
        },
        async *watch() {
          yield create(HealthCheckResponseSchema, { status: Status.SERVING });
        },
      });
      rpc.add(DebuginfoService, {
        async upload(reqs) {
          let n = 0n;
          for await (const r of reqs) if (r.data.case) n++;
          return create(UploadResponseSchema, { buildId: 'b', size: n });
        },
      });
    }, READ_MAX));
    grpcClient = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  });

  afterAll(async () => {
    grpcClient?.close();
    await server?.drain(100);
  });

  const raw = (b: Buffer): Buffer => b;

  describe('gRPC (grpc-js client)', () => {
    it('answers INVALID_ARGUMENT to a unary request that is not protobuf', async () => {
      const err = await new Promise<grpc.ServiceError | null>((resolve) => grpcClient.makeUnaryRequest(CHECK, raw, raw, GARBAGE, (e) => resolve(e)));
      expect(err?.code).toBe(grpc.status.INVALID_ARGUMENT);
      // grpc-js decodes grpc-message with decodeURI, which leaves %3A (":") encoded.
      expect(err?.details).toMatch(/^parse binary/);
    });

    it('answers INVALID_ARGUMENT to a server-streaming request that is not protobuf', async () => {
      const call = grpcClient.makeServerStreamRequest(WATCH, raw, raw, GARBAGE);
      const err = await new Promise<grpc.ServiceError>((resolve) => {
        call.on('data', () => undefined);
        call.on('error', resolve);
      });
      expect(err.code).toBe(grpc.status.INVALID_ARGUMENT);
      expect(err.details).toMatch(/^parse binary/);
    });

    it('answers INVALID_ARGUMENT to a client-streaming message that is not protobuf', async () => {
      const err = await new Promise<grpc.ServiceError | null>((resolve) => {
        const call = grpcClient.makeClientStreamRequest(UPLOAD, raw, raw, (e) => resolve(e));
        call.write(GARBAGE);
        call.end();
      });
      expect(err?.code).toBe(grpc.status.INVALID_ARGUMENT);
      expect(err?.details).toMatch(/^parse binary/);
    });
  });

  describe('gRPC (raw HTTP/2)', () => {
    it('answers INVALID_ARGUMENT to a gzip frame that does not inflate', async () => {
      const truncated = gzipSync(Buffer.alloc(1000, 7)).subarray(0, 12);
      expect(await rawGrpc(`http://127.0.0.1:${port}`, CHECK, grpcFrame(1, truncated), { 'grpc-encoding': 'gzip' })).toEqual({
        status: Code.InvalidArgument,
        message: 'decompression failed',
      });
    });

    it('answers INVALID_ARGUMENT to a compressed frame sent without an encoding', async () => {
      expect(await rawGrpc(`http://127.0.0.1:${port}`, CHECK, grpcFrame(1, gzipSync(Buffer.alloc(10))))).toMatchObject({ status: Code.InvalidArgument });
    });

    it('answers RESOURCE_EXHAUSTED to a gzip frame that inflates past readMaxBytes', async () => {
      const bomb = gzipSync(Buffer.alloc(64 * READ_MAX), { level: 1 });
      expect(bomb.length).toBeLessThan(READ_MAX);
      const res = await rawGrpc(`http://127.0.0.1:${port}`, CHECK, grpcFrame(1, bomb), { 'grpc-encoding': 'gzip' });
      expect(res.status).toBe(Code.ResourceExhausted);
      expect(res.message).toMatch(/readMaxBytes/);
    });

    it('still answers well-formed requests', async () => {
      expect(await rawGrpc(`http://127.0.0.1:${port}`, CHECK, grpcFrame(0, Buffer.alloc(0)))).toMatchObject({ status: 0 });
    });
  });

  describe('Connect', () => {
    it('answers 400 invalid_argument to a unary body that is not protobuf, keeping the message', async () => {
      const res = await fetch(`${base}${CHECK}`, { method: 'POST', headers: { 'content-type': 'application/proto' }, body: GARBAGE });
      const body = (await res.json()) as { code: string; message: string };
      expect(res.status).toBe(400);
      expect(body.code).toBe('invalid_argument');
      expect(body.message).toMatch(/^parse binary: /);
      expect(res.headers.get('content-length')).toBe(String(Buffer.byteLength(JSON.stringify(body))));
    });

    it('answers 400 invalid_argument to a gzip body that does not inflate', async () => {
      const res = await fetch(`${base}${CHECK}`, {
        method: 'POST',
        headers: { 'content-type': 'application/proto', 'content-encoding': 'gzip' },
        body: gzipSync(Buffer.alloc(1000)).subarray(0, 12),
      });
      expect(res.status).toBe(400);
      expect(await res.json()).toEqual({ code: 'invalid_argument', message: 'decompression failed' });
    });

    it("keeps a handler's own INTERNAL error as 500 without its internals", async () => {
      const res = await fetch(`${base}${CHECK}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"service":"downstream"}' });
      expect(res.status).toBe(500);
      expect(await res.json()).toEqual({ code: 'internal', message: 'internal error' });
    });

    for (const [what, path] of [
      ['server-streaming', WATCH],
      ['client-streaming', UPLOAD],
    ] as const) {
      it(`ends a ${what} call whose message is not protobuf with invalid_argument`, async () => {
        const res = await fetch(`${base}${path}`, { method: 'POST', headers: { 'content-type': 'application/connect+proto' }, body: grpcFrame(0, GARBAGE) });
        const end = frames(Buffer.from(await res.arrayBuffer())).find((f) => f.flags & 0x02);
        const json = JSON.parse(end?.data.toString() ?? '{}') as { error?: { code: string; message: string } };
        expect(res.status).toBe(200);
        expect(json.error?.code).toBe('invalid_argument');
        expect(json.error?.message).toMatch(/^parse binary: /);
      });
    }
  });

  describe('gRPC-web', () => {
    for (const [what, path] of [
      ['unary', CHECK],
      ['server-streaming', WATCH],
      ['client-streaming', UPLOAD],
    ] as const) {
      it(`puts grpc-status 3 in the trailer frame of a ${what} call whose message is not protobuf`, async () => {
        const res = await fetch(`${base}${path}`, {
          method: 'POST',
          headers: { 'content-type': 'application/grpc-web+proto', 'x-grpc-web': '1' },
          body: grpcFrame(0, GARBAGE),
        });
        const trailer =
          frames(Buffer.from(await res.arrayBuffer()))
            .find((f) => f.flags & 0x80)
            ?.data.toString() ?? '';
        expect(res.status).toBe(200);
        expect(trailer).toMatch(/^grpc-status: 3\r$/m);
        expect(trailer).toMatch(/grpc-message: parse%20binary/);
      });
    }

    it('leaves a successful call untouched', async () => {
      const res = await fetch(`${base}${CHECK}`, {
        method: 'POST',
        headers: { 'content-type': 'application/grpc-web+proto' },
        body: grpcFrame(0, Buffer.alloc(0)),
      });
      const f = frames(Buffer.from(await res.arrayBuffer()));
      expect(f.map((x) => x.flags)).toEqual([0, 0x80]);
      expect(f[1].data.toString()).toMatch(/grpc-status: 0/);
    });
  });
});

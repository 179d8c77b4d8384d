import { request } from 'node:http';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { createClient } from '@connectrpc/connect';
import { createGrpcTransport } from '@connectrpc/connect-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { queryV1alpha1 } from '@firn/proto';
import type { OnePortServer } from './one-port-server';
import { startRpcTestServer } from './rpc-test-server';

const Q = queryV1alpha1;
const QUERY = '/parca.query.v1alpha1.QueryService/Query';

/** A compressible record the size of a mid-sized flame graph (256 KiB of repeating rows). */
const RECORD = new Uint8Array(256 * 1024).map((_, i) => (i % 97) ^ (i >> 12));

/** One Connect unary call over HTTP/1.1 that reads the response body as sent (no decoding). */
function connectUnary(base: string, acceptEncoding: string): Promise<{ encoding: string | undefined; body: Buffer }> {
  const body = toBinary(Q.QueryRequestSchema, create(Q.QueryRequestSchema, {}));
  return new Promise((resolve, reject) => {
    const req = request(
      `${base}${QUERY}`,
      { method: 'POST', headers: { 'content-type': 'application/proto', 'connect-protocol-version': '1', 'accept-encoding': acceptEncoding } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ encoding: res.headers['content-encoding'], body: Buffer.concat(chunks) }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** The flame graph record of a Query response. */
const recordOf = (res: queryV1alpha1.QueryResponse) => (res.report.case === 'flamegraphArrow' ? new Uint8Array(res.report.value.record) : undefined);
const recordOfBytes = (bytes: Uint8Array) => recordOf(fromBinary(Q.QueryResponseSchema, bytes));

describe('response compression', () => {
  let server: OnePortServer;
  let base: string;

  beforeAll(async () => {
    ({ server, base } = await startRpcTestServer((rpc) =>
      rpc.add(Q.QueryService, {
        query: () => create(Q.QueryResponseSchema, { report: { case: 'flamegraphArrow', value: create(Q.FlamegraphArrowSchema, { record: RECORD }) } }),
      }),
    ));
  });

  afterAll(async () => {
    await server?.drain(100);
  });

  it('gzips at the fastest level (the gzip header says so) and the body inflates to the response', async () => {
    const { encoding, body } = await connectUnary(base, 'gzip');
    expect(encoding).toBe('gzip');
    // RFC 1952: byte 8 (XFL) is 4 when the compressor used its fastest algorithm (zlib level 1), 0 at the default level.
    expect(body[8]).toBe(4);
    expect(body.length).toBeLessThan(RECORD.length / 2);
    expect(recordOfBytes(gunzipSync(body))).toEqual(RECORD);
  });

  it('answers a client that lists brotli first in brotli, which decodes to the response', async () => {
    const { encoding, body } = await connectUnary(base, 'br, gzip');
    expect(encoding).toBe('br');
    expect(body.length).toBeLessThan(RECORD.length / 2);
    expect(recordOfBytes(brotliDecompressSync(body))).toEqual(RECORD);
  });

  it('serves a real gRPC client that accepts gzip and brotli', async () => {
    const client = createClient(Q.QueryService, createGrpcTransport({ baseUrl: base }));
    expect(recordOf(await client.query({}))).toEqual(RECORD);
  });
});

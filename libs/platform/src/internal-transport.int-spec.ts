// A real Firn one-port server (which gzips responses for callers that accept it) and real
// connect-node gRPC clients: calls between Firn's servers get their answers uncompressed. (That
// they carry trace context is checked end to end in all-in-one's request-tracing.int-spec.ts.)
import { create } from '@bufbuild/protobuf';
import { createClient, type Transport } from '@connectrpc/connect';
import { createGrpcTransport } from '@connectrpc/connect-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { firnQueryV1 } from '@firn/proto';
import { startRpcTestServer, type OnePortServer } from '@firn/server-runtime';
import { internalGrpcTransport } from './internal-transport';

/** A compressible partial aggregate's size class (256 KiB of repeating bytes). */
const PARTIAL = new Uint8Array(256 * 1024).map((_, i) => (i % 97) ^ (i >> 12));

describe(internalGrpcTransport.name, () => {
  let server: OnePortServer;
  let baseUrl = '';

  beforeAll(async () => {
    ({ server, base: baseUrl } = await startRpcTestServer((rpc) =>
      rpc.add(firnQueryV1.PartialQueryService, { partial: () => create(firnQueryV1.PartialResponseSchema, { partial: PARTIAL, segments: 1 }) }),
    ));
  });

  afterAll(async () => {
    await server?.drain(100);
  });

  async function call(transport: Transport): Promise<{ encoding: string | null; partial: Uint8Array }> {
    let encoding: string | null = null;
    const res = await createClient(firnQueryV1.PartialQueryService, transport).partial(create(firnQueryV1.PartialRequestSchema, {}), {
      onHeader: (h) => (encoding = h.get('grpc-encoding')),
    });
    return { encoding, partial: res.partial };
  }

  it('gets answers uncompressed from a server that gzips them for a default client', async () => {
    const plain = await call(createGrpcTransport({ baseUrl }));
    expect(plain.encoding).toBe('gzip');
    const internal = await call(internalGrpcTransport(baseUrl));
    expect(internal.encoding).toBeNull();
    expect(internal.partial).toEqual(PARTIAL);
  });
});

import type { Transport } from '@connectrpc/connect';
import { createGrpcTransport, type Http2SessionManager } from '@connectrpc/connect-node';
import { propagateTraceContext } from './trace-propagation';

/**
 * The gRPC transport of calls between Firn's own servers (the gateway's forwarded queries, peer
 * query shares): it carries the caller's trace context and asks for responses uncompressed.
 * Inside a cluster the network is not what a query waits for: gzip of a 2-3 MB partial aggregate
 * or flame graph costs the callee ≈ 15-20 ms and the caller a decompression, and a gateway then
 * compresses the answer again for its own caller. Requests go uncompressed as before.
 */
export function internalGrpcTransport(baseUrl: string, opts: { sessionManager?: Http2SessionManager } = {}): Transport {
  return createGrpcTransport({ baseUrl, interceptors: [propagateTraceContext], acceptCompression: [], sessionManager: opts.sessionManager });
}

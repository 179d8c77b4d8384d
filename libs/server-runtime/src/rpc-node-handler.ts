import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Http2ServerRequest, Http2ServerResponse } from 'node:http2';
import { promisify } from 'node:util';
import { brotliCompress, constants as zlibConstants, gzip } from 'node:zlib';
import { Code, ConnectError, createConnectRouter, type ConnectRouter } from '@connectrpc/connect';
import { compressionBrotli, compressionGzip, universalRequestFromNodeRequest, universalResponseToNodeResponse } from '@connectrpc/connect-node';
import type { Compression, UniversalHandler } from '@connectrpc/connect/protocol';
import type { Logger } from '@firn/observability';
import { refuseMalformedRequests } from './malformed-request';

type NodeRequest = IncomingMessage | Http2ServerRequest;
type NodeResponse = ServerResponse | Http2ServerResponse;

const gzipAsync = promisify(gzip);
const brotliAsync = promisify(brotliCompress);

/** zlib's output Buffer as the plain Uint8Array Connect expects (zlib never returns shared memory). */
function plain(b: Buffer): Uint8Array<ArrayBuffer> {
  return new Uint8Array(b.buffer as ArrayBuffer, b.byteOffset, b.byteLength);
}

/**
 * The response compressions, fast settings: the formats and the request side (decompression,
 * bounded by readMaxBytes) are Connect's own. zlib's defaults cost too much for what they save on
 * a large response: for a 3 MB flame graph record, gzip level 6 takes ≈ 37 ms for 0.67 MB against
 * ≈ 20 ms for 0.74 MB at level 1, and brotli's default quality 11 ≈ 3.9 s (a client listing `br`
 * first would cost that on every query) against ≈ 26 ms for 0.37 MB at quality 4.
 */
const RESPONSE_COMPRESSIONS: readonly Compression[] = [
  {
    name: compressionGzip.name,
    compress: async (bytes) => plain(await gzipAsync(bytes, { level: 1 })),
    decompress: (bytes, readMaxBytes) => compressionGzip.decompress(bytes, readMaxBytes),
  },
  {
    name: compressionBrotli.name,
    compress: async (bytes) => plain(await brotliAsync(bytes, { params: { [zlibConstants.BROTLI_PARAM_QUALITY]: 4 } })),
    decompress: (bytes, readMaxBytes) => compressionBrotli.decompress(bytes, readMaxBytes),
  },
];

/** Largest RPC message (after decompression) a process accepts unless its setup says otherwise. */
export const DEFAULT_READ_MAX_BYTES = 4 * 1024 * 1024;

export interface RpcNodeHandlerOptions {
  routes: (router: ConnectRouter) => void;
  /** Largest accepted RPC message, bytes, compressed or inflated (gzip bombs stop here). */
  readMaxBytes: number;
  /** Requests for paths that are not RPCs. */
  fallback: (req: NodeRequest, res: NodeResponse) => void;
  log: Logger;
}

/**
 * What `connectNodeAdapter` from @connectrpc/connect-node does, plus one thing it cannot: every
 * RPC handler is wrapped by `refuseMalformedRequests`, so a body that fails to decode answers
 * INVALID_ARGUMENT instead of the INTERNAL connect-es reports before interceptors run.
 */
export function createRpcNodeHandler(opts: RpcNodeHandlerOptions): (req: NodeRequest, res: NodeResponse) => void {
  const router = createConnectRouter({ readMaxBytes: opts.readMaxBytes, acceptCompression: [...RESPONSE_COMPRESSIONS] });
  opts.routes(router);
  const paths = new Map<string, UniversalHandler>();
  for (const handler of router.handlers) paths.set(handler.requestPath, refuseMalformedRequests(handler));
  return (req, res) => {
    const handler = paths.get((req.url ?? '').split('?', 2)[0]);
    if (!handler) {
      opts.fallback(req, res);
      return;
    }
    handler(universalRequestFromNodeRequest(req, res, undefined, undefined))
      .then((uRes) => universalResponseToNodeResponse(uRes, res))
      .catch((reason: unknown) => {
        // Aborted: the client went away mid-response; nothing left to tell anyone.
        if (ConnectError.from(reason).code === Code.Aborted) return;
        opts.log.warn({ err: reason, procedure: `${handler.service.typeName}/${handler.method.name}` }, 'rpc response could not be written');
      });
  };
}

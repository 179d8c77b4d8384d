import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Http2ServerRequest, Http2ServerResponse } from 'node:http2';
import { Code, ConnectError, createConnectRouter, type ConnectRouter } from '@connectrpc/connect';
import { compressionBrotli, compressionGzip, universalRequestFromNodeRequest, universalResponseToNodeResponse } from '@connectrpc/connect-node';
import type { UniversalHandler } from '@connectrpc/connect/protocol';
import type { Logger } from '@firn/observability';
import { refuseMalformedRequests } from './malformed-request';

type NodeRequest = IncomingMessage | Http2ServerRequest;
type NodeResponse = ServerResponse | Http2ServerResponse;

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
  const router = createConnectRouter({ readMaxBytes: opts.readMaxBytes, acceptCompression: [compressionGzip, compressionBrotli] });
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

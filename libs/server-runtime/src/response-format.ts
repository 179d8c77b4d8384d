import type { HandlerContext } from '@connectrpc/connect';

/**
 * Whether the call's response goes out in protobuf's binary form (gRPC, gRPC-web, Connect), not
 * JSON: the content type of the request names the codec of both. Handlers that hand the runtime
 * encoded bytes as a message's unknown fields (which every binary reader decodes as the fields
 * they are) ask this first, since JSON serialization drops unknown fields. The servers here take
 * no Connect GET requests (no method is marked free of side effects), so a request always has a
 * content type.
 */
export function binaryResponse(ctx: HandlerContext): boolean {
  return !(ctx.requestHeader.get('content-type') ?? '').includes('json');
}

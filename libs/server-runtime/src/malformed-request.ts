import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { Code, ConnectError } from '@connectrpc/connect';
import type { UniversalHandler, UniversalServerRequest, UniversalServerResponse } from '@connectrpc/connect/protocol';

/**
 * Failures connect-es reports as INTERNAL although the request bytes caused them: a protobuf body
 * that does not parse, a compressed body that does not inflate, a compressed frame without an
 * encoding. It raises them while decoding the request, before any interceptor runs.
 */
const CLIENT_FAULTS = [/^parse binary: /, /^decompression failed$/, /^received compressed envelope, but do not know how to decompress$/];

export function isMalformedRequestFailure(code: Code, rawMessage: string): boolean {
  return code === Code.Internal && CLIENT_FAULTS.some((re) => re.test(rawMessage));
}

/** Rethrows a request-decoding failure met while reading a streamed request as INVALID_ARGUMENT. */
export async function* refuseMalformedMessages<T>(messages: AsyncIterable<T>): AsyncIterable<T> {
  try {
    yield* messages;
  } catch (err) {
    if (err instanceof ConnectError && isMalformedRequestFailure(err.code, err.rawMessage)) {
      throw new ConnectError(err.rawMessage, Code.InvalidArgument, err.metadata, undefined, err);
    }
    throw err;
  }
}

const CONNECT_END_STREAM = 0x02;
const GRPC_WEB_TRAILER = 0x80;
const COMPRESSED = 0x01;
/** Our own end frames are a few hundred bytes; anything bigger is passed through untouched. */
const MAX_END_FRAME = 1 << 20;

/**
 * Wraps a Connect universal handler so that a request-decoding failure the library reports as
 * INTERNAL (see CLIENT_FAULTS) leaves as INVALID_ARGUMENT, in whichever protocol answered: Connect
 * unary (HTTP status and JSON body), Connect streaming (end-stream frame), gRPC (trailers) and
 * gRPC-web (trailer frame). Only the final status changes; the message, which names the fault,
 * is kept. A handler's own INTERNAL errors cannot match: the RPC interceptor has already replaced
 * their message with "internal error".
 *
 * Also: Connect maps every RESOURCE_EXHAUSTED to HTTP 429, which tells HTTP clients and proxies to
 * retry. One without a Retry-After is a size limit (connect's own readMaxBytes, or ours): retrying
 * the same bytes cannot succeed, so a Connect unary answer says 413 (the JSON body keeps
 * `resource_exhausted`, which Connect clients read). Rate and concurrency limits always carry
 * Retry-After and stay 429.
 */
export function refuseMalformedRequests(handler: UniversalHandler): UniversalHandler {
  const wrapped = async (req: UniversalServerRequest): Promise<UniversalServerResponse> => rewrite(await handler(req));
  return Object.assign(wrapped, {
    protocolNames: handler.protocolNames,
    service: handler.service,
    method: handler.method,
    requestPath: handler.requestPath,
    allowedMethods: handler.allowedMethods,
    supportedContentType: handler.supportedContentType,
  });
}

async function rewrite(res: UniversalServerResponse): Promise<UniversalServerResponse> {
  const type = res.header?.get('content-type') ?? '';
  if (type.startsWith('application/grpc-web')) return withEndFrame(res, GRPC_WEB_TRAILER, res.header?.get('grpc-encoding'), rewriteGrpcWebTrailer);
  if (type.startsWith('application/grpc')) return rewriteGrpc(res);
  if (type.startsWith('application/connect+'))
    return withEndFrame(res, CONNECT_END_STREAM, res.header?.get('connect-content-encoding'), rewriteConnectEndStream);
  if (res.status === 500 && type.startsWith('application/json')) return rewriteConnectUnary(res);
  if (res.status === 429 && type.startsWith('application/json') && !res.header?.get('retry-after')) return { ...res, status: 413 };
  return res;
}

function withEndFrame(
  res: UniversalServerResponse,
  endFlag: number,
  encoding: string | null | undefined,
  fix: (data: Uint8Array) => Uint8Array | undefined,
): UniversalServerResponse {
  if (!res.body || !(Symbol.asyncIterator in res.body)) return res;
  return { ...res, body: rewriteEndFrame(res.body, endFlag, encoding ?? undefined, fix) };
}

function rewriteGrpc(res: UniversalServerResponse): UniversalServerResponse {
  const fix = (): void => {
    const t = res.trailer;
    if (t?.get('grpc-status') !== String(Code.Internal)) return;
    const message = decodeGrpcMessage(t.get('grpc-message') ?? '');
    if (isMalformedRequestFailure(Code.Internal, message)) t.set('grpc-status', String(Code.InvalidArgument));
  };
  const body = res.body;
  if (!body || !(Symbol.asyncIterator in body)) {
    fix();
    return res;
  }
  // The trailers are final once the body is drained; the adapter writes them after that.
  async function* drained(): AsyncIterable<Uint8Array> {
    yield* body as AsyncIterable<Uint8Array>;
    fix();
  }
  return { ...res, body: drained() };
}

async function rewriteConnectUnary(res: UniversalServerResponse): Promise<UniversalServerResponse> {
  if (!res.body) return res;
  const chunks: Uint8Array[] = [];
  if (Symbol.asyncIterator in res.body) for await (const c of res.body) chunks.push(c);
  else chunks.push(res.body);
  const original = Buffer.concat(chunks);
  const unchanged = { ...res, body: once(original) };
  let err: Record<string, unknown> | undefined;
  try {
    err = parseJsonObject(inflate(original, res.header?.get('content-encoding') ?? undefined));
  } catch {
    return unchanged;
  }
  const message = err?.['message'];
  if (err?.['code'] !== 'internal' || typeof message !== 'string' || !isMalformedRequestFailure(Code.Internal, message)) return unchanged;
  const body = Buffer.from(JSON.stringify({ ...err, code: 'invalid_argument' }));
  const header = new Headers(res.header);
  header.delete('content-encoding');
  header.set('content-length', String(body.byteLength));
  return { ...res, status: 400, header, body: once(body) };
}

async function* once(bytes: Uint8Array): AsyncIterable<Uint8Array> {
  yield bytes;
}

function rewriteConnectEndStream(data: Uint8Array): Uint8Array | undefined {
  const end = parseJsonObject(data);
  const err = end?.['error'];
  if (typeof err !== 'object' || err === null || Array.isArray(err)) return undefined;
  const e = err as Record<string, unknown>;
  if (e['code'] !== 'internal' || typeof e['message'] !== 'string' || !isMalformedRequestFailure(Code.Internal, e['message'])) return undefined;
  return Buffer.from(JSON.stringify({ ...end, error: { ...e, code: 'invalid_argument' } }));
}

function rewriteGrpcWebTrailer(data: Uint8Array): Uint8Array | undefined {
  const lines = Buffer.from(data).toString('latin1').split('\r\n');
  const value = (name: string): string | undefined => {
    const line = lines.find((l) => l.toLowerCase().startsWith(`${name}:`));
    return line?.slice(name.length + 1).trim();
  };
  if (value('grpc-status') !== String(Code.Internal)) return undefined;
  if (!isMalformedRequestFailure(Code.Internal, decodeGrpcMessage(value('grpc-message') ?? ''))) return undefined;
  const out = lines.map((l) => (l.toLowerCase().startsWith('grpc-status:') ? `grpc-status: ${Code.InvalidArgument}` : l));
  return Buffer.from(out.join('\r\n'), 'latin1');
}

/**
 * Passes an enveloped body through untouched, frame by frame without copying, except for the
 * frame flagged `endFlag` (always the last), which is collected and handed to `fix`. A fixed
 * frame goes out uncompressed: the compression flag is per frame.
 */
async function* rewriteEndFrame(
  body: AsyncIterable<Uint8Array>,
  endFlag: number,
  encoding: string | undefined,
  fix: (data: Uint8Array) => Uint8Array | undefined,
): AsyncIterable<Uint8Array> {
  let head = Buffer.alloc(0); // header bytes of the next frame, held back until complete
  let skip = 0; // payload bytes of a passed-through frame still to come
  let end: Buffer | undefined; // the end frame being collected, header included
  let filled = 0;
  let done = false;
  const finishEnd = (frame: Buffer): Uint8Array => {
    const flags = frame[0];
    let data: Uint8Array = frame.subarray(5);
    try {
      if (flags & COMPRESSED) data = inflate(data, encoding);
      const fixed = fix(data);
      if (!fixed) return frame;
      const out = Buffer.alloc(5 + fixed.byteLength);
      out[0] = flags & ~COMPRESSED;
      out.writeUInt32BE(fixed.byteLength, 1);
      out.set(fixed, 5);
      return out;
    } catch {
      return frame;
    }
  };
  for await (const chunk of body) {
    if (done) {
      yield chunk;
      continue;
    }
    let pos = 0;
    while (pos < chunk.byteLength) {
      if (end) {
        const n = Math.min(end.length - filled, chunk.byteLength - pos);
        end.set(chunk.subarray(pos, pos + n), filled);
        filled += n;
        pos += n;
        if (filled === end.length) {
          yield finishEnd(end);
          end = undefined;
          done = true;
          if (pos < chunk.byteLength) yield chunk.subarray(pos);
          pos = chunk.byteLength;
        }
        continue;
      }
      if (skip > 0) {
        const n = Math.min(skip, chunk.byteLength - pos);
        yield chunk.subarray(pos, pos + n);
        skip -= n;
        pos += n;
        continue;
      }
      const n = Math.min(5 - head.length, chunk.byteLength - pos);
      head = Buffer.concat([head, chunk.subarray(pos, pos + n)]);
      pos += n;
      if (head.length < 5) continue;
      const len = head.readUInt32BE(1);
      if (head[0] & endFlag && len <= MAX_END_FRAME) {
        end = Buffer.alloc(5 + len);
        head.copy(end);
        filled = 5;
        if (len === 0) {
          yield finishEnd(end);
          end = undefined;
          done = true;
          if (pos < chunk.byteLength) yield chunk.subarray(pos);
          pos = chunk.byteLength;
        }
      } else {
        yield head;
        skip = len;
      }
      head = Buffer.alloc(0);
    }
  }
  if (head.length) yield head;
  if (end) yield end.subarray(0, filled);
}

function inflate(data: Uint8Array, encoding: string | undefined): Buffer {
  if (!encoding || encoding === 'identity') return Buffer.from(data);
  if (encoding === 'gzip') return gunzipSync(data, { maxOutputLength: MAX_END_FRAME });
  if (encoding === 'br') return brotliDecompressSync(data, { maxOutputLength: MAX_END_FRAME });
  throw new Error(`unknown encoding ${encoding}`);
}

function decodeGrpcMessage(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

function parseJsonObject(bytes: Uint8Array): Record<string, unknown> | undefined {
  try {
    const v: unknown = JSON.parse(Buffer.from(bytes).toString('utf8'));
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

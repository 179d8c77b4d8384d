import { ErrorCode, FirnError } from '@firn/errors';
import { gunzipWithin, isGzip } from '@firn/profiles';

/**
 * Removes an HTTP Content-Encoding: gzip is inflated (capped, see `gunzipWithin`); anything else
 * is refused with 415 (Node 20's zlib has no zstd; Pyroscope SDKs send gzip or nothing). Bytes
 * that are themselves gzip (a `.pb.gz` pprof) are inflated here too, once, so decoders read
 * plain bytes and a bomb stops before any decoder sees it.
 *
 * `received`: the bytes without the transport's encoding (what identifies a retry);
 * `content`: those bytes with their own gzip removed too (what decoders read).
 * `reserve` is called with each inflated size before it is inflated (the in-flight budget).
 */
export async function removeContentEncoding(
  bytes: Uint8Array,
  encoding: string | undefined,
  maxBytes: number,
  what: string,
  reserve: (bytes: number) => void,
): Promise<{ received: Uint8Array; content: Uint8Array }> {
  const e = (encoding ?? '').trim().toLowerCase();
  let received = bytes;
  if (e === 'gzip' || e === 'x-gzip') {
    if (!isGzip(bytes)) throw FirnError.invalidArgument('Content-Encoding says gzip but the body is not gzip');
    received = await gunzipWithin(bytes, maxBytes, what, reserve);
  } else if (e !== '' && e !== 'identity') {
    throw new FirnError(ErrorCode.InvalidArgument, `unsupported Content-Encoding ${JSON.stringify(e)}: send gzip or an uncompressed body`, { httpStatus: 415 });
  }
  const content = isGzip(received) ? await gunzipWithin(received, maxBytes, what, reserve) : received;
  return { received, content };
}

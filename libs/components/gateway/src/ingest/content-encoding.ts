import { ErrorCode, FirnError } from '@firn/errors';
import { checkGunzipSize, isGzip, maybeGunzip } from '@firn/profiles';

/**
 * Removes an HTTP Content-Encoding: gzip is inflated (size-checked in steps first, then capped
 * like any profile); anything else is refused with 415 (Node 20's zlib has no zstd; Pyroscope
 * SDKs send gzip or nothing). Bytes that are themselves gzip (a `.pb.gz` pprof) are size-checked
 * here too, so a decoder inflating them later cannot be handed a bomb.
 *
 * `inflated`: bytes the decoded content will take once a decoder inflates what is still gzip,
 * for the in-flight budget.
 */
export async function removeContentEncoding(
  bytes: Uint8Array,
  encoding: string | undefined,
  maxBytes: number,
  what: string,
): Promise<{ bytes: Uint8Array; inflated: number }> {
  const e = (encoding ?? '').trim().toLowerCase();
  let out = bytes;
  let inflated = 0;
  if (e === 'gzip' || e === 'x-gzip') {
    if (!isGzip(bytes)) throw FirnError.invalidArgument('Content-Encoding says gzip but the body is not gzip');
    await checkGunzipSize(bytes, maxBytes, what);
    out = maybeGunzip(bytes, maxBytes, what);
    inflated = out.length;
  } else if (e !== '' && e !== 'identity') {
    throw new FirnError(ErrorCode.InvalidArgument, `unsupported Content-Encoding ${JSON.stringify(e)}: send gzip or an uncompressed body`, { httpStatus: 415 });
  }
  if (isGzip(out)) inflated += await checkGunzipSize(out, maxBytes, what);
  return { bytes: out, inflated };
}

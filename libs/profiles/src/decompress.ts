import { FirnError } from '@firn/errors';
import { gunzipSync } from 'node:zlib';

export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

/**
 * Gunzips `bytes` when they start with the gzip magic, else returns them as they are. The
 * output is hard-capped at `maxBytes`: zlib stops inflating as soon as the cap is passed, so a
 * decompression bomb costs at most `maxBytes` of memory and is rejected with invalid_argument.
 */
export function maybeGunzip(bytes: Uint8Array, maxBytes: number, what: string): Uint8Array {
  if (!isGzip(bytes)) {
    if (bytes.length > maxBytes) {
      throw FirnError.invalidArgument(`${what} is ${bytes.length} bytes, more than the limit of ${maxBytes}`, {
        limit: 'max_decompressed_bytes',
      });
    }
    return bytes;
  }
  try {
    return gunzipSync(bytes, { maxOutputLength: maxBytes });
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === 'ERR_BUFFER_TOO_LARGE' || err instanceof RangeError) {
      throw FirnError.invalidArgument(`${what} decompresses to more than the limit of ${maxBytes} bytes`, {
        limit: 'max_decompressed_bytes',
      });
    }
    throw FirnError.invalidArgument(`malformed gzip in ${what}: ${(err as Error).message}`);
  }
}

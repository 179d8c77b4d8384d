import { FirnError } from '@firn/errors';
import { createGunzip, gunzipSync } from 'node:zlib';

export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

/**
 * Gunzips `bytes` when they start with the gzip magic, else returns them as they are. The
 * output is hard-capped at `maxBytes`: zlib stops inflating as soon as the cap is passed, so a
 * decompression bomb costs at most `maxBytes` of memory and is rejected with invalid_argument.
 */
/** zstd frame magic (RFC 8878), little-endian 0xFD2FB528. */
export function isZstd(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && bytes[0] === 0x28 && bytes[1] === 0xb5 && bytes[2] === 0x2f && bytes[3] === 0xfd;
}

export function maybeGunzip(bytes: Uint8Array, maxBytes: number, what: string): Uint8Array {
  if (isZstd(bytes)) {
    // Node 20's zlib has no zstd; say so instead of failing to parse compressed bytes as protobuf.
    throw new FirnError('invalid_argument', `${what} is zstd-compressed, which is not supported; send it gzip-compressed or uncompressed`, {
      httpStatus: 415,
      details: { encoding: 'zstd' },
    });
  }
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

/**
 * Inflates gzip `bytes` in 64 KiB steps, keeping nothing, and rejects them (invalid_argument,
 * limit max_decompressed_bytes) as soon as the output passes `maxBytes`. Callers run this before
 * `maybeGunzip` so a decompression bomb costs a few chunks of memory instead of `maxBytes`.
 * Non-gzip bytes pass (size-checked by the parser). Returns the inflated size (the size of
 * non-gzip bytes), so callers can account for the memory the decoded data will take.
 */
export async function checkGunzipSize(bytes: Uint8Array, maxBytes: number, what: string): Promise<number> {
  if (!isGzip(bytes)) return bytes.length;
  const gz = createGunzip({ chunkSize: 64 * 1024 });
  let total = 0;
  await new Promise<void>((resolve, reject) => {
    gz.on('data', (c: Buffer) => {
      total += c.length;
      if (total > maxBytes) {
        gz.destroy();
        reject(FirnError.invalidArgument(`${what} decompresses to more than the limit of ${maxBytes} bytes`, { limit: 'max_decompressed_bytes' }));
      }
    });
    gz.on('end', resolve);
    gz.on('error', (err) => reject(FirnError.invalidArgument(`malformed gzip in ${what}: ${err.message}`)));
    gz.end(bytes);
  });
  return total;
}

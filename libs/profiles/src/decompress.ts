import { FirnError } from '@firn/errors';
import { createGunzip, gunzipSync } from 'node:zlib';

export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

/** zstd frame magic (RFC 8878), little-endian 0xFD2FB528. */
export function isZstd(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && bytes[0] === 0x28 && bytes[1] === 0xb5 && bytes[2] === 0x2f && bytes[3] === 0xfd;
}

/**
 * Gunzips `bytes` when they start with the gzip magic, else returns them as they are. The
 * output is hard-capped at `maxBytes`: zlib stops inflating as soon as the cap is passed, so a
 * decompression bomb costs at most `maxBytes` of memory and is rejected with invalid_argument.
 */
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
    if (isTooLarge(err)) throw tooLarge(what, maxBytes);
    throw FirnError.invalidArgument(`malformed gzip in ${what}: ${(err as Error).message}`);
  }
}

function isTooLarge(err: unknown): boolean {
  return (err as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE' || err instanceof RangeError;
}

function tooLarge(what: string, maxBytes: number): FirnError {
  return FirnError.invalidArgument(`${what} decompresses to more than the limit of ${maxBytes} bytes`, { limit: 'max_decompressed_bytes' });
}

/**
 * Inflates gzip `bytes` (by magic; other bytes are returned as they are, checked as
 * `maybeGunzip` checks them) once, capped at `maxBytes`, calling `reserve(n)` for the memory the
 * output will take before it is inflated (an in-flight budget may refuse it by throwing).
 *
 * The size comes from the gzip trailer (ISIZE: the last member's size mod 2^32): a stream that
 * tells the truth (every single-member stream zlib accepts) is inflated once, capped at that
 * size. Any other (a stated size past the cap, several members, a trailer that lies or a
 * truncated stream) is first measured in 64 KiB steps keeping nothing (`checkGunzipSize`), so a
 * decompression bomb holds at most the size it stated, within the cap and reserved first.
 */
export async function gunzipWithin(bytes: Uint8Array, maxBytes: number, what: string, reserve: (bytes: number) => void): Promise<Uint8Array> {
  if (!isGzip(bytes)) return maybeGunzip(bytes, maxBytes, what);
  let reserved = 0;
  const stated = bytes.length >= GZIP_MIN_BYTES ? Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).readUInt32LE(bytes.length - 4) : Infinity;
  if (stated <= maxBytes) {
    reserve(stated);
    reserved = stated;
    try {
      return gunzipSync(bytes, { maxOutputLength: Math.max(stated, 1) });
    } catch (err) {
      if (!isTooLarge(err)) throw FirnError.invalidArgument(`malformed gzip in ${what}: ${(err as Error).message}`);
    }
  }
  const size = await checkGunzipSize(bytes, maxBytes, what);
  reserve(Math.max(0, size - reserved));
  return maybeGunzip(bytes, maxBytes, what);
}

/** A gzip member's 10-byte header, an empty deflate block and the 8-byte trailer. */
const GZIP_MIN_BYTES = 20;

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
        reject(tooLarge(what, maxBytes));
      }
    });
    gz.on('end', resolve);
    gz.on('error', (err) => reject(FirnError.invalidArgument(`malformed gzip in ${what}: ${err.message}`)));
    gz.end(bytes);
  });
  return total;
}

import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { isFirnError } from '@firn/errors';
import { checkGunzipSize, isZstd, maybeGunzip } from './decompress';

describe(maybeGunzip.name, () => {
  it('inflates gzip and passes plain bytes through', () => {
    const plain = Buffer.from('hello profile');
    expect(Buffer.from(maybeGunzip(gzipSync(plain), 1024, 'x')).toString()).toBe('hello profile');
    expect(maybeGunzip(plain, 1024, 'x')).toBe(plain);
  });

  it('stops a decompression bomb at the cap', () => {
    const bomb = gzipSync(Buffer.alloc(64 * 1024 * 1024), { level: 9 });
    expect(bomb.length).toBeLessThan(128 * 1024);
    expect(() => maybeGunzip(bomb, 1024 * 1024, 'pprof')).toThrow(/decompresses to more than the limit of 1048576 bytes/);
  });

  it('refuses zstd with 415 and says what to send instead', () => {
    const zstd = Uint8Array.from([0x28, 0xb5, 0x2f, 0xfd, 0x00, 0x58, 0x01, 0x00]);
    expect(isZstd(zstd)).toBe(true);
    let err: unknown;
    try {
      maybeGunzip(zstd, 1024, 'pprof');
    } catch (e) {
      err = e;
    }
    expect(isFirnError(err, 'invalid_argument')).toBe(true);
    expect((err as { httpStatus?: number }).httpStatus).toBe(415);
    expect((err as Error).message).toMatch(/zstd-compressed.*gzip-compressed or uncompressed/);
  });

  it('rejects truncated gzip as invalid input', () => {
    const g = gzipSync(Buffer.alloc(1000, 7));
    expect(() => maybeGunzip(g.subarray(0, g.length - 10), 1 << 20, 'pprof')).toThrow(/malformed gzip in pprof/);
  });
});

describe(checkGunzipSize.name, () => {
  it('passes gzip within the cap and plain bytes (returning their inflated size), and stops a bomb early', async () => {
    await expect(checkGunzipSize(gzipSync(Buffer.alloc(1000)), 1000, 'x')).resolves.toBe(1000);
    await expect(checkGunzipSize(Buffer.from('plain'), 1, 'x')).resolves.toBe(5);
    const bomb = gzipSync(Buffer.alloc(256 * 1024 * 1024), { level: 1 });
    await expect(checkGunzipSize(bomb, 1024 * 1024, 'pprof')).rejects.toThrow(/pprof decompresses to more than the limit of 1048576 bytes/);
    await expect(checkGunzipSize(bomb.subarray(0, 100), 1 << 30, 'pprof')).rejects.toThrow(/malformed gzip in pprof/);
  });
});

import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { isFirnError } from '@firn/errors';
import { checkGunzipSize, gunzipWithin, isZstd, maybeGunzip } from './decompress';

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

describe(gunzipWithin.name, () => {
  const inflate = async (bytes: Uint8Array, max: number) => {
    const reserved: number[] = [];
    const out = await gunzipWithin(bytes, max, 'pprof', (n) => reserved.push(n));
    return { out: Buffer.from(out), reserved };
  };
  /** `gz` with its trailer's stated size replaced. */
  const statingSize = (gz: Buffer, size: number) => {
    const copy = Buffer.from(gz);
    copy.writeUInt32LE(size, copy.length - 4);
    return copy;
  };

  it('inflates a gzip stream once, reserving the size its trailer states first', async () => {
    const plain = Buffer.alloc(1000, 7);
    expect(await inflate(gzipSync(plain), 1000)).toEqual({ out: plain, reserved: [1000] });
    expect(await inflate(gzipSync(Buffer.alloc(0)), 1000)).toEqual({ out: Buffer.alloc(0), reserved: [0] });
  });

  it('returns other bytes as they are, reserving nothing, and refuses them past the cap or as zstd', async () => {
    const plain = Buffer.from('plain profile');
    expect(await inflate(plain, 100)).toEqual({ out: plain, reserved: [] });
    await expect(inflate(plain, 5)).rejects.toThrow(/pprof is 13 bytes, more than the limit of 5/);
    await expect(inflate(Uint8Array.from([0x28, 0xb5, 0x2f, 0xfd, 0, 0x58, 1, 0]), 100)).rejects.toThrow(/zstd-compressed/);
  });

  it('inflates several gzip members whole, reserving what the first pass found', async () => {
    const two = Buffer.concat([gzipSync(Buffer.alloc(500, 1)), gzipSync(Buffer.alloc(300, 2))]);
    const { out, reserved } = await inflate(two, 1000);
    expect(out).toEqual(Buffer.concat([Buffer.alloc(500, 1), Buffer.alloc(300, 2)]));
    expect(reserved).toEqual([300, 500]);
    await expect(inflate(two, 799)).rejects.toThrow(/pprof decompresses to more than the limit of 799 bytes/);
  });

  it('stops a bomb at the cap whatever its trailer says, holding at most the size it stated', async () => {
    const bomb = gzipSync(Buffer.alloc(64 * 1024 * 1024), { level: 1 });
    const honest = await inflate(bomb, 1024 * 1024).catch((e: Error) => e);
    expect((honest as Error).message).toMatch(/pprof decompresses to more than the limit of 1048576 bytes/);
    const reserved: number[] = [];
    await expect(gunzipWithin(statingSize(bomb, 1000), 1024 * 1024, 'pprof', (n) => reserved.push(n))).rejects.toThrow(
      /pprof decompresses to more than the limit of 1048576 bytes/,
    );
    expect(reserved).toEqual([1000]);
  });

  it('refuses a truncated stream or a lying trailer as malformed gzip', async () => {
    const gz = gzipSync(Buffer.alloc(1000, 7));
    await expect(inflate(gz.subarray(0, gz.length - 10), 1 << 20)).rejects.toThrow(/malformed gzip in pprof/);
    await expect(inflate(gz.subarray(0, 12), 1 << 20)).rejects.toThrow(/malformed gzip in pprof/);
    await expect(inflate(statingSize(gz, 999), 1 << 20)).rejects.toThrow(/malformed gzip in pprof/);
    await expect(inflate(statingSize(gz, 1001), 1 << 20)).rejects.toThrow(/malformed gzip in pprof/);
  });

  it('inflates nothing when the reservation is refused', async () => {
    const refuse = () => {
      throw new Error('over budget');
    };
    await expect(gunzipWithin(gzipSync(Buffer.alloc(1000)), 1 << 20, 'pprof', refuse)).rejects.toThrow('over budget');
  });
});

import { createHash } from 'node:crypto';
import type { Frame } from './sample-batch';

/**
 * Global stack identity: the first 16 bytes (hex) of SHA-256 over this canonical encoding,
 * all integers little-endian:
 *   u32 frame count, then per frame (leaf first):
 *     str build_id, str mapping_file, u64 address, str function_name, str file_name,
 *     i64 line, u8 inlined (0/1)
 *   where str = u32 UTF-8 byte length + UTF-8 bytes.
 * Changing this encoding changes every stored stack id: never do it within one schema version.
 */
export function stackKey(frames: readonly Frame[]): string {
  let size = 4;
  for (const f of frames) {
    size +=
      16 +
      Buffer.byteLength(f.buildId) +
      Buffer.byteLength(f.mappingFile) +
      Buffer.byteLength(f.functionName) +
      Buffer.byteLength(f.fileName) +
      8 +
      8 +
      1;
  }
  const buf = Buffer.allocUnsafe(size);
  let o = buf.writeUInt32LE(frames.length, 0);
  const str = (s: string): void => {
    const n = buf.write(s, o + 4, 'utf8');
    buf.writeUInt32LE(n, o);
    o += 4 + n;
  };
  for (const f of frames) {
    str(f.buildId);
    str(f.mappingFile);
    o = buf.writeBigUInt64LE(BigInt.asUintN(64, f.address), o);
    str(f.functionName);
    str(f.fileName);
    o = buf.writeBigInt64LE(BigInt.asIntN(64, BigInt(Math.trunc(f.line))), o);
    o = buf.writeUInt8(f.inlined ? 1 : 0, o);
  }
  return createHash('sha256').update(buf.subarray(0, o)).digest().subarray(0, 16).toString('hex');
}

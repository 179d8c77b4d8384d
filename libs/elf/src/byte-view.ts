import { FirnError } from '@firn/errors';

/**
 * Bounds-checked reads over a byte range in the file's own endianness and word size. Every read
 * that would leave the range throws FirnError invalid_argument, so a malformed file can never
 * make the parser read garbage or throw a RangeError.
 */
export class ByteView {
  private readonly dv: DataView;

  constructor(
    readonly bytes: Uint8Array,
    readonly littleEndian: boolean,
    readonly is64: boolean,
    /** Where `bytes` starts in the file, for error messages. */
    readonly base = 0,
  ) {
    this.dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  get length(): number {
    return this.bytes.length;
  }

  private check(off: number, size: number, what: string): void {
    if (!Number.isSafeInteger(off) || off < 0 || off + size > this.bytes.length) {
      throw FirnError.invalidArgument(`ELF truncated: ${what} at file offset ${this.base + off} needs ${size} bytes`);
    }
  }

  u8(off: number, what = 'byte'): number {
    this.check(off, 1, what);
    return this.dv.getUint8(off);
  }

  u16(off: number, what = 'u16'): number {
    this.check(off, 2, what);
    return this.dv.getUint16(off, this.littleEndian);
  }

  u32(off: number, what = 'u32'): number {
    this.check(off, 4, what);
    return this.dv.getUint32(off, this.littleEndian);
  }

  i32(off: number, what = 'i32'): number {
    this.check(off, 4, what);
    return this.dv.getInt32(off, this.littleEndian);
  }

  u64(off: number, what = 'u64'): bigint {
    this.check(off, 8, what);
    return this.dv.getBigUint64(off, this.littleEndian);
  }

  /** An address-sized word: 4 bytes in ELF32, 8 in ELF64. */
  word(off: number, what = 'word'): bigint {
    return this.is64 ? this.u64(off, what) : BigInt(this.u32(off, what));
  }

  slice(off: number, size: number, what = 'bytes'): Uint8Array {
    this.check(off, size, what);
    return this.bytes.subarray(off, off + size);
  }

  /** NUL-terminated string starting at `off`; an unterminated string is malformed input. */
  cstring(off: number, what = 'string', maxLen = 65_536): string {
    this.check(off, 0, what);
    const end = Math.min(this.bytes.length, off + maxLen);
    for (let i = off; i < end; i++) {
      if (this.bytes[i] === 0) return utf8.decode(this.bytes.subarray(off, i));
    }
    throw FirnError.invalidArgument(`ELF malformed: unterminated ${what} at file offset ${this.base + off}`);
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: false });

/** Converts a bigint file quantity to a JS number, refusing values no real file can have. */
export function toOffset(v: bigint, what: string): number {
  if (v < 0n || v > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw FirnError.invalidArgument(`ELF malformed: ${what} ${v} is out of range`);
  }
  return Number(v);
}

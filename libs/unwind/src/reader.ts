import { FirnError } from '@firn/errors';

/** DW_EH_PE_* pointer encodings (LSB / "Exception Frames" in the System V ABI). */
export const DW_EH_PE = {
  absptr: 0x00,
  uleb128: 0x01,
  udata2: 0x02,
  udata4: 0x03,
  udata8: 0x04,
  sleb128: 0x09,
  sdata2: 0x0a,
  sdata4: 0x0b,
  sdata8: 0x0c,
  pcrel: 0x10,
  textrel: 0x20,
  datarel: 0x30,
  funcrel: 0x40,
  aligned: 0x50,
  indirect: 0x80,
  omit: 0xff,
} as const;

const TWO_32 = 2 ** 32;

/**
 * A bounds-checked little/big-endian cursor over one section's bytes. Every read past the end,
 * every LEB128 longer than 10 bytes and every value beyond 2^53 throws FirnError
 * invalid_argument, so malformed unwind data can never yield a RangeError or a wrong number.
 */
export class Reader {
  private view: DataView | undefined;
  pos: number;

  constructor(
    readonly bytes: Uint8Array,
    readonly littleEndian: boolean,
    /** Address of bytes[0] in the loaded image (for pc-relative pointers). */
    readonly baseAddress: number,
    start = 0,
    /** Reads stop here (exclusive); defaults to the end of `bytes`. */
    public end = bytes.length,
    /** What is being read, for error messages (a function: built only when an error happens). */
    readonly what: string | (() => string) = 'unwind data',
  ) {
    this.pos = start;
    if (end > bytes.length || end < 0) this.end = bytes.length;
  }

  /** Created on first multi-byte read: most CFA programs are read byte by byte. */
  private get dv(): DataView {
    return (this.view ??= new DataView(this.bytes.buffer, this.bytes.byteOffset, this.bytes.byteLength));
  }

  get remaining(): number {
    return this.end - this.pos;
  }

  fail(msg: string): never {
    const what = typeof this.what === 'function' ? this.what() : this.what;
    throw FirnError.invalidArgument(`${what}: ${msg} at offset ${this.pos}`);
  }

  private need(n: number): void {
    if (this.pos + n > this.end) this.fail(`truncated (needs ${n} bytes, ${this.end - this.pos} left)`);
  }

  u8(): number {
    if (this.pos >= this.end) this.need(1);
    return this.bytes[this.pos++];
  }

  u16(): number {
    this.need(2);
    const v = this.dv.getUint16(this.pos, this.littleEndian);
    this.pos += 2;
    return v;
  }

  s16(): number {
    this.need(2);
    const v = this.dv.getInt16(this.pos, this.littleEndian);
    this.pos += 2;
    return v;
  }

  u32(): number {
    this.need(4);
    const v = this.dv.getUint32(this.pos, this.littleEndian);
    this.pos += 4;
    return v;
  }

  s32(): number {
    this.need(4);
    const v = this.dv.getInt32(this.pos, this.littleEndian);
    this.pos += 4;
    return v;
  }

  /** A 64-bit value; throws unless it is a safe integer (addresses of real code always are). */
  u64(): number {
    this.need(8);
    const lo = this.dv.getUint32(this.pos + (this.littleEndian ? 0 : 4), this.littleEndian);
    const hi = this.dv.getUint32(this.pos + (this.littleEndian ? 4 : 0), this.littleEndian);
    this.pos += 8;
    const v = hi * TWO_32 + lo;
    if (!Number.isSafeInteger(v)) this.fail('64-bit value beyond 2^53');
    return v;
  }

  s64(): number {
    this.need(8);
    const lo = this.dv.getUint32(this.pos + (this.littleEndian ? 0 : 4), this.littleEndian);
    const hi = this.dv.getInt32(this.pos + (this.littleEndian ? 4 : 0), this.littleEndian);
    this.pos += 8;
    const v = hi * TWO_32 + lo;
    if (!Number.isSafeInteger(v)) this.fail('64-bit value beyond 2^53');
    return v;
  }

  uleb(): number {
    let result = 0;
    let mul = 1;
    for (let i = 0; i < 10; i++) {
      const b = this.u8();
      result += (b & 0x7f) * mul;
      if ((b & 0x80) === 0) {
        if (!Number.isSafeInteger(result)) this.fail('ULEB128 beyond 2^53');
        return result;
      }
      mul *= 128;
    }
    return this.fail('ULEB128 longer than 10 bytes');
  }

  sleb(): number {
    let result = 0;
    let mul = 1;
    for (let i = 0; i < 10; i++) {
      const b = this.u8();
      result += (b & 0x7f) * mul;
      mul *= 128;
      if ((b & 0x80) === 0) {
        if (b & 0x40) result -= mul;
        if (!Number.isSafeInteger(result)) this.fail('SLEB128 beyond 2^53');
        return result;
      }
    }
    return this.fail('SLEB128 longer than 10 bytes');
  }

  /** NUL-terminated ASCII string (augmentation strings are short: capped at 64 bytes). */
  cstring(): string {
    let s = '';
    for (let i = 0; i < 64; i++) {
      const c = this.u8();
      if (c === 0) return s;
      s += String.fromCharCode(c);
    }
    return this.fail('string longer than 64 bytes');
  }

  skip(n: number): void {
    if (n < 0) this.fail('negative skip');
    this.need(n);
    this.pos += n;
  }

  subarray(n: number): Uint8Array {
    this.need(n);
    const out = this.bytes.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  /**
   * A pointer in a DW_EH_PE encoding; undefined for DW_EH_PE_omit. pc-relative values are
   * relative to the field's own address; `datarel` to `dataBase` (the start of .eh_frame_hdr in
   * that section, otherwise unsupported). Indirect pointers would need process memory: rejected.
   */
  encoded(enc: number, opts: { dataBase?: number; addressSize?: 4 | 8; signedFormatOnly?: boolean } = {}): number | undefined {
    if (enc === DW_EH_PE.omit) return undefined;
    const fieldAddress = this.baseAddress + this.pos;
    let v: number;
    switch (enc & 0x0f) {
      case DW_EH_PE.absptr:
        v = (opts.addressSize ?? 8) === 8 ? this.u64() : this.u32();
        break;
      case DW_EH_PE.uleb128:
        v = this.uleb();
        break;
      case DW_EH_PE.udata2:
        v = this.u16();
        break;
      case DW_EH_PE.udata4:
        v = this.u32();
        break;
      case DW_EH_PE.udata8:
        v = this.u64();
        break;
      case DW_EH_PE.sleb128:
        v = this.sleb();
        break;
      case DW_EH_PE.sdata2:
        v = this.s16();
        break;
      case DW_EH_PE.sdata4:
        v = this.s32();
        break;
      case DW_EH_PE.sdata8:
        v = this.s64();
        break;
      default:
        return this.fail(`unknown pointer format 0x${(enc & 0x0f).toString(16)}`);
    }
    if (opts.signedFormatOnly) return v; // a length (FDE address range): no application
    if (enc & DW_EH_PE.indirect) this.fail('indirect pointer encoding');
    switch (enc & 0x70) {
      case 0:
        return v;
      case DW_EH_PE.pcrel:
        return v + fieldAddress;
      case DW_EH_PE.datarel:
        if (opts.dataBase === undefined) return this.fail('datarel pointer outside .eh_frame_hdr');
        return v + opts.dataBase;
      default:
        return this.fail(`unsupported pointer application 0x${(enc & 0x70).toString(16)}`);
    }
  }
}

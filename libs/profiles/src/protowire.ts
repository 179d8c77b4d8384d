import { FirnError } from '@firn/errors';

/**
 * Minimal protobuf wire reader for the pprof hot path. Varints are decoded into JS numbers
 * (exact below 2^53); callers that need exact 64-bit values (addresses) re-read the bytes with
 * `varintBigAt`. Every read is bounds-checked and fails with invalid_argument.
 */
export class WireReader {
  pos: number;

  constructor(
    readonly buf: Uint8Array,
    start: number,
    public end: number,
    private readonly what: string,
  ) {
    this.pos = start;
  }

  fail(msg: string): never {
    throw FirnError.invalidArgument(`malformed ${this.what}: ${msg} at byte ${this.pos}`);
  }

  done(): boolean {
    return this.pos >= this.end;
  }

  varint(): number {
    const buf = this.buf;
    if (this.pos >= this.end) this.fail('truncated varint');
    let b = buf[this.pos++];
    if (b < 0x80) return b;
    let result = b & 0x7f;
    let mul = 128;
    for (let i = 1; i < 10; i++) {
      if (this.pos >= this.end) this.fail('truncated varint');
      b = buf[this.pos++];
      result += (b & 0x7f) * mul;
      if (b < 0x80) return result;
      mul *= 128;
    }
    this.fail('varint longer than 10 bytes');
  }

  /** Reads a tag; returns field number * 8 + wire type (as protobuf encodes it). */
  tag(): number {
    const t = this.varint();
    if (t > 0xffffffff) this.fail('tag out of range');
    return t;
  }

  /** Reads a length prefix and returns the end offset of the delimited bytes. */
  lenEnd(): number {
    const n = this.varint();
    const e = this.pos + n;
    if (e > this.end) this.fail(`length ${n} runs past the end of the message`);
    return e;
  }

  skip(wireType: number): void {
    switch (wireType) {
      case 0:
        this.varint();
        return;
      case 1:
        if (this.pos + 8 > this.end) this.fail('truncated fixed64');
        this.pos += 8;
        return;
      case 2:
        this.pos = this.lenEnd();
        return;
      case 5:
        if (this.pos + 4 > this.end) this.fail('truncated fixed32');
        this.pos += 4;
        return;
      default:
        this.fail(`unsupported wire type ${wireType}`);
    }
  }
}

/** Exact unsigned 64-bit value of the varint at `pos` (already validated by a WireReader). */
export function varintBigAt(buf: Uint8Array, pos: number): bigint {
  // Up to 7 bytes (49 bits) is exact as a JS number; only longer varints need BigInt math.
  let n = 0;
  for (let i = 0; i < 7; i++) {
    const b = buf[pos + i];
    n += (b & 0x7f) * 2 ** (7 * i);
    if (b < 0x80) return BigInt(n);
  }
  let v = 0n;
  for (let i = 0; i < 10; i++) {
    const b = buf[pos + i];
    v |= BigInt(b & 0x7f) << BigInt(7 * i);
    if (b < 0x80) break;
  }
  return BigInt.asUintN(64, v);
}

/**
 * The varint at `pos` (already validated by a WireReader) as a JS number when it is at most 7
 * bytes long (below 2^49, exact); NaN when longer (read it with `varintBigAt`).
 */
export function varintNumberAt(buf: Uint8Array, pos: number): number {
  let n = 0;
  let mul = 1;
  for (let i = 0; i < 7; i++) {
    const b = buf[pos + i];
    n += (b & 0x7f) * mul;
    if (b < 0x80) return n;
    mul *= 128;
  }
  return NaN;
}

import { FirnError } from '@firn/errors';
import type { Frame } from '@firn/profiles';
import { checkPartial, type PartialAggregate, type PartialStack } from './merge-stacks';

/*
 * Wire form of a PartialAggregate (little-endian; "v" = unsigned LEB128 varint):
 *   "FQPA" u8 version=1 u8 flags (bit 0: base present)
 *   v nStrings, then per string v byteLength + UTF-8          (every string once)
 *   v nGroupBy, v string index each
 *   v nGroups, per group nGroupBy × v string index
 *   v nFrames, per distinct frame: v buildId, v mappingFile, u64 address, v functionName,
 *     v fileName, zigzag-v line, u8 inlined                   (every distinct frame once)
 *   v nStacks, per stack: v key string, v depth, v frame index × depth
 *   v nCells, then v group × n, v stack × n, f64 value × n [, f64 base × n]
 * Columns of cells are contiguous so the float arrays are copied, not parsed.
 */

const MAGIC = [0x46, 0x51, 0x50, 0x41]; // "FQPA"
const VERSION = 1;
const FLAG_BASE = 1;

class Writer {
  private buf = new Uint8Array(1024);
  private view = new DataView(this.buf.buffer);
  private pos = 0;

  private need(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < this.pos + n) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }

  u8(v: number): void {
    this.need(1);
    this.buf[this.pos++] = v;
  }

  varint(v: number): void {
    this.need(10);
    while (v >= 0x80) {
      this.buf[this.pos++] = (v % 0x80) | 0x80;
      v = Math.floor(v / 0x80);
    }
    this.buf[this.pos++] = v;
  }

  bytes(b: Uint8Array): void {
    this.need(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }

  u64(v: bigint): void {
    this.need(8);
    this.view.setBigUint64(this.pos, v, true);
    this.pos += 8;
  }

  f64s(a: Float64Array): void {
    this.need(a.length * 8);
    for (let i = 0; i < a.length; i++) this.view.setFloat64(this.pos + i * 8, a[i], true);
    this.pos += a.length * 8;
  }

  finish(): Uint8Array {
    return this.buf.slice(0, this.pos);
  }
}

function corrupt(what: string): FirnError {
  return FirnError.invalidArgument(`corrupt partial aggregate: ${what}`);
}

class Reader {
  private pos = 0;
  private readonly view: DataView;

  constructor(private readonly buf: Uint8Array) {
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  private need(n: number): void {
    if (this.pos + n > this.buf.length) throw corrupt(`truncated at byte ${this.pos}`);
  }

  u8(): number {
    this.need(1);
    return this.buf[this.pos++];
  }

  varint(): number {
    let v = 0;
    let mul = 1;
    for (let i = 0; i < 8; i++) {
      const b = this.u8();
      v += (b & 0x7f) * mul;
      if (b < 0x80) return v;
      mul *= 0x80;
    }
    throw corrupt(`varint too long at byte ${this.pos}`);
  }

  /** A count of items that each take at least `minBytes`: bounded by what is left. */
  count(minBytes: number): number {
    const n = this.varint();
    if (n * minBytes > this.buf.length - this.pos) throw corrupt(`count ${n} exceeds the remaining bytes`);
    return n;
  }

  bytes(n: number): Uint8Array {
    this.need(n);
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  u64(): bigint {
    this.need(8);
    const v = this.view.getBigUint64(this.pos, true);
    this.pos += 8;
    return v;
  }

  f64s(n: number): Float64Array {
    this.need(n * 8);
    const out = new Float64Array(n);
    for (let i = 0; i < n; i++) out[i] = this.view.getFloat64(this.pos + i * 8, true);
    this.pos += n * 8;
    return out;
  }

  end(): void {
    if (this.pos !== this.buf.length) throw corrupt(`${this.buf.length - this.pos} trailing bytes`);
  }
}

function zigzag(v: number): number {
  return v >= 0 ? v * 2 : -v * 2 - 1;
}

function unzigzag(v: number): number {
  return v % 2 === 0 ? v / 2 : -(v + 1) / 2;
}

function frameKey(f: Frame, str: (s: string) => number): string {
  return `${str(f.buildId)},${str(f.mappingFile)},${f.address},${str(f.functionName)},${str(f.fileName)},${f.line},${f.inlined ? 1 : 0}`;
}

export function encodePartial(p: PartialAggregate): Uint8Array {
  checkPartial(p);
  const strings: string[] = [];
  const strIdx = new Map<string, number>();
  const str = (s: string): number => {
    let i = strIdx.get(s);
    if (i === undefined) {
      i = strings.length;
      strings.push(s);
      strIdx.set(s, i);
    }
    return i;
  };
  const groupBy = p.groupBy.map(str);
  const groups = p.groups.map((g) => g.map(str));
  const frames: Frame[] = [];
  const frameIdx = new Map<string, number>();
  // Stacks share one Frame object per distinct frame (a catalog's, a decoded partial's): the
  // content key is built once per object, not once per occurrence.
  const byRef = new Map<Frame, number>();
  const frameIndex = (f: Frame): number => {
    let i = byRef.get(f);
    if (i === undefined) {
      const k = frameKey(f, str);
      i = frameIdx.get(k);
      if (i === undefined) {
        i = frames.push(f) - 1;
        frameIdx.set(k, i);
      }
      byRef.set(f, i);
    }
    return i;
  };
  const stacks = p.stacks.map((s) => ({ key: str(s.key), frames: s.frames.map(frameIndex) }));

  const w = new Writer();
  for (const b of MAGIC) w.u8(b);
  w.u8(VERSION);
  w.u8(p.base ? FLAG_BASE : 0);
  w.varint(strings.length);
  for (const s of strings) {
    const b = Buffer.from(s, 'utf8');
    w.varint(b.length);
    w.bytes(b);
  }
  w.varint(groupBy.length);
  for (const i of groupBy) w.varint(i);
  w.varint(groups.length);
  for (const g of groups) for (const i of g) w.varint(i);
  w.varint(frames.length);
  for (const f of frames) {
    w.varint(str(f.buildId));
    w.varint(str(f.mappingFile));
    w.u64(BigInt.asUintN(64, f.address));
    w.varint(str(f.functionName));
    w.varint(str(f.fileName));
    w.varint(zigzag(f.line));
    w.u8(f.inlined ? 1 : 0);
  }
  w.varint(stacks.length);
  for (const s of stacks) {
    w.varint(s.key);
    w.varint(s.frames.length);
    for (const i of s.frames) w.varint(i);
  }
  const n = p.values.length;
  w.varint(n);
  for (let i = 0; i < n; i++) w.varint(p.cellGroup[i]);
  for (let i = 0; i < n; i++) w.varint(p.cellStack[i]);
  w.f64s(p.values);
  if (p.base) w.f64s(p.base);
  return w.finish();
}

/** Inverse of encodePartial; invalid_argument for anything malformed. */
export function decodePartial(bytes: Uint8Array): PartialAggregate {
  const r = new Reader(bytes);
  for (const b of MAGIC) if (r.u8() !== b) throw corrupt('bad magic (not an FQPA partial aggregate)');
  const version = r.u8();
  if (version !== VERSION) throw corrupt(`unsupported version ${version}`);
  const flags = r.u8();
  const strings: string[] = [];
  const nStrings = r.count(1);
  for (let i = 0; i < nStrings; i++) strings.push(Buffer.from(r.bytes(r.varint())).toString('utf8'));
  const str = (): string => {
    const i = r.varint();
    if (i >= strings.length) throw corrupt(`string index ${i} out of range`);
    return strings[i];
  };
  const groupBy: string[] = [];
  const nGroupBy = r.count(1);
  for (let i = 0; i < nGroupBy; i++) groupBy.push(str());
  const groups: string[][] = [];
  const nGroups = r.count(nGroupBy);
  for (let i = 0; i < nGroups; i++) {
    const g: string[] = [];
    for (let j = 0; j < nGroupBy; j++) g.push(str());
    groups.push(g);
  }
  const frames: Frame[] = [];
  const nFrames = r.count(14);
  for (let i = 0; i < nFrames; i++) {
    const buildId = str();
    const mappingFile = str();
    const address = r.u64();
    const functionName = str();
    const fileName = str();
    const line = unzigzag(r.varint());
    const inlined = r.u8();
    if (inlined > 1) throw corrupt(`frame ${i} has inlined byte ${inlined}`);
    frames.push({ buildId, mappingFile, address, functionName, fileName, line, inlined: inlined === 1 });
  }
  const stacks: PartialStack[] = [];
  const nStacks = r.count(2);
  for (let i = 0; i < nStacks; i++) {
    const key = str();
    const depth = r.count(1);
    const fs: Frame[] = [];
    for (let j = 0; j < depth; j++) {
      const fi = r.varint();
      if (fi >= frames.length) throw corrupt(`frame index ${fi} out of range`);
      fs.push(frames[fi]);
    }
    stacks.push({ key, frames: fs });
  }
  const n = r.count(2 + 8);
  const cellGroup = new Uint32Array(n);
  const cellStack = new Uint32Array(n);
  for (let i = 0; i < n; i++) cellGroup[i] = r.varint();
  for (let i = 0; i < n; i++) cellStack[i] = r.varint();
  const out: PartialAggregate = { groupBy, groups, stacks, cellGroup, cellStack, values: r.f64s(n) };
  if (flags & FLAG_BASE) out.base = r.f64s(n);
  r.end();
  checkPartial(out);
  return out;
}

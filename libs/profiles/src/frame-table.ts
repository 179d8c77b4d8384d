import type { Frame } from './sample-batch';

const EMPTY = -1;
const TWO_32 = 4294967296;

function frameHash(b: number, m: number, fn: number, file: number, lo: number, hi: number, line: number, inl: number): number {
  let h = Math.imul(b ^ 0x9e3779b9, 0x85ebca6b);
  h = Math.imul(h ^ m ^ (h >>> 15), 0xc2b2ae35);
  h = Math.imul(h ^ fn ^ (h >>> 13), 0x85ebca6b);
  h = Math.imul(h ^ file ^ (h >>> 16), 0xc2b2ae35);
  h = Math.imul(h ^ lo ^ (h >>> 13), 0x85ebca6b);
  h = Math.imul(h ^ hi ^ (h >>> 16), 0xc2b2ae35);
  h = Math.imul(h ^ (line | 0) ^ (h >>> 13), 0x85ebca6b);
  h = Math.imul(h ^ ((line / TWO_32) | 0) ^ (h >>> 16), 0xc2b2ae35);
  h = Math.imul(h ^ inl ^ (h >>> 16), 0x27d4eb2f);
  return h ^ (h >>> 15);
}

/** The address a frame table holds as two uint32 halves. */
function addressOf(lo: number, hi: number): bigint {
  return hi === 0 ? BigInt(lo) : hi < 0x200000 ? BigInt(hi * TWO_32 + lo) : (BigInt(hi) << 32n) | BigInt(lo);
}

/**
 * Distinct frames by numeric content, without a key string per frame: strings are interned to
 * ids once, and a frame is (build id, mapping file, function name, file name) string ids, its
 * address as two uint32 halves, its line (an integer below 2^63 in magnitude) and the inlined
 * bit, in columns of typed arrays with an open-addressing index over them. Frames with equal
 * content get equal ids; each distinct frame has one Frame object, made when first asked for
 * (`frame`): a request whose frames are only re-encoded from the columns makes none. Used per
 * request by SampleBatchBuilder (the Arrow encoder reads the columns) and process-wide by
 * FrameInterner.
 */
export class FrameTable {
  readonly strings: string[] = [];
  private readonly stringIds = new Map<string, number>();
  // Index = frame id: the Frame object, once made or given.
  private readonly frames: Array<Frame | undefined> = [];
  buildId = new Int32Array(256);
  mappingFile = new Int32Array(256);
  functionName = new Int32Array(256);
  fileName = new Int32Array(256);
  addressLo = new Uint32Array(256);
  addressHi = new Uint32Array(256);
  line = new Float64Array(256);
  inlined = new Uint8Array(256);
  private hash = new Int32Array(256);
  private slots = new Int32Array(512).fill(EMPTY);
  /** Ids added with `addUnindexed`, never matched by content. */
  private unindexed: Set<number> | undefined;

  get size(): number {
    return this.frames.length;
  }

  /** Id of a string (equal strings, equal ids). */
  stringId(s: string): number {
    let id = this.stringIds.get(s);
    if (id === undefined) {
      id = this.strings.push(s) - 1;
      this.stringIds.set(s, id);
    }
    return id;
  }

  /** The Frame object of frame id `id` (made on first use unless the caller gave one). */
  frame(id: number): Frame {
    return (this.frames[id] ??= this.makeFrame(id));
  }

  private makeFrame(id: number): Frame {
    const strs = this.strings;
    return {
      buildId: strs[this.buildId[id]],
      mappingFile: strs[this.mappingFile[id]],
      address: addressOf(this.addressLo[id], this.addressHi[id]),
      functionName: strs[this.functionName[id]],
      fileName: strs[this.fileName[id]],
      line: this.line[id],
      inlined: this.inlined[id] === 1,
    };
  }

  /**
   * Id of the frame with these fields (string ids from `stringId`), adding it if new: as `frame`
   * when given (the caller's object, which must have this content), else made when first asked for.
   */
  id(b: number, m: number, fn: number, file: number, lo: number, hi: number, line: number, inlined: boolean, frame?: Frame): number {
    const inl = inlined ? 1 : 0;
    const h = frameHash(b, m, fn, file, lo, hi, line, inl);
    const slots = this.slots;
    const mask = slots.length - 1;
    let s = h & mask;
    for (;;) {
      const id = slots[s];
      if (id === EMPTY) break;
      if (
        this.hash[id] === h &&
        this.addressLo[id] === lo &&
        this.addressHi[id] === hi &&
        this.functionName[id] === fn &&
        this.buildId[id] === b &&
        this.mappingFile[id] === m &&
        this.fileName[id] === file &&
        this.line[id] === line &&
        this.inlined[id] === inl
      ) {
        return id;
      }
      s = (s + 1) & mask;
    }
    const id = this.append(frame);
    this.hash[id] = h;
    this.buildId[id] = b;
    this.mappingFile[id] = m;
    this.functionName[id] = fn;
    this.fileName[id] = file;
    this.addressLo[id] = lo;
    this.addressHi[id] = hi;
    this.line[id] = line;
    this.inlined[id] = inl;
    if ((id + 1) * 2 > slots.length) this.reindex(slots.length * 2);
    else slots[s] = id;
    return id;
  }

  /** A frame the columns cannot hold exactly (odd address or line): its own id, never matched by content. */
  addUnindexed(frame: Frame): number {
    const id = this.append(frame);
    (this.unindexed ??= new Set()).add(id);
    return id;
  }

  /** Makes room for `n` more frames at once (a decoder that knows its symbol table's size). */
  reserve(n: number): void {
    const want = this.frames.length + n;
    if (want > this.hash.length) this.grow(want);
    if (want * 2 > this.slots.length) this.reindex(want * 2);
  }

  private append(frame: Frame | undefined): number {
    const id = this.frames.push(frame) - 1;
    if (id === this.hash.length) this.grow(id + 1);
    return id;
  }

  private grow(atLeast: number): void {
    let cap = this.hash.length * 2;
    while (cap < atLeast) cap *= 2;
    const grown = <T extends Int32Array | Uint32Array | Float64Array | Uint8Array>(a: T, make: new (n: number) => T): T => {
      const b = new make(cap);
      b.set(a);
      return b;
    };
    this.buildId = grown(this.buildId, Int32Array);
    this.mappingFile = grown(this.mappingFile, Int32Array);
    this.functionName = grown(this.functionName, Int32Array);
    this.fileName = grown(this.fileName, Int32Array);
    this.hash = grown(this.hash, Int32Array);
    this.addressLo = grown(this.addressLo, Uint32Array);
    this.addressHi = grown(this.addressHi, Uint32Array);
    this.line = grown(this.line, Float64Array);
    this.inlined = grown(this.inlined, Uint8Array);
  }

  private reindex(atLeast: number): void {
    let size = this.slots.length * 2;
    while (size < atLeast) size *= 2;
    const slots = new Int32Array(size).fill(EMPTY);
    const mask = size - 1;
    for (let id = 0; id < this.frames.length; id++) {
      if (this.unindexed?.has(id)) continue;
      let s = this.hash[id] & mask;
      while (slots[s] !== EMPTY) s = (s + 1) & mask;
      slots[s] = id;
    }
    this.slots = slots;
  }
}

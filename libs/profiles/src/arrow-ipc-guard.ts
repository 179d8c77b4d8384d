import { FirnError } from '@firn/errors';

/**
 * Structural pre-check of an Arrow IPC stream before apache-arrow parses it.
 *
 * Why: arrow-js trusts the counts inside the flatbuffer message headers. A few flipped bytes
 * in a vector length (e.g. a record batch's `nodes`) make it allocate objects in a loop until
 * the process dies of OOM, which no try/catch can stop. This walker reads only the headers
 * (no allocation proportional to their claims) and rejects anything whose counts, lengths or
 * buffer regions do not fit inside the bytes actually received.
 *
 * Layout (Arrow columnar format, "Encapsulated message format"): repeated
 *   [0xFFFFFFFF] [int32 metadata size] [flatbuffer Message] [body of Message.bodyLength bytes]
 * ending with [0xFFFFFFFF 0x00000000] or the end of the buffer.
 */
export function checkArrowIpcStream(buf: Uint8Array, maxRows: number): void {
  new IpcGuard(buf, maxRows).run();
}

const MAX_SCHEMA_FIELDS = 10_000;

function bad(msg: string): never {
  throw FirnError.invalidArgument(`invalid Arrow samples: malformed Arrow IPC stream: ${msg}`);
}

class IpcGuard {
  private readonly dv: DataView;
  // Bounds of the flatbuffer currently being read.
  private lo = 0;
  private hi = 0;
  private fieldBudget = MAX_SCHEMA_FIELDS;

  constructor(
    private readonly buf: Uint8Array,
    private readonly maxRows: number,
  ) {
    this.dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  run(): void {
    const n = this.buf.length;
    if (n >= 6 && String.fromCharCode(...this.buf.subarray(0, 6)) === 'ARROW1') bad('IPC file format is not accepted; send an IPC stream');
    let pos = 0;
    let sawSchema = false;
    while (pos < n) {
      if (pos + 4 > n) bad(`truncated message prefix at byte ${pos}`);
      let size = this.dv.getInt32(pos, true);
      pos += 4;
      if (size === -1) {
        if (pos + 4 > n) bad(`truncated message prefix at byte ${pos}`);
        size = this.dv.getInt32(pos, true);
        pos += 4;
      }
      if (size === 0) return; // end-of-stream marker
      if (size < 0 || pos + size > n) bad(`message metadata of ${size} bytes runs past the end at byte ${pos}`);
      this.lo = pos;
      this.hi = pos + size;
      const bodyLength = this.message(sawSchema);
      sawSchema = true;
      pos += size;
      if (bodyLength > n - pos) bad(`message body of ${bodyLength} bytes runs past the end at byte ${pos}`);
      pos += bodyLength;
    }
    if (!sawSchema) bad('empty stream');
  }

  /** Validates one Message flatbuffer; returns its body length. */
  private message(sawSchema: boolean): number {
    const root = this.lo + this.u32(this.lo);
    const headerType = this.scalarU8(root, 1);
    const header = this.tableField(root, 2);
    const bodyLength = this.scalarI64(root, 3);
    if (!sawSchema && headerType !== 1) bad('stream does not start with a schema message');
    if (sawSchema && headerType === 1) bad('more than one schema message');
    if (header === 0) bad('message without header');
    switch (headerType) {
      case 1:
        if (bodyLength !== 0) bad('schema message with a body');
        this.schema(header);
        break;
      case 2: {
        const data = this.tableField(header, 1);
        if (data === 0) bad('dictionary batch without data');
        this.recordBatch(data, bodyLength, false);
        break;
      }
      case 3:
        this.recordBatch(header, bodyLength, true);
        break;
      default:
        bad(`unsupported message type ${headerType}`);
    }
    return bodyLength;
  }

  private recordBatch(t: number, bodyLength: number, isRecordBatch: boolean): void {
    const length = this.scalarI64(t, 0);
    const maxEntries = bodyLength * 8 + 64;
    if (isRecordBatch && length > this.maxRows) {
      throw FirnError.invalidArgument(`Arrow samples have a record batch of ${length} rows, more than the limit of ${this.maxRows}`, {
        limit: 'max_rows',
      });
    }
    if (length > maxEntries) bad(`batch claims ${length} rows but has a ${bodyLength}-byte body`);
    const nodes = this.vector(t, 1, 16);
    for (let i = 0; i < nodes.len; i++) {
      const nodeLength = this.i64(nodes.start + 16 * i);
      const nullCount = this.i64(nodes.start + 16 * i + 8);
      if (nodeLength > maxEntries || nullCount > nodeLength) bad(`field node ${i} claims ${nodeLength} entries`);
    }
    const buffers = this.vector(t, 2, 16);
    for (let i = 0; i < buffers.len; i++) {
      const off = this.i64(buffers.start + 16 * i);
      const len = this.i64(buffers.start + 16 * i + 8);
      if (off + len > bodyLength) bad(`buffer ${i} (${off}+${len}) lies outside the ${bodyLength}-byte body`);
    }
    if (this.tableField(t, 3) !== 0) bad('compressed record batches are not supported');
    this.vector(t, 4, 8);
  }

  private schema(t: number): void {
    const fields = this.vector(t, 1, 4);
    for (let i = 0; i < fields.len; i++) this.field(this.indirect(fields.start + 4 * i), 0);
    this.keyValues(t, 2);
    this.vector(t, 3, 8);
  }

  private field(t: number, depth: number): void {
    if (--this.fieldBudget < 0) bad(`schema has more than ${MAX_SCHEMA_FIELDS} fields`);
    if (depth > 32) bad('schema nesting deeper than 32');
    this.string(t, 0);
    const children = this.vector(t, 5, 4);
    for (let i = 0; i < children.len; i++) this.field(this.indirect(children.start + 4 * i), depth + 1);
    this.keyValues(t, 6);
  }

  private keyValues(t: number, id: number): void {
    const kv = this.vector(t, id, 4);
    for (let i = 0; i < kv.len; i++) {
      const e = this.indirect(kv.start + 4 * i);
      this.string(e, 0);
      this.string(e, 1);
    }
  }

  // --- flatbuffer primitives, all bounds-checked against [lo, hi) ---

  private need(pos: number, size: number): void {
    if (!(pos >= this.lo && pos + size <= this.hi)) bad(`header offset ${pos} out of range`);
  }

  private u32(pos: number): number {
    this.need(pos, 4);
    return this.dv.getUint32(pos, true);
  }

  private i64(pos: number): number {
    this.need(pos, 8);
    const lo = this.dv.getUint32(pos, true);
    const hi = this.dv.getInt32(pos + 4, true);
    if (hi < 0 || hi > 0x1fffff) bad(`64-bit value out of range at ${pos}`);
    return hi * 4294967296 + lo;
  }

  /** Absolute position of field `id` of table `t`, or 0 when absent. */
  private fieldPos(t: number, id: number): number {
    this.need(t, 4);
    const vt = t - this.dv.getInt32(t, true);
    this.need(vt, 4);
    const vtSize = this.dv.getUint16(vt, true);
    if (vtSize < 4 || vtSize % 2 !== 0) bad('bad vtable');
    this.need(vt, vtSize);
    if (4 + 2 * id + 2 > vtSize) return 0;
    const off = this.dv.getUint16(vt + 4 + 2 * id, true);
    return off === 0 ? 0 : t + off;
  }

  private scalarU8(t: number, id: number): number {
    const p = this.fieldPos(t, id);
    if (p === 0) return 0;
    this.need(p, 1);
    return this.dv.getUint8(p);
  }

  private scalarI64(t: number, id: number): number {
    const p = this.fieldPos(t, id);
    return p === 0 ? 0 : this.i64(p);
  }

  private indirect(pos: number): number {
    return pos + this.u32(pos);
  }

  private tableField(t: number, id: number): number {
    const p = this.fieldPos(t, id);
    return p === 0 ? 0 : this.indirect(p);
  }

  private vector(t: number, id: number, elemSize: number): { start: number; len: number } {
    const p = this.fieldPos(t, id);
    if (p === 0) return { start: 0, len: 0 };
    const v = this.indirect(p);
    const len = this.u32(v);
    if (len * elemSize > this.hi - v - 4) bad(`vector of ${len} entries does not fit in the header`);
    return { start: v + 4, len };
  }

  private string(t: number, id: number): void {
    this.vector(t, id, 1);
  }
}

import { isUtf8 } from 'node:buffer';
import { FirnError } from '@firn/errors';
import {
  Bool,
  Data,
  DataType,
  Dictionary,
  Field,
  Int16,
  Int32,
  Int64,
  Int8,
  List,
  RecordBatchStreamWriter,
  Struct,
  Table,
  Uint64,
  Utf8,
  makeData,
  makeVector,
  tableFromIPC,
  type Int,
  type Vector,
} from 'apache-arrow';
import { checkArrowIpcStream } from './arrow-ipc-guard';
import { recordBatchOf } from './arrow-record';
import { attachInternedStacks, FrameInterner } from './frame-intern';
import { isValidLabelName, parseProfileType } from './profile-type';
import { SampleBatchBuilder, builderFramesOf, isSpanId, type Frame, type BuilderFrames, type SampleBatch } from './sample-batch';

/** Schema-level metadata key and value that identify this format. */
export const SAMPLES_SCHEMA_KEY = 'firn.schema';
export const SAMPLES_SCHEMA_V1 = 'samples.v1';
export const LABEL_COLUMN_PREFIX = 'labels.';

const FRAME_FIELDS = ['build_id', 'mapping_file', 'address', 'function_name', 'file_name', 'line', 'inlined'] as const;

type IndexType = Int8 | Int16 | Int32;

/**
 * Indexes into a dictionary of `size` entries in the narrowest signed type that holds them (and
 * -1): readers accept any integer index type up to 32 bits, and most of a request's frame
 * columns index a handful of build ids, mapping files and (unsymbolized) empty names.
 */
function narrowIndexes(idx: Int32Array, size: number): { type: IndexType; data: Int8Array | Int16Array | Int32Array } {
  if (size <= 0x7f) return { type: new Int8(), data: new Int8Array(idx) };
  if (size <= 0x7fff) return { type: new Int16(), data: new Int16Array(idx) };
  return { type: new Int32(), data: idx };
}

function int64FromF64(src: Float64Array): Data<Int64> {
  const u32 = new Uint32Array(src.length * 2);
  for (let i = 0; i < src.length; i++) {
    const v = src[i];
    u32[2 * i] = v % 4294967296;
    u32[2 * i + 1] = Math.floor(v / 4294967296);
  }
  return makeData({ type: new Int64(), length: src.length, nullCount: 0, data: new BigInt64Array(u32.buffer) });
}

/**
 * A Utf8 vector of `strings`, written straight into one buffer (apache-arrow's builder,
 * `vectorFromArray`, costs several times as much per string). Lone surrogates become U+FFFD, as
 * the builder's TextEncoder makes them.
 */
function utf8Vector(strings: string[]): Vector<Utf8> {
  let units = 0;
  for (const s of strings) units += s.length;
  // At most 3 UTF-8 bytes per UTF-16 code unit.
  const buf = Buffer.allocUnsafe(units * 3);
  const offsets = new Int32Array(strings.length + 1);
  let at = 0;
  for (let i = 0; i < strings.length; i++) {
    at += buf.write(strings[i], at);
    offsets[i + 1] = at;
  }
  return makeVector(makeData({ type: new Utf8(), length: strings.length, nullCount: 0, valueOffsets: offsets, data: buf.subarray(0, at) }));
}

/** Dictionary<int, Utf8> column from per-row indexes (-1 = null) into `dict`. */
function dictColumn(dict: string[], idx: Int32Array): Data<Dictionary<Utf8, IndexType>> {
  let nulls = 0;
  const bitmap = new Uint8Array((idx.length + 7) >> 3);
  for (let i = 0; i < idx.length; i++) {
    if (idx[i] < 0) {
      nulls++;
      idx[i] = 0;
    } else {
      bitmap[i >> 3] |= 1 << (i & 7);
    }
  }
  const indexes = narrowIndexes(idx, dict.length);
  return makeData({
    type: new Dictionary(new Utf8(), indexes.type),
    length: idx.length,
    nullCount: nulls,
    nullBitmap: nulls > 0 ? bitmap : undefined,
    data: indexes.data,
    dictionary: utf8Vector(dict),
  });
}

/** Dictionary-encodes one string per item. */
function stringDictColumn(values: string[]): Data<Dictionary<Utf8, IndexType>> {
  const dict: string[] = [];
  const pos = new Map<string, number>();
  const idx = new Int32Array(values.length);
  for (let i = 0; i < values.length; i++) {
    let p = pos.get(values[i]);
    if (p === undefined) {
      p = dict.length;
      dict.push(values[i]);
      pos.set(values[i], p);
    }
    idx[i] = p;
  }
  return dictColumn(dict, idx);
}

function frameKey(f: Frame): string {
  return `${f.buildId}\u0000${f.mappingFile}\u0000${f.address}\u0000${f.functionName}\u0000${f.fileName}\u0000${f.line}\u0000${f.inlined ? 1 : 0}`;
}

/**
 * The `stack` column from the builder's frame table: the same dictionaries, in the same order,
 * as `stackColumn` makes from Frame objects (frames and strings by first use), from ids and
 * typed arrays instead of per-frame key strings and BigInts.
 */
function stackColumnFromTable(batch: SampleBatch, t: BuilderFrames): Data {
  const stackOffsets = t.stackOffsets;
  const nStacks = stackOffsets.length - 1;
  const offsets = new Int32Array(nStacks + 1);
  const items = new Int32Array(stackOffsets[nStacks] - stackOffsets[0]);
  // Builder frame id → index in this column's frame dictionary (-1 until first used).
  const remap = new Int32Array(t.inlined.length).fill(-1);
  const used: number[] = [];
  let k = 0;
  for (let si = 0; si < nStacks; si++) {
    const end = stackOffsets[si + 1];
    for (let p = stackOffsets[si]; p < end; p++) {
      const id = t.ids[p];
      let idx = remap[id];
      if (idx < 0) {
        idx = used.length;
        used.push(id);
        remap[id] = idx;
      }
      items[k++] = idx;
    }
    offsets[si + 1] = k;
  }
  const nf = used.length;
  const stringIdx = new Int32Array(t.strings.length);
  const strings = (ids: Int32Array): Data<Dictionary<Utf8, IndexType>> => {
    stringIdx.fill(-1);
    const dict: string[] = [];
    const idx = new Int32Array(nf);
    for (let i = 0; i < nf; i++) {
      const sid = ids[used[i]];
      let p = stringIdx[sid];
      if (p < 0) {
        p = dict.length;
        dict.push(t.strings[sid]);
        stringIdx[sid] = p;
      }
      idx[i] = p;
    }
    return dictColumn(dict, idx);
  };
  const address = new Uint32Array(nf * 2);
  const line = new Uint32Array(nf * 2);
  const inlined = new Uint8Array((nf + 7) >> 3);
  for (let i = 0; i < nf; i++) {
    const id = used[i];
    address[2 * i] = t.addressLo[id];
    address[2 * i + 1] = t.addressHi[id];
    // Two's complement halves of an integer below 2^63 in magnitude (the builder's table holds no other).
    const v = t.line[id];
    const hi = Math.floor(v / 4294967296);
    line[2 * i] = v - hi * 4294967296;
    line[2 * i + 1] = hi >>> 0;
    if (t.inlined[id] === 1) inlined[i >> 3] |= 1 << (i & 7);
  }
  return stackData(
    batch,
    nStacks,
    nf,
    [
      strings(t.buildId),
      strings(t.mappingFile),
      makeData({ type: new Uint64(), length: nf, nullCount: 0, data: new BigUint64Array(address.buffer) }),
      strings(t.functionName),
      strings(t.fileName),
      makeData({ type: new Int64(), length: nf, nullCount: 0, data: new BigInt64Array(line.buffer) }),
      makeData({ type: new Bool(), length: nf, nullCount: 0, data: inlined }),
    ],
    items,
    offsets,
  );
}

/** The `stack` column: a dictionary of stacks, each a list of indexes into a frame dictionary. */
function stackColumn(batch: SampleBatch): Data {
  const table = builderFramesOf(batch);
  if (table !== undefined) return stackColumnFromTable(batch, table);
  const frames: Frame[] = [];
  const byObject = new Map<Frame, number>();
  const byKey = new Map<string, number>();
  let total = 0;
  for (const s of batch.stacks) total += s.length;
  const offsets = new Int32Array(batch.stacks.length + 1);
  const items = new Int32Array(total);
  let k = 0;
  for (let si = 0; si < batch.stacks.length; si++) {
    for (const f of batch.stacks[si]) {
      let idx = byObject.get(f);
      if (idx === undefined) {
        const key = frameKey(f);
        idx = byKey.get(key);
        if (idx === undefined) {
          idx = frames.length;
          frames.push(f);
          byKey.set(key, idx);
        }
        byObject.set(f, idx);
      }
      items[k++] = idx;
    }
    offsets[si + 1] = k;
  }
  const nf = frames.length;
  const inlined = new Uint8Array((nf + 7) >> 3);
  frames.forEach((f, i) => {
    if (f.inlined) inlined[i >> 3] |= 1 << (i & 7);
  });
  return stackData(
    batch,
    batch.stacks.length,
    nf,
    [
      stringDictColumn(frames.map((f) => f.buildId)),
      stringDictColumn(frames.map((f) => f.mappingFile)),
      makeData({ type: new Uint64(), length: nf, nullCount: 0, data: BigUint64Array.from(frames, (f) => BigInt.asUintN(64, f.address)) }),
      stringDictColumn(frames.map((f) => f.functionName)),
      stringDictColumn(frames.map((f) => f.fileName)),
      makeData({ type: new Int64(), length: nf, nullCount: 0, data: BigInt64Array.from(frames, (f) => BigInt(Math.trunc(f.line))) }),
      makeData({ type: new Bool(), length: nf, nullCount: 0, data: inlined }),
    ],
    items,
    offsets,
  );
}

/**
 * The stack column from its frame struct's children (in FRAME_FIELDS order) and the stacks'
 * frame indexes: `Dictionary<Int32, List<Dictionary<int, Struct<frame>>>>`.
 */
function stackData(batch: SampleBatch, nStacks: number, nf: number, children: Data[], items: Int32Array, offsets: Int32Array): Data {
  const structType = new Struct(FRAME_FIELDS.map((name, i) => new Field(name, children[i].type, false)));
  const struct = makeData({ type: structType, length: nf, nullCount: 0, children });
  const indexes = narrowIndexes(items, nf);
  const itemType = new Dictionary(structType, indexes.type);
  const item = makeData({ type: itemType, length: items.length, nullCount: 0, data: indexes.data, dictionary: makeVector(struct) });
  const listType = new List(new Field('item', itemType, false));
  const list = makeData({ type: listType, length: nStacks, nullCount: 0, valueOffsets: offsets, child: item });
  return makeData({
    type: new Dictionary(listType, new Int32()),
    length: batch.length,
    nullCount: 0,
    data: Int32Array.from(batch.stack),
    dictionary: makeVector(list),
  });
}

/**
 * Encodes a batch as one Arrow IPC stream in the "firn.samples.v1" schema (see README.md):
 * profile_type and labels.* as string dictionaries; `stack` as a dictionary of stacks, each a
 * list of indexes into a dictionary of frames whose strings are dictionaries too, so every
 * distinct stack, frame and string is sent once.
 */
export function samplesToArrow(batch: SampleBatch): Uint8Array {
  const n = batch.length;
  const columns: Array<[string, Data]> = [];

  columns.push(['profile_type', dictColumn(batch.profileTypes, Int32Array.from(batch.profileType))]);

  const labelNames = [...new Set(batch.series.flatMap((s) => s.map(([k]) => k)))].sort();
  for (const name of labelNames) {
    const values: string[] = [];
    const valueIdx = new Map<string, number>();
    // Per series: index of this label's value, or -1 when the series lacks the label.
    const perSeries = batch.series.map((labels) => {
      const hit = labels.find(([k]) => k === name);
      if (hit === undefined) return -1;
      let i = valueIdx.get(hit[1]);
      if (i === undefined) {
        i = values.length;
        values.push(hit[1]);
        valueIdx.set(hit[1], i);
      }
      return i;
    });
    const idx = new Int32Array(n);
    for (let r = 0; r < n; r++) idx[r] = perSeries[batch.seriesIdx[r]];
    columns.push([LABEL_COLUMN_PREFIX + name, dictColumn(values, idx)]);
  }

  columns.push(['stack', stackColumn(batch)]);
  columns.push(['value', int64FromF64(batch.value)]);
  columns.push(['timestamp', int64FromF64(batch.timestampMs)]);
  columns.push(['duration', int64FromF64(batch.durationNs)]);
  columns.push(['period', int64FromF64(batch.periodNs)]);
  if (batch.spans && batch.span) {
    // Only batches with span profiles carry the column, so readers without it keep working
    // for everything else.
    const idx = new Int32Array(n);
    for (let r = 0; r < n; r++) idx[r] = batch.span[r] - 1; // index 0 ('' = no span) → null
    columns.push([SPAN_COLUMN, dictColumn(batch.spans.slice(1), idx)]);
  }

  // Every field nullable, as `new Table({...})` made them before (same bytes).
  const fields = columns.map(([name, d]) => new Field(name, d.type, true));
  const record = recordBatchOf(
    fields,
    columns.map(([, d]) => d),
    n,
    new Map([[SAMPLES_SCHEMA_KEY, SAMPLES_SCHEMA_V1]]),
  );
  return RecordBatchStreamWriter.writeAll([record]).toUint8Array(true);
}

export interface ArrowLimits {
  maxRows: number;
  /** Stacks deeper than this keep their leaf-most frames (counted in truncatedStacks). */
  maxStackDepth: number;
  /** Cap on the IPC buffer size. */
  maxBytes: number;
  /** Most entries in a frame dictionary (like a pprof symbol table). Default: unbounded. */
  maxSymbols?: number;
  /** Most distinct label sets. Default: unbounded. */
  maxSeries?: number;
  /** Most frames over all distinct stacks. Default: unbounded. */
  maxStackFrames?: number;
}

function bad(msg: string): never {
  throw FirnError.invalidArgument(`invalid Arrow samples: ${msg}`);
}

function isIndexInt(t: DataType): boolean {
  return DataType.isInt(t) && t.bitWidth <= 32;
}
function isInt64(t: DataType): boolean {
  return DataType.isInt(t) && t.bitWidth === 64 && t.isSigned;
}
/** A frame's line: Int64, or Int32 (what a writer may use once every reader takes both). */
function isLineInt(t: DataType): boolean {
  return DataType.isInt(t) && t.isSigned && (t.bitWidth === 64 || t.bitWidth === 32);
}
function isUint64(t: DataType): boolean {
  return DataType.isInt(t) && t.bitWidth === 64 && !t.isSigned;
}
function isStringLike(t: DataType): boolean {
  return DataType.isUtf8(t) || (DataType.isDictionary(t) && DataType.isUtf8(t.dictionary) && isIndexInt(t.indices));
}
/** Validates a List<Struct<frame>> or List<Dictionary<int, Struct<frame>>> type. */
function isStackList(t: DataType, col: string): boolean {
  if (!DataType.isList(t)) return false;
  let item = t.children[0]?.type;
  if (item && DataType.isDictionary(item)) {
    if (!isIndexInt(item.indices)) bad(`column "${col}" frame dictionary has index type ${item.indices}`);
    item = item.dictionary;
  }
  if (!item || !DataType.isStruct(item)) bad(`column "${col}" must be a list of frame structs, got ${t}`);
  const names = item.children.map((c: Field) => c.name);
  for (const c of item.children) {
    if (!(FRAME_FIELDS as readonly string[]).includes(c.name)) bad(`column "${col}" has unknown frame field "${c.name}"`);
  }
  for (const f of FRAME_FIELDS) if (!names.includes(f)) bad(`column "${col}" frame struct is missing field "${f}"`);
  for (const c of item.children) {
    const ok =
      c.name === 'address' ? isUint64(c.type) : c.name === 'line' ? isLineInt(c.type) : c.name === 'inlined' ? DataType.isBool(c.type) : isStringLike(c.type);
    if (!ok) bad(`column "${col}.${c.name}" has type ${c.type}`);
  }
  return true;
}

/**
 * Checks that a Data's buffers are long enough for its declared length (recursively).
 * arrow-js trusts the lengths in the IPC metadata; without this a corrupted length would
 * make later reads run off the buffers or size allocations from attacker-chosen numbers.
 */
function checkData(d: Data, col: string): void {
  const end = d.offset + d.length;
  const short: (what: string) => never = (what) => bad(`column "${col}": ${what} buffer is too short for ${d.length} entries`);
  if (!(d.length >= 0 && d.offset >= 0)) bad(`column "${col}": invalid length`);
  if (d.nullCount > 0 && (!d.nullBitmap || d.nullBitmap.length * 8 < end)) short('validity');
  const t = d.type;
  if (DataType.isDictionary(t)) {
    if (!d.values || d.values.length < end) short('index');
    if (!d.dictionary) bad(`column "${col}" has no dictionary`);
    for (const chunk of d.dictionary.data) checkData(chunk, col);
  } else if (DataType.isInt(t)) {
    if (!d.values || d.values.length < end) short('value');
  } else if (DataType.isUtf8(t)) {
    const offs = d.valueOffsets as Int32Array | undefined;
    if (!offs || offs.length < end + 1) short('offset');
    if (d.length > 0 && !(offs[d.offset] >= 0 && offs[end] >= offs[d.offset] && offs[end] <= (d.values as Uint8Array).length)) {
      bad(`column "${col}": string offsets out of range`);
    }
  } else if (DataType.isBool(t)) {
    if (!d.values || d.values.length * 8 < end) short('value');
  } else if (DataType.isList(t)) {
    const offs = d.valueOffsets as Int32Array | undefined;
    if (!offs || offs.length < end + 1) short('offset');
    const child = d.children[0];
    if (!child) bad(`column "${col}": list without child data`);
    if (d.length > 0 && !(offs[d.offset] >= 0 && offs[end] <= child.offset + child.length)) bad(`column "${col}": list offsets out of range`);
    checkData(child, col);
  } else if (DataType.isStruct(t)) {
    for (const c of d.children) {
      if (c.length < end) bad(`column "${col}": struct child shorter than the struct`);
      checkData(c, col);
    }
  }
}

function isValid(d: Data, i: number): boolean {
  if (d.nullCount === 0 || !d.nullBitmap || d.nullBitmap.length === 0) return true;
  const j = d.offset + i;
  return ((d.nullBitmap[j >> 3] >> (j & 7)) & 1) === 1;
}

function noNulls(d: Data, col: string): void {
  if (d.nullCount > 0) bad(`column "${col}" has ${d.nullCount} nulls, none allowed`);
}

/** Reads a signed 64-bit column as doubles, rejecting negatives and values ≥ 2^53. */
function int64Column(d: Data, col: string): Float64Array {
  noNulls(d, col);
  const v = d.values as BigInt64Array;
  const u32 = new Uint32Array(v.buffer, v.byteOffset + d.offset * 8, d.length * 2);
  const out = new Float64Array(d.length);
  for (let i = 0; i < d.length; i++) {
    const hi = u32[2 * i + 1];
    if (hi > 0x1fffff) bad(`column "${col}" row ${i}: ${hi >= 0x80000000 ? 'negative value' : 'value ≥ 2^53'}`);
    out[i] = hi * 4294967296 + u32[2 * i];
  }
  return out;
}

// fatal: invalid bytes are refused, not replaced by U+FFFD (which would store a different label).
const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Arrow decodes strings leniently; check the raw bytes of dictionary entry `k`. */
function dictionaryBytesAreUtf8(dict: Vector, k: number): boolean {
  let base = 0;
  for (const d of dict.data) {
    if (k < base + d.length) {
      const j = d.offset + k - base;
      const off = d.valueOffsets as Int32Array;
      return isUtf8((d.values as Uint8Array).subarray(off[j], off[j + 1]));
    }
    base += d.length;
  }
  return false;
}

/** String accessor over Utf8 or Dictionary<int, Utf8> data, with per-dictionary caching. */
class StringColumn {
  private readonly dict?: Vector;
  private readonly dictCache: Array<string | undefined> = [];
  private readonly indices?: ArrayLike<number>;

  constructor(
    private readonly d: Data,
    private readonly col: string,
  ) {
    if (DataType.isDictionary(d.type)) {
      if (!d.dictionary) bad(`column "${col}" has no dictionary`);
      this.dict = d.dictionary;
      this.indices = d.values as ArrayLike<number>;
    }
  }

  get(i: number): string {
    const j = this.d.offset + i;
    if (this.dict) {
      const k = this.indices![j];
      let s = this.dictCache[k];
      if (s === undefined) {
        if (!(k >= 0 && k < this.dict.length)) bad(`column "${this.col}" row ${i}: dictionary index ${k} out of range`);
        const v: unknown = this.dict.get(k);
        if (typeof v !== 'string') bad(`column "${this.col}": null dictionary value`);
        if (v.includes('\uFFFD') && !dictionaryBytesAreUtf8(this.dict, k)) bad(`column "${this.col}": dictionary value ${k} is not valid UTF-8`);
        s = v;
        this.dictCache[k] = s;
      }
      return s;
    }
    const off = this.d.valueOffsets as Int32Array;
    const vals = this.d.values as Uint8Array;
    try {
      return utf8.decode(vals.subarray(off[j], off[j + 1]));
    } catch {
      return bad(`column "${this.col}" row ${i}: value is not valid UTF-8`);
    }
  }

  /** Dictionary index for row i (only for dictionary columns). */
  index(i: number): number {
    return this.indices![this.d.offset + i];
  }

  get dictionaryLength(): number {
    return this.dict ? this.dict.length : 0;
  }
}

/** Frames and stacks shared by every batch this process decodes (see FrameInterner). */
const interner = new FrameInterner();

/** A FrameTable entry (frame or string) validated by `check` and not interned: a decode checks or interns, never both. */
const CHECKED = -2;

/** Frames of a frame-struct data chunk, each interned once per decode (by dictionary index). */
class FrameTable {
  private readonly str: StringColumn[];
  /** Per string column: dictionary index → interner string id (-1 = not yet); empty for plain Utf8. */
  private readonly strIds: Int32Array[];
  private readonly address: Uint32Array;
  private readonly addressOffset: number;
  /** Int64 lines as int32 pairs (lineWide), or Int32 lines as they are. */
  private readonly line: Int32Array;
  private readonly lineWide: boolean;
  private readonly lineOffset: number;
  private readonly inlined: Data;
  /** Frame index → interner frame id (-1 = not yet). */
  private readonly ids: Int32Array;

  constructor(
    private readonly struct: Data,
    private readonly col: string,
  ) {
    noNulls(struct, `${col}.item`);
    const fields = (struct.type as Struct).children.map((f: Field) => f.name);
    const child = (name: string): Data => {
      const d = struct.children[fields.indexOf(name)];
      noNulls(d, `${col}.${name}`);
      return d;
    };
    this.str = ['build_id', 'mapping_file', 'function_name', 'file_name'].map((n) => new StringColumn(child(n), `${col}.${n}`));
    this.strIds = this.str.map((c) => new Int32Array(c.dictionaryLength).fill(-1));
    // 64-bit columns read as uint32 pairs (little-endian, as Arrow IPC is here): no BigInt per frame.
    const address = child('address');
    const a = address.values as BigUint64Array;
    this.address = new Uint32Array(a.buffer, a.byteOffset, a.length * 2);
    this.addressOffset = address.offset;
    const line = child('line');
    const l = line.values as BigInt64Array | Int32Array;
    this.lineWide = (line.type as Int).bitWidth === 64;
    this.line = this.lineWide ? new Int32Array(l.buffer, l.byteOffset, l.length * 2) : (l as Int32Array);
    this.lineOffset = line.offset;
    this.inlined = child('inlined');
    this.ids = new Int32Array(struct.length).fill(-1);
  }

  private stringId(c: number, k: number): number {
    const column = this.str[c];
    const cache = this.strIds[c];
    if (cache.length === 0) return interner.stringId(column.get(k));
    const d = column.index(k);
    let id = cache[d];
    if (id === undefined || id < 0) {
      id = interner.stringId(column.get(k)); // validates d
      cache[d] = id;
    }
    return id;
  }

  /** Validates frame k as frameId does (index, strings), without interning it. */
  check(k: number): void {
    if (this.ids[k] === CHECKED) return;
    if (!(k >= 0 && k < this.struct.length)) bad(`column "${this.col}": frame index ${k} out of range`);
    for (let c = 0; c < this.str.length; c++) {
      const cache = this.strIds[c];
      if (cache.length === 0) {
        this.str[c].get(k);
        continue;
      }
      const d = this.str[c].index(k);
      if (cache[d] === -1 || cache[d] === undefined) {
        this.str[c].get(k); // validates d and the bytes
        cache[d] = CHECKED;
      }
    }
    this.ids[k] = CHECKED;
  }

  /** Interner id of frame k. */
  frameId(k: number): number {
    const cached = this.ids[k];
    if (cached >= 0) return cached;
    if (!(k >= 0 && k < this.struct.length)) bad(`column "${this.col}": frame index ${k} out of range`);
    const bit = this.inlined.offset + k;
    const a = 2 * (this.addressOffset + k);
    const l = this.lineOffset + k;
    // Exactly Number(int64): the high half times 2^32 is exact, so the sum is rounded once.
    const line = this.lineWide ? this.line[2 * l + 1] * 4294967296 + (this.line[2 * l] >>> 0) : this.line[l];
    const id = interner.frameId(
      this.stringId(0, k),
      this.stringId(1, k),
      this.stringId(2, k),
      this.stringId(3, k),
      this.address[a],
      this.address[a + 1],
      line,
      (((this.inlined.values as Uint8Array)[bit >> 3] >> (bit & 7)) & 1) === 1,
    );
    this.ids[k] = id;
    return id;
  }
}

/** Decodes entries of a List<(Dictionary of) frame struct> data chunk into builder stacks. */
class StackDecoder {
  private readonly frames: FrameTable;
  private readonly itemIndices?: ArrayLike<number>;
  private readonly itemOffset: number;
  private scratch = new Int32Array(256);

  constructor(
    private readonly list: Data,
    col: string,
    private readonly builder: SampleBatchBuilder,
    maxFrames = Infinity,
  ) {
    noNulls(list, col);
    const item = list.children[0];
    noNulls(item, `${col}.item`);
    this.itemOffset = item.offset;
    const table = DataType.isDictionary(item.type) ? item.dictionary?.data : [item];
    if (!table || table.length !== 1) bad(`column "${col}": frame dictionary must be exactly one chunk`);
    // The frame table's per-entry state is allocated up front: refuse an oversized one first.
    if (table[0].length > maxFrames) {
      throw FirnError.invalidArgument(`invalid Arrow samples: column "${col}" has ${table[0].length} frames, more than the limit of ${maxFrames}`, {
        limit: 'max_profile_symbols',
      });
    }
    if (DataType.isDictionary(item.type)) this.itemIndices = item.values as ArrayLike<number>;
    this.frames = new FrameTable(table[0], col);
  }

  /** Where list entry i's frames start in the item column, and its depth. */
  private bounds(i: number): { start: number; depth: number } {
    const offs = this.list.valueOffsets as Int32Array;
    const j = this.list.offset + i;
    const start = offs[j];
    const end = offs[j + 1];
    if (!(start >= 0 && end >= start && end <= this.list.children[0].length)) bad(`stack ${i}: invalid list offsets`);
    return { start, depth: end - start };
  }

  /**
   * Validates list entry i as decode does, without interning or adding it: its frame count, or
   * -1 when it is deeper than maxDepth (only a decode truncates, and checks only what it keeps).
   */
  check(i: number, maxDepth: number): number {
    const { start, depth } = this.bounds(i);
    if (depth > maxDepth) return -1;
    const idx = this.itemIndices;
    for (let q = 0; q < depth; q++) {
      const p = this.itemOffset + start + q;
      this.frames.check(idx ? idx[p] : p);
    }
    return depth;
  }

  /** Returns builder stack index * 2 + (truncated ? 1 : 0) for list entry i. */
  decode(i: number, maxDepth: number): number {
    const { start, depth } = this.bounds(i);
    const truncated = depth > maxDepth;
    const n = truncated ? maxDepth : depth;
    if (this.scratch.length < n) this.scratch = new Int32Array(Math.max(n, this.scratch.length * 2));
    const ids = this.scratch;
    const idx = this.itemIndices;
    const table = this.frames;
    for (let q = 0; q < n; q++) {
      const p = this.itemOffset + start + q;
      ids[q] = table.frameId(idx ? idx[p] : p);
    }
    // Interner stacks, not the builder's own: every stack of this builder comes through here.
    const id = interner.stackId(ids, n);
    return this.builder.addKeyedStack(id, interner.stack(id)) * 2 + (truncated ? 1 : 0);
  }
}

/** A decoded batch plus how many rows had their stack truncated to maxStackDepth. */
export interface ArrowDecodedSamples extends SampleBatch {
  truncatedStacks: number;
}

const REQUIRED = ['profile_type', 'stack', 'value', 'timestamp', 'duration', 'period'] as const;
/** Optional: the span a row belongs to (16 lowercase hex digits), null for none. */
export const SPAN_COLUMN = 'span_id';

/**
 * Decodes and validates a "firn.samples.v1" Arrow IPC stream. Every problem (parse errors,
 * unknown/missing/mistyped columns, nulls where not allowed, negative numbers, bad labels)
 * fails with invalid_argument naming the column. Accepts, besides the writer's encoding,
 * `stack` as a plain List<Struct> and frame/label strings as plain Utf8.
 */
export function samplesFromArrow(ipc: Uint8Array, limits: ArrowLimits): ArrowDecodedSamples {
  const { builder, truncatedStacks } = guarded(() => decodeArrow(ipc, limits, 'decode'))!;
  const batch = builder.build();
  attachInternedStacks(batch, interner, builder.keyedStackIds());
  return Object.assign(batch, { truncatedStacks });
}

/** What checkSamplesArrow tells of a stream: what a gateway checks (labels, time window) and counts. */
export type ArrowCheckedSamples = Pick<SampleBatch, 'length' | 'series' | 'timestampMs'>;

/**
 * Validates a "firn.samples.v1" Arrow IPC stream as samplesFromArrow does (same refusals, same
 * limits) without interning its frames and stacks, for a reader that forwards the bytes as they
 * are. `length` counts rows as a decode would, except that rows of two stack dictionary entries
 * with equal frames are not summed. Undefined when only a decode can tell: a stack deeper than
 * maxStackDepth (a decode truncates it), frames of the stacks used past maxStackFrames (a decode
 * counts distinct stacks only), or a stack column that is not dictionary-encoded.
 */
export function checkSamplesArrow(ipc: Uint8Array, limits: ArrowLimits): ArrowCheckedSamples | undefined {
  const r = guarded(() => decodeArrow(ipc, limits, 'check'));
  if (!r) return undefined;
  return r.builder.shape();
}

/**
 * The bytes at an 8-byte aligned offset: apache-arrow copies each message body (every dictionary
 * batch and record batch) of a stream whose offset is not a multiple of 8. A payload cut out of a
 * larger message (a protobuf field of the ingest log or of a gRPC request) usually is not; one
 * copy of the whole stream costs less (tableFromIPC 1.1-1.15× faster on fleet-1h requests).
 */
function aligned(ipc: Uint8Array): Uint8Array {
  return ipc.byteOffset % 8 === 0 ? ipc : ipc.slice();
}

function guarded<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof FirnError) throw err;
    // Structural checks above should catch corruption first; anything arrow-js or a typed
    // array still throws on hostile input is an input problem, not a server fault.
    bad(`malformed Arrow data: ${err instanceof Error ? err.message : String(err)}`);
  }
}

/**
 * The one reader behind samplesFromArrow ('decode') and checkSamplesArrow ('check': frames and
 * stacks validated, not interned; each stack dictionary entry stands for its own stack, so the
 * builder's stacks stay empty and only its rows, series and profile types mean anything).
 */
function decodeArrow(ipc: Uint8Array, limits: ArrowLimits, mode: 'decode' | 'check'): { builder: SampleBatchBuilder; truncatedStacks: number } | undefined {
  if (ipc.length > limits.maxBytes) {
    throw FirnError.invalidArgument(`Arrow samples are ${ipc.length} bytes, more than the limit of ${limits.maxBytes}`, {
      limit: 'max_bytes',
    });
  }
  checkArrowIpcStream(ipc, limits.maxRows);
  let table: Table;
  try {
    table = tableFromIPC(aligned(ipc));
  } catch (err) {
    bad(`malformed Arrow IPC stream: ${err instanceof Error ? err.message : String(err)}`);
  }
  const schema = table.schema;
  const version = schema.metadata.get(SAMPLES_SCHEMA_KEY);
  if (version !== SAMPLES_SCHEMA_V1) {
    bad(`schema metadata "${SAMPLES_SCHEMA_KEY}" must be "${SAMPLES_SCHEMA_V1}", got ${version === undefined ? 'none' : `"${version}"`}`);
  }

  const fieldIdx = new Map<string, number>();
  const unknown: string[] = [];
  const labelCols: Array<{ name: string; idx: number }> = [];
  schema.fields.forEach((f: Field, i: number) => {
    if (fieldIdx.has(f.name)) bad(`duplicate column "${f.name}"`);
    fieldIdx.set(f.name, i);
    if (f.name.startsWith(LABEL_COLUMN_PREFIX)) {
      const ln = f.name.slice(LABEL_COLUMN_PREFIX.length);
      if (!isValidLabelName(ln)) bad(`column "${f.name}": invalid label name "${ln}"`);
      if (!isStringLike(f.type)) bad(`column "${f.name}" must be Dictionary<Int32, Utf8>, got ${f.type}`);
      labelCols.push({ name: ln, idx: i });
    } else if (f.name === SPAN_COLUMN) {
      if (!isStringLike(f.type)) bad(`column "${f.name}" must be Dictionary<Int32, Utf8>, got ${f.type}`);
    } else if (!(REQUIRED as readonly string[]).includes(f.name)) {
      unknown.push(f.name);
    }
  });
  if (unknown.length > 0) bad(`unknown column(s) ${unknown.map((u) => `"${u}"`).join(', ')}`);
  const missing = REQUIRED.filter((r) => !fieldIdx.has(r));
  if (missing.length > 0) bad(`missing column(s) ${missing.map((m) => `"${m}"`).join(', ')}`);
  const typeOf = (name: string): DataType => schema.fields[fieldIdx.get(name)!].type;
  if (!isStringLike(typeOf('profile_type'))) bad(`column "profile_type" must be Dictionary<Int32, Utf8>, got ${typeOf('profile_type')}`);
  for (const c of ['value', 'timestamp', 'duration', 'period']) {
    if (!isInt64(typeOf(c))) bad(`column "${c}" must be Int64, got ${typeOf(c)}`);
  }
  const stackType = typeOf('stack');
  const stackIsDict = DataType.isDictionary(stackType);
  if (stackIsDict) {
    if (!isIndexInt(stackType.indices) || !isStackList(stackType.dictionary, 'stack')) {
      bad(`column "stack" must be Dictionary<Int32, List<Struct<frame>>> or List<Struct<frame>>, got ${stackType}`);
    }
  } else if (!isStackList(stackType, 'stack')) {
    bad(`column "stack" must be Dictionary<Int32, List<Struct<frame>>> or List<Struct<frame>>, got ${stackType}`);
  }
  const check = mode === 'check';
  if (check && !stackIsDict) return undefined;
  if (table.numRows > limits.maxRows) {
    throw FirnError.invalidArgument(`Arrow samples have ${table.numRows} rows, more than the limit of ${limits.maxRows}`, {
      limit: 'max_rows',
    });
  }

  interner.startBatch();
  // Stack frame ids are the process-wide interner's, not the builder's (see callerFrameIds).
  const builder = new SampleBatchBuilder({
    initialCapacity: Math.max(16, table.numRows),
    maxSeries: limits.maxSeries,
    maxStackFrames: limits.maxStackFrames,
    callerFrameIds: true,
  });
  let truncatedStacks = 0;
  const ptCache = new WeakMap<Vector, Int32Array>();
  const stackCache = new WeakMap<Vector, { dec: StackDecoder; map: Int32Array }>();
  const seriesByKey = new Map<number | string, number>();
  // check: frames of the stack entries used, and the next stand-in stack id.
  let checkedFrames = 0;
  let checkedStacks = 0;

  for (const rb of table.batches) {
    const rows = rb.numRows;
    if (rows === 0) continue;
    const col = (name: string): Data => rb.data.children[fieldIdx.get(name)!];
    for (const [name, i] of fieldIdx) {
      const d = rb.data.children[i];
      if (!d || d.length !== rows) bad(`column "${name}" has ${d?.length} rows, the batch has ${rows}`);
      checkData(d, name);
    }

    const ptData = col('profile_type');
    noNulls(ptData, 'profile_type');
    const ptStrings = new StringColumn(ptData, 'profile_type');
    let ptMap: Int32Array | undefined;
    if (ptData.dictionary) {
      ptMap = ptCache.get(ptData.dictionary);
      if (!ptMap) {
        ptMap = new Int32Array(ptData.dictionary.length).fill(-1);
        ptCache.set(ptData.dictionary, ptMap);
      }
    }

    const labelStrs = labelCols.map((l) => ({
      name: l.name,
      d: col(LABEL_COLUMN_PREFIX + l.name),
      s: new StringColumn(col(LABEL_COLUMN_PREFIX + l.name), LABEL_COLUMN_PREFIX + l.name),
    }));
    // Series key: a mixed-radix number over label dictionary indexes when it fits, else a string.
    let radixOk = labelStrs.every((l) => DataType.isDictionary(l.d.type));
    let radixProduct = 1;
    const radix: number[] = [];
    for (const l of labelStrs) {
      radix.push(radixProduct);
      radixProduct *= l.s.dictionaryLength + 1;
      if (radixProduct > Number.MAX_SAFE_INTEGER) radixOk = false;
    }
    // Keys are only comparable across batches that share dictionaries; scope them per batch.
    seriesByKey.clear();

    const stackData = col('stack');
    noNulls(stackData, 'stack');
    let stackDec: StackDecoder;
    let stackMap: Int32Array | undefined;
    if (stackIsDict) {
      const dict = stackData.dictionary;
      if (!dict) bad('column "stack" has no dictionary');
      let cached = stackCache.get(dict);
      if (!cached) {
        if (dict.data.length !== 1) bad('column "stack": stack dictionary must be exactly one chunk');
        if (dict.length > limits.maxRows) bad(`column "stack": stack dictionary has ${dict.length} entries, more than ${limits.maxRows}`);
        cached = { dec: new StackDecoder(dict.data[0], 'stack', builder, limits.maxSymbols), map: new Int32Array(dict.length).fill(-1) };
        stackCache.set(dict, cached);
      }
      stackDec = cached.dec;
      stackMap = cached.map;
    } else {
      stackDec = new StackDecoder(stackData, 'stack', builder, limits.maxSymbols);
    }
    const stackIndices = stackIsDict ? (stackData.values as ArrayLike<number>) : undefined;

    const value = int64Column(col('value'), 'value');
    const ts = int64Column(col('timestamp'), 'timestamp');
    const dur = int64Column(col('duration'), 'duration');
    const per = int64Column(col('period'), 'period');
    const spanData = fieldIdx.has(SPAN_COLUMN) ? col(SPAN_COLUMN) : undefined;
    const spanStrings = spanData ? new StringColumn(spanData, SPAN_COLUMN) : undefined;
    const spanOfIndex = new Map<number, number>();

    for (let i = 0; i < rows; i++) {
      let pt: number;
      if (ptMap) {
        const k = ptStrings.index(i);
        pt = ptMap[k];
        if (pt === undefined) bad(`column "profile_type" row ${i}: dictionary index ${k} out of range`);
        if (pt < 0) {
          pt = builder.addProfileType(validProfileType(ptStrings.get(i)));
          ptMap[k] = pt;
        }
      } else {
        pt = builder.addProfileType(validProfileType(ptStrings.get(i)));
      }

      let series: number;
      let key: number | string;
      if (radixOk) {
        key = 0;
        for (let c = 0; c < labelStrs.length; c++) {
          const l = labelStrs[c];
          if (!isValid(l.d, i)) continue;
          const k = l.s.index(i);
          if (!(k >= 0 && k < l.s.dictionaryLength)) bad(`column "${LABEL_COLUMN_PREFIX}${l.name}" row ${i}: dictionary index ${k} out of range`);
          key += (k + 1) * radix[c];
        }
      } else {
        key = '';
        for (const l of labelStrs) key += isValid(l.d, i) ? `${l.s.get(i).length}:${l.s.get(i)}` : '-';
      }
      const known = seriesByKey.get(key);
      if (known !== undefined) {
        series = known;
      } else {
        const labels: Array<[string, string]> = [];
        for (const l of labelStrs) if (isValid(l.d, i)) labels.push([l.name, l.s.get(i)]);
        series = builder.addSeries(labels);
        seriesByKey.set(key, series);
      }

      let packed: number;
      if (stackMap) {
        const k = stackIndices![stackData.offset + i];
        if (!(k >= 0 && k < stackMap.length)) bad(`column "stack" row ${i}: dictionary index ${k} out of range`);
        packed = stackMap[k];
        if (packed < 0) {
          if (check) {
            const depth = stackDec.check(k, limits.maxStackDepth);
            checkedFrames += depth;
            if (depth < 0 || checkedFrames > (limits.maxStackFrames ?? Infinity)) return undefined;
            packed = checkedStacks++ * 2;
          } else {
            packed = stackDec.decode(k, limits.maxStackDepth);
          }
          stackMap[k] = packed;
        }
      } else {
        packed = stackDec.decode(i, limits.maxStackDepth);
      }
      const stack = packed >>> 1;
      if ((packed & 1) === 1) truncatedStacks++;
      let span = 0;
      if (spanData && spanStrings && isValid(spanData, i)) {
        const k = spanStrings.index(i);
        let known = spanOfIndex.get(k);
        if (known === undefined) {
          const id = spanStrings.get(i);
          if (!isSpanId(id)) bad(`column "${SPAN_COLUMN}" row ${i}: span id ${JSON.stringify(id.slice(0, 40))} is not 16 lowercase hex digits`);
          known = builder.addSpan(id);
          // Plain Utf8 columns have no dictionary: their "index" is the row; do not cache those.
          if (DataType.isDictionary(spanData.type)) spanOfIndex.set(k, known);
        }
        span = known;
      }
      builder.addRow(pt, series, stack, value[i], ts[i], dur[i], per[i], span);
    }
  }
  return { builder, truncatedStacks };
}

function validProfileType(s: string): string {
  try {
    parseProfileType(s);
  } catch (err) {
    bad(`column "profile_type": ${(err as Error).message}`);
  }
  return s;
}

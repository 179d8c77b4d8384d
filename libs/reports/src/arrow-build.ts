import {
  Binary,
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
  Table,
  Uint16,
  Uint32,
  Uint64,
  Uint8,
  Utf8,
  makeData,
  makeVector,
  tableToIPC,
} from 'apache-arrow';
import { recordBatchOf } from '@firn/profiles';

// Column builders over makeData: the reports know every value up front, so typed arrays plus
// a validity bitmap are both the fastest and the most exact way to get Parca's column types.

/** Per-row validity: 1 = value present, 0 = null. */
export type Validity = Uint8Array;

export type UnsignedType = Uint8 | Uint16 | Uint32 | Uint64;
export type SignedType = Int8 | Int16 | Int32 | Int64;

/** Parca's smallestUnsignedTypeFor: the narrowest unsigned type strictly above `max`. */
export function smallestUnsigned(max: number): UnsignedType {
  if (max < 0xff) return new Uint8();
  if (max < 0xffff) return new Uint16();
  if (max < 0xffffffff) return new Uint32();
  return new Uint64();
}

/** Parca's smallestSignedTypeFor (with the real minimum; upstream passes 0 by mistake). */
export function smallestSigned(min: number, max: number): SignedType {
  if (max < 0x7f && min > -0x80) return new Int8();
  if (max < 0x7fff && min > -0x8000) return new Int16();
  if (max < 0x7fffffff && min > -0x80000000) return new Int32();
  return new Int64();
}

function bitmap(valid: Validity | undefined, length: number): { nullBitmap?: Uint8Array; nullCount: number } {
  if (!valid) return { nullCount: 0 };
  let nullCount = 0;
  const bits = new Uint8Array((length + 7) >> 3);
  for (let i = 0; i < length; i++) {
    if (valid[i]) bits[i >> 3] |= 1 << (i & 7);
    else nullCount++;
  }
  return nullCount === 0 ? { nullCount: 0 } : { nullBitmap: bits, nullCount };
}

/** Integer column of the given type; values must fit it (they are chosen with smallest*). */
export function intColumn(type: UnsignedType | SignedType, values: ArrayLike<number>, valid?: Validity): Data {
  const n = values.length;
  let data: Uint8Array | Uint16Array | Uint32Array | BigUint64Array | Int8Array | Int16Array | Int32Array | BigInt64Array;
  if (type instanceof Uint8) data = new Uint8Array(n);
  else if (type instanceof Uint16) data = new Uint16Array(n);
  else if (type instanceof Uint32) data = new Uint32Array(n);
  else if (type instanceof Uint64) data = new BigUint64Array(n);
  else if (type instanceof Int8) data = new Int8Array(n);
  else if (type instanceof Int16) data = new Int16Array(n);
  else if (type instanceof Int32) data = new Int32Array(n);
  else data = new BigInt64Array(n);
  if (data instanceof BigUint64Array || data instanceof BigInt64Array) {
    // Zero-filled already: skip the BigInt per row for zeros (whole columns are, e.g. timestamp).
    for (let i = 0; i < n; i++) if (values[i] !== 0) data[i] = BigInt(Math.round(values[i]));
  } else {
    // One native copy (same conversion as assigning each element); a loop over this union of
    // array types is megamorphic, and it was the flame graph's largest single cost.
    data.set(values);
  }
  return makeData({ type: type as DataType, length: n, ...bitmap(valid, n), data } as never);
}

export function uint64BigColumn(values: BigUint64Array, valid?: Validity): Data<Uint64> {
  return makeData({ type: new Uint64(), length: values.length, ...bitmap(valid, values.length), data: values });
}

export function boolColumn(values: ArrayLike<boolean | number>, valid?: Validity): Data<Bool> {
  const n = values.length;
  const bits = new Uint8Array((n + 7) >> 3);
  for (let i = 0; i < n; i++) if (values[i]) bits[i >> 3] |= 1 << (i & 7);
  return makeData({ type: new Bool(), length: n, ...bitmap(valid, n), data: bits });
}

const utf8 = new TextEncoder();

/**
 * Dictionary-encoded string column. `null` (and only null) becomes a null slot; dictionary
 * values are kept in order of first use, as Parca's compaction keeps them in dictionary order.
 * With `indexType` unset the index is the smallest unsigned type for the value count
 * (Parca's compactDictionary).
 */
export function dictionaryColumn(values: ReadonlyArray<string | null>, valueType: 'binary' | 'utf8', indexType?: Uint8 | Uint16 | Uint32 | Int32): Data {
  const n = values.length;
  const ids = new Map<string, number>();
  const distinct: string[] = [];
  const rowIds = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const v = values[i];
    if (v === null) {
      rowIds[i] = -1;
      continue;
    }
    let id = ids.get(v);
    if (id === undefined) {
      id = distinct.push(v) - 1;
      ids.set(v, id);
    }
    rowIds[i] = id;
  }
  const column = new DictionaryColumnBuilder(distinct, n);
  for (let i = 0; i < n; i++) if (rowIds[i] >= 0) column.set(i, rowIds[i]);
  return column.finish(valueType, indexType);
}

/**
 * A dictionary-encoded string column filled row by row with ids into `distinct` (rows never set
 * are null), so a caller that walks its rows once for every column sets each as it goes instead
 * of filling an id array per column first. Dictionary values in order of first use, indexes in
 * the smallest unsigned type for their count unless `indexType` is given, as dictionaryColumn.
 */
export class DictionaryColumnBuilder {
  private readonly position: Int32Array;
  private readonly order: string[] = [];
  private readonly idx: Uint32Array;
  private readonly bits: Uint8Array;
  private setRows = 0;

  constructor(
    private readonly distinct: readonly string[],
    private readonly length: number,
  ) {
    this.position = new Int32Array(distinct.length).fill(-1);
    this.idx = new Uint32Array(length);
    this.bits = new Uint8Array((length + 7) >> 3);
  }

  /** Row `row` (each set at most once, in increasing order for first-use order) holds distinct[id]. */
  set(row: number, id: number): void {
    let pos = this.position[id];
    if (pos < 0) pos = this.position[id] = this.order.push(this.distinct[id]) - 1;
    this.idx[row] = pos;
    this.bits[row >> 3] |= 1 << (row & 7);
    this.setRows++;
  }

  finish(valueType: 'binary' | 'utf8', indexType?: Uint8 | Uint16 | Uint32 | Int32): Data {
    const { order, idx, length: n } = this;
    const encoded = order.map((s) => utf8.encode(s));
    const offsets = new Int32Array(encoded.length + 1);
    for (let i = 0; i < encoded.length; i++) offsets[i + 1] = offsets[i] + encoded[i].length;
    const bytes = new Uint8Array(offsets[encoded.length]);
    for (let i = 0; i < encoded.length; i++) bytes.set(encoded[i], offsets[i]);
    const vt = valueType === 'binary' ? new Binary() : new Utf8();
    const dict = makeData({ type: vt as Binary, length: encoded.length, nullCount: 0, valueOffsets: offsets, data: bytes });
    const it = indexType ?? smallestUnsigned(order.length);
    // One native conversion each (values fit the type: it is chosen for the count).
    const keys = it instanceof Uint8 ? new Uint8Array(idx) : it instanceof Uint16 ? new Uint16Array(idx) : it instanceof Int32 ? new Int32Array(idx) : idx;
    const nullCount = n - this.setRows;
    return makeData({
      type: new Dictionary(vt, it as Uint32),
      length: n,
      ...(nullCount === 0 ? { nullCount: 0 } : { nullBitmap: this.bits, nullCount }),
      data: keys as Uint32Array,
      dictionary: makeVector(dict),
    });
  }
}

/** List<item: child type> column; `null` entries become null lists. */
export function listColumn(child: Uint32 | Int64, lists: ReadonlyArray<ArrayLike<number> | null>): Data {
  const n = lists.length;
  const offsets = new Int32Array(n + 1);
  const valid = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const l = lists[i];
    offsets[i + 1] = offsets[i] + (l ? l.length : 0);
    if (l) valid[i] = 1;
  }
  const flat = new Float64Array(offsets[n]);
  let k = 0;
  for (const l of lists) if (l) for (let j = 0; j < l.length; j++) flat[k++] = l[j];
  return flatListColumn(child, flat, offsets, valid);
}

/** List<item: child type> column from flat items, n + 1 offsets and per-list validity (0 = null list). */
export function flatListColumn(child: Uint32 | Int64, items: ArrayLike<number>, offsets: Int32Array, valid: Validity): Data {
  const n = offsets.length - 1;
  return makeData({
    type: new List(new Field('item', child, true)),
    length: n,
    ...bitmap(valid, n),
    valueOffsets: offsets,
    child: intColumn(child, items),
  } as never);
}

/** One record batch as an Arrow IPC stream (uncompressed; Parca's readers accept both). */
export function ipcStream(fields: Field[], columns: Data[], length: number): Uint8Array {
  return tableToIPC(new Table(recordBatchOf(fields, columns, length)), 'stream');
}

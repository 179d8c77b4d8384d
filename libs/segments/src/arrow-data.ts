import { Bool, Data, Dictionary, Field, Int32, Int64, makeData, Table, Uint32, Uint64, Utf8, type Vector, makeVector } from 'apache-arrow';
import { recordBatchOf } from '@firn/profiles';

// Builds Arrow column data straight from typed arrays: much faster than vectorFromArray for
// millions of rows, and every layout here is covered by the Arrow → Parquet → Arrow tests.

export function utf8Data(values: readonly string[]): Data<Utf8> {
  const offsets = new Int32Array(values.length + 1);
  let bytes = 0;
  for (let i = 0; i < values.length; i++) bytes += Buffer.byteLength(values[i], 'utf8');
  const data = Buffer.allocUnsafe(bytes);
  let pos = 0;
  for (let i = 0; i < values.length; i++) {
    pos += data.write(values[i], pos, 'utf8');
    offsets[i + 1] = pos;
  }
  return makeData({ type: new Utf8(), length: values.length, nullCount: 0, valueOffsets: offsets, data: new Uint8Array(data.buffer, data.byteOffset, pos) });
}

export function utf8Vector(values: readonly string[]): Vector<Utf8> {
  return makeVector(utf8Data(values));
}

/**
 * Dictionary<Int32, Utf8> column; `indices[i] < 0` means null. (Building dictionary columns this
 * way, with an explicit validity bitmap and null count, round-trips through parquet-wasm; see the
 * writer tests. The PITFALLS note concerns makeVector without them.)
 */
export function dictionaryData(
  dictionary: readonly string[],
  indices: Int32Array,
  type: Dictionary<Utf8, Int32> = new Dictionary(new Utf8(), new Int32()),
): Data<Dictionary<Utf8, Int32>> {
  let nullCount = 0;
  for (let i = 0; i < indices.length; i++) if (indices[i] < 0) nullCount++;
  let nullBitmap: Uint8Array | undefined;
  if (nullCount > 0) {
    nullBitmap = new Uint8Array((indices.length + 7) >> 3);
    for (let i = 0; i < indices.length; i++) {
      if (indices[i] >= 0) nullBitmap[i >> 3] |= 1 << (i & 7);
      else indices[i] = 0;
    }
  }
  return makeData({ type, length: indices.length, nullCount, nullBitmap, data: indices, dictionary: utf8Vector(dictionary) });
}

export function uint32Data(values: Uint32Array): Data<Uint32> {
  return makeData({ type: new Uint32(), length: values.length, nullCount: 0, data: values });
}

/** Integral doubles (|v| < 2^63) → Int64 without a BigInt per value. */
export function int64DataFromDoubles(values: Float64Array): Data<Int64> {
  const out = new Int32Array(values.length * 2);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    const hi = Math.floor(v / 4294967296);
    out[2 * i] = (v - hi * 4294967296) | 0;
    out[2 * i + 1] = hi | 0;
  }
  return makeData({ type: new Int64(), length: values.length, nullCount: 0, data: new BigInt64Array(out.buffer) });
}

export function uint64Data(values: BigUint64Array): Data<Uint64> {
  return makeData({ type: new Uint64(), length: values.length, nullCount: 0, data: values });
}

export function boolData(values: readonly boolean[]): Data<Bool> {
  const bits = new Uint8Array((values.length + 7) >> 3);
  for (let i = 0; i < values.length; i++) if (values[i]) bits[i >> 3] |= 1 << (i & 7);
  return makeData({ type: new Bool(), length: values.length, nullCount: 0, data: bits });
}

/** Interns strings into a dictionary column (first-seen order). */
export class StringDictionaryBuilder {
  private readonly ids = new Map<string, number>();
  readonly values: string[] = [];
  readonly indices: Int32Array;
  private n = 0;

  constructor(capacity: number) {
    this.indices = new Int32Array(capacity);
  }

  add(s: string): void {
    let id = this.ids.get(s);
    if (id === undefined) {
      id = this.values.push(s) - 1;
      this.ids.set(s, id);
    }
    this.indices[this.n++] = id;
  }

  finish(type: Dictionary<Utf8, Int32>): Data<Dictionary<Utf8, Int32>> {
    return dictionaryData(this.values, this.indices.subarray(0, this.n), type);
  }
}

/** A named column of a table being built. */
export function column(name: string, data: Data, nullable = false): { field: Field; data: Data } {
  return { field: new Field(name, data.type, nullable), data };
}

/** One record batch of `length` rows from built columns, with schema metadata. */
export function tableOf(columns: Array<{ field: Field; data: Data }>, metadata: Record<string, string>, length: number): Table {
  return new Table(
    recordBatchOf(
      columns.map((c) => c.field),
      columns.map((c) => c.data),
      length,
      new Map(Object.entries(metadata)),
    ),
  );
}

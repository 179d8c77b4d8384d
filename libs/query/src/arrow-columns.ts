import { DataType, type Data, type RecordBatch } from 'apache-arrow';
import { FirnError } from '@firn/errors';

// Typed access to the columns of decoded segment batches (apache-arrow Data, no per-row Vector.get).

export function batchColumn(batch: RecordBatch, name: string): Data | undefined {
  return batch.getChild(name)?.data[0];
}

export function requireColumn(batch: RecordBatch, name: string, what: string): Data {
  const d = batchColumn(batch, name);
  if (!d) throw FirnError.invalidArgument(`${what} lacks column ${JSON.stringify(name)}`);
  return d;
}

function isValid(data: Data, i: number): boolean {
  if (data.nullCount === 0 || !data.nullBitmap) return true;
  const bit = data.offset + i;
  return ((data.nullBitmap[bit >> 3] >> (bit & 7)) & 1) === 1;
}

function utf8Strings(data: Data): (i: number) => string {
  if (!DataType.isUtf8(data.type)) throw FirnError.invalidArgument(`expected a string column, got ${String(data.type)}`);
  const offsets = data.valueOffsets as Int32Array;
  const bytes = data.values as Uint8Array;
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return (i) => buf.toString('utf8', offsets[i], offsets[i + 1]);
}

/** The decoded dictionary of a Dictionary<_, Utf8> column chunk. */
export function dictionaryStrings(data: Data): string[] {
  const dict = data.dictionary;
  if (!dict) throw FirnError.invalidArgument('dictionary column without a dictionary');
  const out: string[] = [];
  for (const chunk of dict.data) {
    const get = utf8Strings(chunk);
    for (let i = 0; i < chunk.length; i++) out.push(get(i));
  }
  return out;
}

/**
 * String accessor for Utf8 or Dictionary<_, Utf8> data; each dictionary entry is decoded once,
 * lazily. Nulls read as '' (an absent label).
 */
export function stringsOf(data: Data): (i: number) => string {
  if (DataType.isDictionary(data.type)) {
    const indices = data.values as Int32Array;
    const dict = data.dictionary;
    if (!dict || dict.data.length !== 1) throw FirnError.invalidArgument('dictionary column without a single dictionary chunk');
    const decode = utf8Strings(dict.data[0]);
    const cache = new Array<string | undefined>(dict.length);
    if (data.nullCount === 0) return (i) => (cache[indices[i]] ??= decode(indices[i]));
    return (i) => (isValid(data, i) ? (cache[indices[i]] ??= decode(indices[i])) : '');
  }
  const get = utf8Strings(data);
  if (data.nullCount === 0) return get;
  return (i) => (isValid(data, i) ? get(i) : '');
}

/**
 * For a Dictionary<_, Utf8> column: a per-row predicate that evaluates `accepts` once per
 * dictionary entry (plus once for null = '').
 */
export function dictionaryPredicate(data: Data, accepts: (v: string) => boolean): (i: number) => boolean {
  if (!DataType.isDictionary(data.type)) {
    const get = stringsOf(data);
    return (i) => accepts(get(i));
  }
  const indices = data.values as Int32Array;
  const ok = Uint8Array.from(dictionaryStrings(data), (v) => (accepts(v) ? 1 : 0));
  if (data.nullCount === 0) return (i) => ok[indices[i]] === 1;
  const nullOk = accepts('');
  return (i) => (isValid(data, i) ? ok[indices[i]] === 1 : nullOk);
}

/** Distinct non-null strings of a column chunk: its dictionary when it has one, else every row. */
export function distinctStrings(data: Data): string[] {
  if (DataType.isDictionary(data.type)) return dictionaryStrings(data);
  const get = stringsOf(data);
  const out = new Set<string>();
  for (let i = 0; i < data.length; i++) if (isValid(data, i)) out.add(get(i));
  return [...out];
}

/** An int64 column's values as (low, high) int32 pairs: reading them makes no BigInt. */
export function halves(a: BigInt64Array): Int32Array {
  return new Int32Array(a.buffer, a.byteOffset, a.length * 2);
}

/** Value i of `halves(column)`, exactly Number(int64): the high half times 2^32 is exact, so the sum is rounded once. */
export function int64At(h: Int32Array, i: number): number {
  return h[2 * i + 1] * 4294967296 + (h[2 * i] >>> 0);
}

import { createHash } from 'node:crypto';
import { Bool, Dictionary, Int32, Table, tableFromIPC, tableToIPC, Utf8, vectorFromArray, makeVector, type Data } from 'apache-arrow';
import { FirnError } from '@firn/errors';
import type { Frame } from '@firn/profiles';
import { stringsOf } from './arrow-columns';

/**
 * What a stack catalog snapshot holds: the catalog's stack keys (index = catalog id), the frames
 * of those whose frames were read (a frame table and per-stack indexes into it), and per segment
 * (by its stacks object key) the catalog id of every stack_id (-1 = not read).
 */
export interface CatalogSnapshot {
  keys: string[];
  /** Distinct frames, referenced by index from `stackFrames`. */
  frames: Frame[];
  /** Per stack: indexes into `frames`, or undefined when its frames were never read. */
  stackFrames: Array<Int32Array | undefined>;
  segments: Array<{ stacksKey: string; map: Int32Array }>;
}

// One object: MAGIC, the SHA-256 of the rest, then SECTIONS Arrow IPC streams, each preceded by
// its byte length (u32 LE). The digest is checked before Arrow sees a byte: Arrow trusts the
// lengths inside its messages, and one flipped bit there can ask for gigabytes.
const MAGIC = Buffer.from('FIRNSTC1', 'ascii');
const DIGEST_BYTES = 32;
const SECTIONS = 5;

const dictUtf8 = (): Dictionary<Utf8, Int32> => new Dictionary(new Utf8(), new Int32());

function ipc(table: Table): Uint8Array {
  return tableToIPC(table, 'stream');
}

function int32Table(name: string, values: Int32Array): Table {
  return new Table({ [name]: makeVector(values) });
}

/** The snapshot as one object (Arrow IPC sections; strings of the frame table dictionary-encoded). */
export function encodeCatalogSnapshot(s: CatalogSnapshot): Buffer {
  const f = s.frames;
  const strings = (pick: (x: Frame) => string) =>
    vectorFromArray(
      f.map((x) => pick(x)),
      dictUtf8(),
    );
  const frames = new Table({
    buildId: strings((x) => x.buildId),
    mappingFile: strings((x) => x.mappingFile),
    functionName: strings((x) => x.functionName),
    fileName: strings((x) => x.fileName),
    address: makeVector(BigUint64Array.from(f, (x) => x.address)),
    line: makeVector(BigInt64Array.from(f, (x) => BigInt(x.line))),
    inlined: vectorFromArray(
      f.map((x) => x.inlined),
      new Bool(),
    ),
  });
  // Frame counts per stack (-1 = frames unknown) and every stack's frame indexes, concatenated.
  const counts = Int32Array.from(s.stackFrames, (x) => (x ? x.length : -1));
  const refs = new Int32Array(s.stackFrames.reduce((n, x) => n + (x ? x.length : 0), 0));
  let at = 0;
  for (const x of s.stackFrames) {
    if (!x) continue;
    refs.set(x, at);
    at += x.length;
  }
  const stacks = new Table({ key: vectorFromArray(s.keys, new Utf8()), frameCount: makeVector(counts) });
  const segments = new Table({
    stacksKey: vectorFromArray(
      s.segments.map((m) => m.stacksKey),
      new Utf8(),
    ),
    length: makeVector(Int32Array.from(s.segments, (m) => m.map.length)),
  });
  const maps = new Int32Array(s.segments.reduce((n, m) => n + m.map.length, 0));
  at = 0;
  for (const m of s.segments) {
    maps.set(m.map, at);
    at += m.map.length;
  }
  const parts = [ipc(frames), ipc(stacks), ipc(int32Table('frameRef', refs)), ipc(segments), ipc(int32Table('stackId', maps))];
  const out: Buffer[] = [];
  for (const p of parts) {
    const len = Buffer.alloc(4);
    len.writeUInt32LE(p.byteLength);
    out.push(len, Buffer.from(p.buffer, p.byteOffset, p.byteLength));
  }
  const body = Buffer.concat(out);
  return Buffer.concat([MAGIC, createHash('sha256').update(body).digest(), body]);
}

function corrupt(why: string): FirnError {
  return FirnError.invalidArgument(`stack catalog snapshot is corrupt: ${why}`);
}

/** The single-chunk column `name` of a decoded section. */
function column(t: Table, name: string): Data {
  const v = t.getChild(name);
  if (!v) throw corrupt(`lacks column ${name}`);
  if (v.data.length !== 1) throw corrupt(`column ${name} has ${v.data.length} chunks`);
  return v.data[0];
}

function int32s(t: Table, name: string): Int32Array {
  const d = column(t, name);
  if (!(d.values instanceof Int32Array) || d.nullCount > 0) throw corrupt(`column ${name} is not non-null int32`);
  return (d.values as Int32Array).subarray(0, d.length);
}

function sections(bytes: Uint8Array): Table[] {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buf.length < MAGIC.length || !buf.subarray(0, MAGIC.length).equals(MAGIC)) throw corrupt('bad magic');
  const head = MAGIC.length + DIGEST_BYTES;
  if (buf.length < head) throw corrupt('truncated');
  if (!createHash('sha256').update(buf.subarray(head)).digest().equals(buf.subarray(MAGIC.length, head))) throw corrupt('checksum mismatch');
  const out: Table[] = [];
  let at = head;
  for (let i = 0; i < SECTIONS; i++) {
    if (at + 4 > buf.length) throw corrupt('truncated');
    const len = buf.readUInt32LE(at);
    at += 4;
    if (at + len > buf.length) throw corrupt('truncated');
    // Copy: Arrow wants aligned buffers, and a Buffer from a pool may not be.
    out.push(tableFromIPC(new Uint8Array(buf.subarray(at, at + len))));
    at += len;
  }
  if (at !== buf.length) throw corrupt('trailing bytes');
  return out;
}

/**
 * Decodes and checks a snapshot: every frame index and catalog id in range, stack keys distinct.
 * invalid_argument ("corrupt") for anything else; never trusts a length it has not checked.
 */
export function decodeCatalogSnapshot(bytes: Uint8Array): CatalogSnapshot {
  let tables: Table[];
  try {
    tables = sections(bytes);
  } catch (err) {
    if (err instanceof FirnError) throw err;
    throw corrupt(err instanceof Error ? err.message : String(err));
  }
  const [ft, st, rt, sgt, mt] = tables;
  const n = ft.numRows;
  const get = (name: string): ((i: number) => string) => stringsOf(column(ft, name));
  const [build, mapping, fn, file] = [get('buildId'), get('mappingFile'), get('functionName'), get('fileName')];
  const address = column(ft, 'address').values as BigUint64Array;
  const line = column(ft, 'line').values as BigInt64Array;
  const inlined = column(ft, 'inlined');
  if (!(address instanceof BigUint64Array) || !(line instanceof BigInt64Array)) throw corrupt('bad frame columns');
  const frames = new Array<Frame>(n);
  for (let i = 0; i < n; i++) {
    const bit = inlined.offset + i;
    frames[i] = {
      buildId: build(i),
      mappingFile: mapping(i),
      address: address[i],
      functionName: fn(i),
      fileName: file(i),
      line: Number(line[i]),
      inlined: (((inlined.values as Uint8Array)[bit >> 3] >> (bit & 7)) & 1) === 1,
    };
  }

  const keyOf = stringsOf(column(st, 'key'));
  const counts = int32s(st, 'frameCount');
  const refs = int32s(rt, 'frameRef');
  const keys = new Array<string>(st.numRows);
  const stackFrames = new Array<Int32Array | undefined>(st.numRows);
  const seen = new Set<string>();
  let at = 0;
  for (let i = 0; i < st.numRows; i++) {
    keys[i] = keyOf(i);
    if (seen.has(keys[i])) throw corrupt(`stack key ${JSON.stringify(keys[i].slice(0, 40))} appears twice`);
    seen.add(keys[i]);
    const c = counts[i];
    if (c < -1 || at + Math.max(c, 0) > refs.length) throw corrupt('frame counts run past the frame indexes');
    if (c < 0) continue;
    const r = refs.subarray(at, at + c);
    at += c;
    for (const x of r) if (x < 0 || x >= n) throw corrupt(`frame index ${x} out of range`);
    stackFrames[i] = r;
  }
  if (at !== refs.length) throw corrupt('unused frame indexes');

  const segKey = stringsOf(column(sgt, 'stacksKey'));
  const lengths = int32s(sgt, 'length');
  const values = int32s(mt, 'stackId');
  const segments: CatalogSnapshot['segments'] = [];
  at = 0;
  for (let i = 0; i < sgt.numRows; i++) {
    const len = lengths[i];
    if (len < 0 || at + len > values.length) throw corrupt('segment map lengths run past the maps');
    const map = values.subarray(at, at + len);
    at += len;
    for (const x of map) if (x < -1 || x >= keys.length) throw corrupt(`catalog id ${x} out of range`);
    segments.push({ stacksKey: segKey(i), map });
  }
  if (at !== values.length) throw corrupt('unused segment map entries');
  return { keys, frames, stackFrames, segments };
}

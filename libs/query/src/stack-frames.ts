import { DataType, type Data, type RecordBatch, type Struct } from 'apache-arrow';
import { FirnError } from '@firn/errors';
import type { Frame } from '@firn/profiles';
import { FrameField, StackColumn } from '@firn/segments';
import { requireColumn, stringsOf } from './arrow-columns';

function field(parent: Data, name: string): Data {
  const idx = (parent.type as Struct).children.findIndex((f) => f.name === name);
  if (idx < 0) throw FirnError.invalidArgument(`stacks object lacks frame field ${JSON.stringify(name)}`);
  return parent.children[idx];
}

/**
 * An integer per row of a string column, equal for equal strings: the dictionary index of a
 * Dictionary<_, Utf8> column (the writer's layout; a dictionary holds each string once), else an
 * id interned per distinct string.
 */
function stringIds(data: Data): Int32Array {
  if (DataType.isDictionary(data.type) && data.nullCount === 0) return data.values as Int32Array;
  const get = stringsOf(data);
  const ids = new Int32Array(data.length);
  const seen = new Map<string, number>();
  for (let i = 0; i < data.length; i++) {
    const s = get(i);
    let id = seen.get(s);
    if (id === undefined) seen.set(s, (id = seen.size));
    ids[i] = id;
  }
  return ids;
}

/** The low and high 32 bits of a 64-bit column, without a BigInt per value. */
function words(data: Data): Uint32Array {
  const v = data.values as BigUint64Array | BigInt64Array;
  return new Uint32Array(v.buffer, v.byteOffset, v.length * 2);
}

function nextPow2(n: number): number {
  let p = 16;
  while (p < n) p *= 2;
  return p;
}

/**
 * Decodes the frames of the chosen rows of one v1 stacks.parquet batch (its `frames` column; v2
 * objects hold frame ids, see forEachFrameIdStack in @firn/segments): `onStack(row, frames)` for
 * every row `wanted(row)` accepts. Equal frames within the batch are recognised from their column
 * values (dictionary indexes, address and line words, the inlined bit) through an open-addressing
 * table, so a Frame object (and the `shared` call that dedupes it across batches) costs once per
 * distinct frame, not once per occurrence: stacks of one process repeat most of their frames.
 */
export function decodeFramesOfRows(
  batch: RecordBatch,
  wanted: (row: number) => boolean,
  shared: (f: Frame) => Frame,
  onStack: (row: number, frames: Frame[]) => void,
): void {
  const list = requireColumn(batch, StackColumn.frames, 'stacks object');
  const offsets = list.valueOffsets as Int32Array;
  const st = list.children[0];
  const buildData = field(st, FrameField.buildId);
  const mappingData = field(st, FrameField.mappingFile);
  const fnData = field(st, FrameField.functionName);
  const fileData = field(st, FrameField.fileName);
  const addrData = field(st, FrameField.address);
  const lineData = field(st, FrameField.line);
  const inlined = field(st, FrameField.inlined);
  const build = stringIds(buildData);
  const mapping = stringIds(mappingData);
  const fn = stringIds(fnData);
  const file = stringIds(fileData);
  const addr = words(addrData);
  const line = words(lineData);
  const inlinedNulls = inlined.nullCount > 0 ? inlined.nullBitmap : undefined;
  const inlinedBits = inlined.values as Uint8Array;
  const isInlined = (j: number): number => {
    const bit = inlined.offset + j;
    if (inlinedNulls && ((inlinedNulls[bit >> 3] >> (bit & 7)) & 1) === 0) return 0;
    return (inlinedBits[bit >> 3] >> (bit & 7)) & 1;
  };

  let occurrences = 0;
  for (let i = 0; i < batch.numRows; i++) if (wanted(i)) occurrences += offsets[i + 1] - offsets[i];
  if (occurrences === 0) return;
  // Slot → first occurrence (+1; 0 = empty) and its Frame.
  const size = nextPow2(occurrences * 2);
  const mask = size - 1;
  const slotRow = new Int32Array(size);
  const slotFrame: Frame[] = new Array<Frame>(size);
  const getBuild = stringsOf(buildData);
  const getMapping = stringsOf(mappingData);
  const getFn = stringsOf(fnData);
  const getFile = stringsOf(fileData);
  const lines = lineData.values as BigInt64Array;
  const addrs = addrData.values as BigUint64Array;

  const same = (a: number, b: number): boolean =>
    addr[2 * a] === addr[2 * b] &&
    addr[2 * a + 1] === addr[2 * b + 1] &&
    build[a] === build[b] &&
    mapping[a] === mapping[b] &&
    fn[a] === fn[b] &&
    file[a] === file[b] &&
    line[2 * a] === line[2 * b] &&
    line[2 * a + 1] === line[2 * b + 1] &&
    isInlined(a) === isInlined(b);

  for (let i = 0; i < batch.numRows; i++) {
    if (!wanted(i)) continue;
    const from = offsets[i];
    const frames = new Array<Frame>(offsets[i + 1] - from);
    for (let j = from; j < offsets[i + 1]; j++) {
      let h = Math.imul(addr[2 * j] ^ Math.imul(addr[2 * j + 1], 0x9e3779b1), 0x85ebca6b);
      h = Math.imul(h ^ (h >>> 13) ^ build[j] ^ (mapping[j] << 8), 0xc2b2ae35);
      h = Math.imul(h ^ (h >>> 16) ^ fn[j] ^ (file[j] << 12) ^ line[2 * j], 0x27d4eb2f);
      let s = (h ^ (h >>> 15)) & mask;
      let f: Frame | undefined;
      for (;;) {
        const r = slotRow[s];
        if (r === 0) {
          f = shared({
            buildId: getBuild(j),
            mappingFile: getMapping(j),
            address: addrs[j],
            functionName: getFn(j),
            fileName: getFile(j),
            line: Number(lines[j]),
            inlined: isInlined(j) === 1,
          });
          slotRow[s] = j + 1;
          slotFrame[s] = f;
          break;
        }
        if (same(r - 1, j)) {
          f = slotFrame[s];
          break;
        }
        s = (s + 1) & mask;
      }
      frames[j - from] = f;
    }
    onStack(i, frames);
  }
}

// Decodes Parca's FLAMEGRAPH_ARROW record. Loaded lazily (apache-arrow is the largest
// dependency), in parallel with the first query.
import { tableFromIPC, type Vector } from 'apache-arrow';
import { buildFlame, type Flame } from '../model/flame';
import type { FlameReport } from './client';

const utf8 = new TextDecoder();

/** Dictionary column → per-row index into a string table (0 = null / empty). */
function dictionaryColumn(v: Vector | null, n: number, table: string[], lookup: Map<string, number>, transform?: (s: string) => string): Int32Array {
  const out = new Int32Array(n);
  if (!v) return out;
  let row = 0;
  for (const data of v.data) {
    const keys = data.values as ArrayLike<number>;
    const dict = data.dictionary as Vector | undefined;
    const decoded = new Map<number, number>();
    for (let i = 0; i < data.length; i++, row++) {
      if (!data.getValid(i) || !dict) continue;
      const k = Number(keys[i]);
      let idx = decoded.get(k);
      if (idx === undefined) {
        const raw: unknown = dict.get(k);
        let s = raw instanceof Uint8Array ? utf8.decode(raw) : raw == null ? '' : String(raw);
        if (transform) s = transform(s);
        idx = lookup.get(s);
        if (idx === undefined) {
          idx = table.length;
          table.push(s);
          lookup.set(s, idx);
        }
        decoded.set(k, idx);
      }
      out[row] = idx;
    }
  }
  return out;
}

function numberColumn(v: Vector | null, n: number): Float64Array {
  const out = new Float64Array(n);
  if (!v) return out;
  if (v.nullCount === 0) {
    // The typed array behind the column (BigUint64Array for Uint64): no per-row accessor calls.
    const raw = v.toArray() as ArrayLike<number | bigint>;
    if (raw.length === n) {
      for (let i = 0; i < n; i++) out[i] = Number(raw[i]);
      return out;
    }
  }
  for (let i = 0; i < n; i++) {
    const x: unknown = v.get(i);
    out[i] = x == null ? 0 : Number(x);
  }
  return out;
}

export function decodeFlame(report: FlameReport, diff: boolean): Flame {
  const t = tableFromIPC(report.record);
  const n = t.numRows;
  const names: string[] = ['total'];
  const nameIdx = new Map<string, number>([['total', 0]]);
  const name = dictionaryColumn(t.getChild('function_name'), n, names, nameIdx);
  // Unsymbolized frames have no function name: show the address (and the binary beside it).
  const address = t.getChild('location_address');
  for (let i = 1; i < n; i++) {
    if (name[i] !== 0) continue;
    const a: unknown = address?.get(i);
    const label = a == null ? '[unknown]' : `0x${BigInt(a as bigint).toString(16)}`;
    let idx = nameIdx.get(label);
    if (idx === undefined) {
      idx = names.length;
      names.push(label);
      nameIdx.set(label, idx);
    }
    name[i] = idx;
  }
  const binaries = [''];
  const binary = dictionaryColumn(t.getChild('mapping_file'), n, binaries, new Map([['', 0]]));
  const files = [''];
  const file = dictionaryColumn(t.getChild('function_file_name'), n, files, new Map([['', 0]]));
  const parent = numberColumn(t.getChild('parent'), n);
  if (n > 0) parent[0] = -1;
  return buildFlame({
    parent,
    total: numberColumn(t.getChild('cumulative'), n),
    self: numberColumn(t.getChild('flat'), n),
    diff: diff ? numberColumn(t.getChild('diff'), n) : undefined,
    name,
    names,
    binary,
    binaries,
    file,
    files,
    line: numberColumn(t.getChild('location_line'), n),
    unit: report.unit,
    profileTotal: report.total,
    trimmed: report.trimmed,
  });
}

import { parseProfileType, type Frame } from '@firn/profiles';
import { Field, Int64, Uint16, Uint32, type Data } from 'apache-arrow';
import { dictionaryColumn, intColumn, ipcStream, listColumn, uint64BigColumn } from './arrow-build';
import { addressKey, diffValues, internStacks, keyIds } from './profile-input';
import type { StackProfile } from './stack-profile';

export interface TableArrowOptions {
  /** Fill cumulative_diff / flat_diff with B - A; default: whether `base` is set. */
  diff?: boolean;
  /** DiffProfile.absolute: when false (Parca's default) the smaller side is scaled up first. */
  absolute?: boolean;
}

/** The fields of QueryResponse{table_arrow, total, filtered}. */
export interface TableArrowReport {
  record: Uint8Array;
  unit: string;
  total: bigint;
  filtered: bigint;
}

interface Row {
  frame: Frame;
  cumulative: number;
  flat: number;
  diff: number;
  flatDiff: number;
  /** Last stack counted into cumulative (a stack counts once per row). */
  lastStack: number;
}

/** Upstream's fixed index type, widened only when the values would not fit it. */
const uint16Unless = (distinct: number): Uint16 | Uint32 => (distinct < 0xffff ? new Uint16() : new Uint32());

/**
 * Parca's TABLE_ARROW report (pkg/query/table.go): one row per function name (every frame,
 * inlined ones included), unsymbolized frames per mapping + address, in order of first
 * appearance walking each stack from the leaf; callers / callees hold row indexes.
 * Cumulative counts a stack once per row (upstream adds recursive frames twice).
 */
export function tableArrow(p: StackProfile, opts: TableArrowOptions = {}): TableArrowReport {
  const unit = parseProfileType(p.profileType).sampleUnit;
  const diffMode = opts.diff ?? p.base !== undefined;
  const diffs = diffMode ? diffValues(p, opts.absolute ?? false) : null;
  const { frames, stacks } = internStacks(p);
  const { ids: rowKey, count } = keyIds(
    frames,
    (f) => f.functionName,
    addressKey, // unsymbolized frames: one row per mapping + address
  );
  const rowOfKey = new Int32Array(count).fill(-1);
  const rows: Row[] = [];
  // Call edges as callee * count + caller over row ids.
  const edges = new Set<number>();
  for (let s = 0; s < stacks.length; s++) {
    const v = p.values[s];
    const d = diffs ? diffs[s] : 0;
    if (v === 0 && d === 0) continue;
    let previous = -1;
    const ids = stacks[s];
    for (let j = 0; j < ids.length; j++) {
      const k = rowKey[ids[j]];
      let r = rowOfKey[k];
      if (r === -1) {
        r = rows.length;
        rows.push({ frame: frames[ids[j]], cumulative: 0, flat: 0, diff: 0, flatDiff: 0, lastStack: -1 });
        rowOfKey[k] = r;
      }
      const row = rows[r];
      if (row.lastStack !== s) {
        row.lastStack = s;
        row.cumulative += v;
        row.diff += d;
      }
      if (j === 0) {
        row.flat += v;
        row.flatDiff += d;
      }
      // Walking from the leaf, the previous row is the callee of this one.
      if (previous !== -1) edges.add(previous * count + r);
      previous = r;
    }
  }
  const callers: Array<number[] | null> = new Array<number[] | null>(rows.length).fill(null);
  const callees: Array<number[] | null> = new Array<number[] | null>(rows.length).fill(null);
  for (const e of [...edges].sort((a, b) => a - b)) {
    const callee = Math.floor(e / count);
    const caller = e - callee * count;
    (callers[callee] ??= []).push(caller);
    (callees[caller] ??= []).push(callee);
  }

  const n = rows.length;
  const str = (pick: (f: Frame) => string, symbolizedOnly: boolean) =>
    rows.map(({ frame }) => (symbolizedOnly && frame.functionName === '' ? null : pick(frame) === '' ? null : pick(frame)));
  const distinct = (values: Array<string | null>) => new Set(values).size;
  const mappingFile = str((f) => f.mappingFile, false);
  const buildId = str((f) => f.buildId, false);
  const fnName = str((f) => f.functionName, true);
  const sysName = str((f) => f.systemName ?? f.functionName, true);
  const fileName = str((f) => f.fileName, true);
  const reason = rows.map(({ frame }) => (frame.functionName === '' ? (frame.unnamedReason ?? null) : null));
  const lineValid = Uint8Array.from(rows, ({ frame }) => (frame.functionName === '' ? 0 : 1));
  const address = BigUint64Array.from(rows, ({ frame }) => BigInt.asUintN(64, frame.address));

  const cols: Array<[string, Data, boolean?]> = [
    ['mapping_file', dictionaryColumn(mappingFile, 'utf8', uint16Unless(distinct(mappingFile)))],
    ['mapping_build_id', dictionaryColumn(buildId, 'utf8', uint16Unless(distinct(buildId)))],
    ['location_address', uint64BigColumn(address)],
    [
      'location_line',
      intColumn(
        new Int64(),
        rows.map(({ frame }) => frame.line),
        lineValid,
      ),
    ],
    // We carry no function start line; upstream writes null when it is not positive.
    ['function_startline', intColumn(new Int64(), new Float64Array(n), new Uint8Array(n))],
    ['function_name', dictionaryColumn(fnName, 'utf8', new Uint32())],
    ['function_system_name', dictionaryColumn(sysName, 'utf8', uint16Unless(distinct(sysName)))],
    ['function_file_name', dictionaryColumn(fileName, 'utf8', new Uint32())],
    [
      'cumulative',
      intColumn(
        new Int64(),
        rows.map((r) => r.cumulative),
      ),
    ],
    [
      'cumulative_diff',
      intColumn(
        new Int64(),
        rows.map((r) => r.diff),
        diffMode ? undefined : new Uint8Array(n),
      ),
      true,
    ],
    [
      'flat',
      intColumn(
        new Int64(),
        rows.map((r) => r.flat),
      ),
    ],
    [
      'flat_diff',
      intColumn(
        new Int64(),
        rows.map((r) => r.flatDiff),
      ),
    ],
    ['callers', listColumn(new Int64(), callers)],
    ['callees', listColumn(new Int64(), callees)],
    // Firn's addition (read by name, after upstream's columns): why a row has no function name.
    ['unnamed_reason', dictionaryColumn(reason, 'utf8', new Uint16()), true],
  ];
  return {
    record: ipcStream(
      cols.map(([name, d, nullable]) => new Field(name, d.type, nullable ?? false)),
      cols.map(([, d]) => d),
      n,
    ),
    unit,
    total: BigInt(Math.round(p.total)),
    filtered: 0n,
  };
}

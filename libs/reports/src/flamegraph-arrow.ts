import { FirnError } from '@firn/errors';
import { parseProfileType, type Frame } from '@firn/profiles';
import { Field, Int32, Int64, Uint32, Uint64, Uint8, type Data, type DataType } from 'apache-arrow';
import {
  boolColumn,
  dictionaryColumn,
  intColumn,
  ipcStream,
  listColumn,
  smallestSigned,
  smallestUnsigned,
  uint64BigColumn,
} from './arrow-build';
import { diffValues, internStacks, keyIds, sumValues } from './profile-input';
import type { StackProfile } from './stack-profile';

export interface FlamegraphArrowOptions {
  /**
   * QueryRequest.node_trim_threshold as sent, a PERCENTAGE (the Parca UI sends 100 / width in
   * pixels). Parca divides it by 100 and drops every child whose cumulative is not above that
   * fraction of its parent's cumulative. 0 or unset keeps every node with a non-zero value.
   */
  nodeTrimThreshold?: number;
  /**
   * QueryRequest.group_by.fields. Frames always merge by function name per level (unsymbolized
   * ones by address); `mapping_file`, `location_address` and `function_file_name` split them
   * further. `function_name` and `timestamp` add nothing here, `labels.*` is accepted and
   * ignored (a StackProfile carries no labels); anything else is invalid_argument, as upstream.
   */
  groupBy?: readonly string[];
  /** Fill the diff column with B - A (`values` - `base`); default: whether `base` is set. */
  diff?: boolean;
  /** DiffProfile.absolute: when false (Parca's default) the smaller side is scaled up first. */
  absolute?: boolean;
}

/** The fields of QueryResponse{flamegraph_arrow, total, filtered}. */
export interface FlamegraphArrowReport {
  /** Arrow IPC stream with one record batch; row 0 is the root. */
  record: Uint8Array;
  unit: string;
  /** Deepest stack in frames plus one for the root (before trimming). */
  height: number;
  /** Sum of the cumulative values of the nodes dropped by trimming. */
  trimmed: bigint;
  total: bigint;
  filtered: bigint;
}

const GROUP_BY_FIELDS = new Set(['function_name', 'function_file_name', 'location_address', 'mapping_file', 'timestamp']);

// Bits of a node's "differs between merged frames" mask: Parca nulls such metadata columns.
const NULL_MAPPING = 1;
const NULL_BUILD_ID = 2;
const NULL_ADDRESS = 4;
const NULL_INLINED = 8;
const NULL_LINE = 16;
const NULL_FILE = 32;

function checkGroupBy(groupBy: readonly string[]): void {
  for (const f of groupBy) {
    if (!GROUP_BY_FIELDS.has(f) && !f.startsWith('labels.')) throw FirnError.invalidArgument(`invalid group by field: ${f}`);
  }
}

const isUnsymbolized = (f: Frame): boolean => f.functionName === '';

/** The merge tree before trimming; node 0 is the root. */
interface Tree {
  frame: number[];
  parent: number[];
  depth: number[];
  cum: number[];
  flat: number[];
  diff: number[];
  nulls: number[];
  children: number[][];
  height: number;
}

function buildTree(p: StackProfile, frames: Frame[], stacks: Int32Array[], key: Int32Array, keyCount: number, diffs: Float64Array | null): Tree {
  const t: Tree = { frame: [-1], parent: [-1], depth: [0], cum: [sumValues(p.values)], flat: [0], diff: [0], nulls: [0], children: [[]], height: 0 };
  if (diffs) t.diff[0] = sumValues(diffs);
  const childOf = new Map<number, number>();
  for (let s = 0; s < stacks.length; s++) {
    const v = p.values[s];
    const d = diffs ? diffs[s] : 0;
    if (v === 0 && d === 0) continue;
    const ids = stacks[s];
    if (ids.length > t.height) t.height = ids.length;
    let parent = 0;
    // Stacks are leaf first; the tree grows root → leaf.
    for (let j = ids.length - 1; j >= 0; j--) {
      const fid = ids[j];
      const ck = parent * keyCount + key[fid];
      let node = childOf.get(ck);
      if (node === undefined) {
        node = t.frame.length;
        t.frame.push(fid);
        t.parent.push(parent);
        t.depth.push(t.depth[parent] + 1);
        t.cum.push(0);
        t.flat.push(0);
        t.diff.push(0);
        t.nulls.push(0);
        t.children.push([]);
        t.children[parent].push(node);
        childOf.set(ck, node);
      } else if (t.frame[node] !== fid && !isUnsymbolized(frames[fid])) {
        const a = frames[t.frame[node]];
        const b = frames[fid];
        let m = t.nulls[node];
        if (a.mappingFile !== b.mappingFile) m |= NULL_MAPPING;
        if (a.buildId !== b.buildId) m |= NULL_BUILD_ID;
        if (a.address !== b.address) m |= NULL_ADDRESS;
        if (a.inlined !== b.inlined) m |= NULL_INLINED;
        if (a.line !== b.line) m |= NULL_LINE;
        if (a.fileName !== b.fileName) m |= NULL_FILE;
        t.nulls[node] = m;
      }
      t.cum[node] += v;
      t.diff[node] += d;
      if (j === 0) t.flat[node] += v;
      parent = node;
    }
  }
  return t;
}

/** Trimmed nodes in breadth-first order, the row order Parca emits. */
interface Rows {
  node: number[];
  parent: number[];
  valueOffset: number[];
  children: number[][];
  rootCumulative: number;
  trimmed: number;
}

function trim(t: Tree, fraction: number): Rows {
  const r: Rows = { node: [], parent: [], valueOffset: [], children: [], rootCumulative: 0, trimmed: 0 };
  const qNode = [0];
  const qParent = [-1];
  const qOffset = [0];
  for (let h = 0; h < qNode.length; h++) {
    const node = qNode[h];
    const row = r.node.length;
    r.node.push(node);
    r.parent.push(qParent[h]);
    r.valueOffset.push(qOffset[h]);
    r.children.push([]);
    if (row !== 0) {
      r.children[qParent[h]].push(row);
      if (qParent[h] === 0) r.rootCumulative += t.cum[node];
    }
    // float32 arithmetic and truncation, exactly as upstream compares.
    const threshold = Math.trunc(Math.fround(Math.fround(t.cum[node]) * fraction));
    let offset = qOffset[h];
    for (const c of t.children[node]) {
      const v = t.cum[c];
      if (v > threshold) {
        qNode.push(c);
        qParent.push(row);
        qOffset.push(offset);
        offset += v;
      } else {
        r.trimmed += v;
      }
    }
  }
  return r;
}

function field(name: string, type: DataType, nullable = false): Field {
  return new Field(name, type, nullable);
}

/** The record Parca sends when no stack produced a node: root only, mostly null columns. */
function rootOnlyColumns(): { fields: Field[]; columns: Data[] } {
  const none = new Uint8Array(1);
  const cols: Array<[string, Data, boolean?]> = [
    ['labels_only', boolColumn([0], none)],
    ['location_address', uint64BigColumn(new BigUint64Array(1), none)],
    ['mapping_file', dictionaryColumn([null], 'binary', new Int32())],
    ['mapping_build_id', dictionaryColumn([null], 'binary', new Int32())],
    ['location_line', intColumn(new Uint8(), [0], none)],
    ['inlined', boolColumn([0]), true],
    ['function_startline', intColumn(new Uint8(), [0], none)],
    ['function_name', dictionaryColumn([null], 'binary', new Int32())],
    ['function_system_name', dictionaryColumn([null], 'binary', new Int32())],
    ['function_file_name', dictionaryColumn([null], 'binary', new Int32())],
    ['children', listColumn(new Uint32(), [null])],
    ['parent', intColumn(new Int32(), [-1])],
    ['cumulative', intColumn(new Uint64(), [0], none)],
    ['flat', intColumn(new Uint8(), [0], none)],
    ['diff', intColumn(new Uint8(), [0], none)],
    ['timestamp', intColumn(new Int64(), [0], none)],
    ['depth', intColumn(new Uint8(), [0], none)],
    ['value_offset', intColumn(new Uint8(), [0])],
  ];
  return { fields: cols.map(([n, d, nullable]) => field(n, d.type, nullable ?? false)), columns: cols.map(([, d]) => d) };
}

function rowColumns(t: Tree, frames: Frame[], r: Rows): { fields: Field[]; columns: Data[] } {
  const n = r.node.length;
  const labelsOnly = new Uint8Array(n);
  const valid = {
    labelsOnly: new Uint8Array(n),
    address: new Uint8Array(n),
    line: new Uint8Array(n),
    inlined: new Uint8Array(n),
    startLine: new Uint8Array(n),
  };
  const address = new BigUint64Array(n);
  const mappingFile: Array<string | null> = new Array<string | null>(n).fill(null);
  const buildId: Array<string | null> = new Array<string | null>(n).fill(null);
  const fnName: Array<string | null> = new Array<string | null>(n).fill(null);
  const fileName: Array<string | null> = new Array<string | null>(n).fill(null);
  const line = new Float64Array(n);
  const inlined = new Uint8Array(n);
  const cumulative = new Float64Array(n);
  const flat = new Float64Array(n);
  const diff = new Float64Array(n);
  const depth = new Float64Array(n);
  let maxLine = 0;
  let maxFlat = 0;
  let minDiff = 0;
  let maxDiff = 0;
  let maxDepth = 0;
  let maxCum = 0;
  valid.inlined[0] = 1; // the root row says inlined=false, not null
  const orNull = (s: string): string | null => (s === '' ? null : s);
  for (let i = 0; i < n; i++) {
    const node = r.node[i];
    cumulative[i] = i === 0 ? r.rootCumulative : t.cum[node];
    flat[i] = t.flat[node];
    diff[i] = t.diff[node];
    depth[i] = t.depth[node];
    if (t.cum[node] > maxCum) maxCum = t.cum[node];
    if (flat[i] > maxFlat) maxFlat = flat[i];
    if (diff[i] < minDiff) minDiff = diff[i];
    if (diff[i] > maxDiff) maxDiff = diff[i];
    if (depth[i] > maxDepth) maxDepth = depth[i];
    if (i === 0) continue;
    valid.labelsOnly[i] = 1;
    const f = frames[t.frame[node]];
    const nulls = t.nulls[node];
    if (!(nulls & NULL_ADDRESS)) {
      address[i] = BigInt.asUintN(64, f.address);
      valid.address[i] = 1;
    }
    if (!(nulls & NULL_MAPPING)) mappingFile[i] = orNull(f.mappingFile);
    if (!(nulls & NULL_BUILD_ID)) buildId[i] = orNull(f.buildId);
    if (!(nulls & NULL_INLINED)) valid.inlined[i] = 1;
    if (isUnsymbolized(f)) continue; // no line: function columns stay null, inlined false
    inlined[i] = f.inlined ? 1 : 0;
    fnName[i] = f.functionName;
    valid.startLine[i] = 1; // we know no start line; Parca writes 0 for symbolized rows
    if (!(nulls & NULL_FILE)) fileName[i] = orNull(f.fileName);
    if (!(nulls & NULL_LINE)) {
      line[i] = f.line;
      valid.line[i] = 1;
      if (f.line > maxLine) maxLine = f.line;
    }
  }
  const cols: Array<[string, Data, boolean?]> = [
    ['labels_only', boolColumn(labelsOnly, valid.labelsOnly)],
    ['location_address', uint64BigColumn(address, valid.address)],
    ['mapping_file', dictionaryColumn(mappingFile, 'binary')],
    ['mapping_build_id', dictionaryColumn(buildId, 'binary')],
    ['location_line', intColumn(smallestUnsigned(maxLine), line, valid.line)],
    ['inlined', boolColumn(inlined, valid.inlined), true],
    ['function_startline', intColumn(smallestUnsigned(0), new Float64Array(n), valid.startLine)],
    ['function_name', dictionaryColumn(fnName, 'binary')],
    ['function_system_name', dictionaryColumn(fnName, 'binary')],
    ['function_file_name', dictionaryColumn(fileName, 'binary')],
    ['children', listColumn(new Uint32(), r.children.map((c) => (c.length === 0 ? null : c)))],
    ['parent', intColumn(new Int32(), r.parent)],
    ['cumulative', intColumn(smallestUnsigned(r.rootCumulative), cumulative)],
    ['flat', intColumn(smallestUnsigned(maxFlat), flat)],
    ['diff', intColumn(smallestSigned(minDiff, maxDiff), diff)],
    ['timestamp', intColumn(new Int64(), new Float64Array(n))],
    ['depth', intColumn(smallestUnsigned(maxDepth), depth)],
    ['value_offset', intColumn(smallestUnsigned(maxCum), r.valueOffset)],
  ];
  return { fields: cols.map(([name, d, nullable]) => field(name, d.type, nullable ?? false)), columns: cols.map(([, d]) => d) };
}

/**
 * Renders Parca's FLAMEGRAPH_ARROW report (pkg/query/flamegraph_arrow.go): a merge tree keyed
 * per level by function name (unsymbolized frames by mapping + address), trimmed breadth
 * first, emitted in breadth-first order with Parca's column names, order and narrowest types.
 * See libs/reports/README.md for where we differ from upstream and why.
 */
export function flamegraphArrow(p: StackProfile, opts: FlamegraphArrowOptions = {}): FlamegraphArrowReport {
  const groupBy = opts.groupBy ?? [];
  checkGroupBy(groupBy);
  const unit = parseProfileType(p.profileType).sampleUnit;
  const byMapping = groupBy.includes('mapping_file');
  const byAddress = groupBy.includes('location_address');
  const byFile = groupBy.includes('function_file_name');

  const { frames, stacks } = internStacks(p);
  const { ids: key, count: keyCount } = keyIds(frames, (f) => {
    if (isUnsymbolized(f)) return `u\u0000${f.buildId}\u0000${f.mappingFile}\u0000${f.address}`;
    let k = `s\u0000${f.functionName}`;
    if (byMapping) k += `\u0000${f.mappingFile}`;
    if (byAddress) k += `\u0000${f.address}`;
    if (byFile) k += `\u0000${f.fileName}`;
    return k;
  });
  const diff = opts.diff ?? p.base !== undefined;
  const tree = buildTree(p, frames, stacks, key, Math.max(1, keyCount), diff ? diffValues(p, opts.absolute ?? false) : null);

  const threshold = opts.nodeTrimThreshold ? Math.fround(Math.fround(opts.nodeTrimThreshold) / 100) : 0;
  let trimmed = 0;
  let out: { fields: Field[]; columns: Data[] };
  let rows = 1;
  if (tree.frame.length > 1) {
    const r = trim(tree, threshold);
    trimmed = r.trimmed;
    rows = r.node.length;
    out = rowColumns(tree, frames, r);
  } else {
    out = rootOnlyColumns();
  }
  return {
    record: ipcStream(out.fields, out.columns, rows),
    unit,
    height: tree.height + 1,
    trimmed: BigInt(trimmed),
    total: BigInt(Math.round(p.total)),
    filtered: 0n,
  };
}

/** The record's column names in order (Parca's NewRecord order). */
export const FLAMEGRAPH_ARROW_COLUMNS = [
  'labels_only',
  'location_address',
  'mapping_file',
  'mapping_build_id',
  'location_line',
  'inlined',
  'function_startline',
  'function_name',
  'function_system_name',
  'function_file_name',
  'children',
  'parent',
  'cumulative',
  'flat',
  'diff',
  'timestamp',
  'depth',
  'value_offset',
] as const;

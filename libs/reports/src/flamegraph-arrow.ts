import { FirnError } from '@firn/errors';
import { parseProfileType, type Frame } from '@firn/profiles';
import { Field, Int32, Int64, Uint32, Uint64, Uint8, type Data, type DataType } from 'apache-arrow';
import {
  boolColumn,
  dictionaryColumn,
  DictionaryColumnBuilder,
  intColumn,
  ipcStream,
  flatListColumn,
  smallestSigned,
  smallestUnsigned,
  uint64BigColumn,
} from './arrow-build';
import { addressKey, diffValues, internStacks, keyIds, sumValues } from './profile-input';
import { kthSmallest, mergeTrie } from './tree-scratch';
import type { StackProfile } from './stack-profile';

export interface FlamegraphArrowOptions {
  /**
   * QueryRequest.node_trim_threshold as sent, a PERCENTAGE (the Parca UI sends 100 / width in
   * pixels). Parca divides it by 100 and drops every child whose cumulative is not above that
   * fraction of its parent's cumulative. 0 or unset keeps every node with a non-zero value.
   */
  nodeTrimThreshold?: number;
  /**
   * At most this many nodes besides the root (a per-tenant limit; Parca's request has no such
   * field). When the tree is larger, the nodes with the smallest cumulative values are dropped
   * like node_trim_threshold drops them: their parent keeps its full cumulative, the dropped
   * value is added to `trimmed`, and `total` is unchanged. Below 1 keeps every node.
   */
  maxNodes?: number;
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

/** The merge tree before trimming; node 0 is the root (a MergeTrie with the record's sums and metadata). */
interface Tree {
  size: number;
  /** The node's frame (its first stack's, see MergeTrie.frame); -1 for the root. */
  frame: Int32Array;
  depth: Int32Array;
  /** The node's first stack: with depth, the order nodes were made in (see MergeTrie.first). */
  first: Int32Array;
  cum: Float64Array;
  flat: Float64Array;
  diff: Float64Array;
  nulls: Uint8Array;
  childStart: Int32Array;
  childCount: Int32Array;
  height: number;
}

function buildTree(p: StackProfile, f: FrameColumns, stacks: Int32Array[], key: Int32Array, keyCount: number, diffs: Float64Array | null): Tree {
  const values = p.values;
  const trie = mergeTrie(stacks, key, keyCount, (s) => values[s] !== 0 || (diffs !== null && diffs[s] !== 0));
  const { size, parent, depth, first, leaf } = trie;
  // The arrays are the kept scratch's: every node's entries are set here, so nothing needs clearing.
  const frame = trie.frame;
  const [cum, flat, diff] = trie.scratch.float64;
  const nulls = trie.scratch.uint8;
  const words = f.addressWords;
  const t: Tree = { size, frame, depth, first, cum, flat, diff, nulls, childStart: trie.childStart, childCount: trie.childCount, height: 0 };
  cum.fill(0, 1, size);
  flat.fill(0, 0, size);
  diff.fill(0, 1, size);
  nulls.fill(0, 0, size);
  cum[0] = sumValues(values);
  diff[0] = diffs ? sumValues(diffs) : 0;
  // Sums stack by stack in stack order, each from its leaf up (as inserting stack by stack adds them).
  for (let s = 0; s < stacks.length; s++) {
    let node = leaf[s];
    if (node < 0) continue;
    const ids = stacks[s];
    if (ids.length > t.height) t.height = ids.length;
    const v = values[s];
    const d = diffs ? diffs[s] : 0;
    if (node > 0) flat[node] += v;
    for (let j = 0; node > 0; j++, node = parent[node]) {
      cum[node] += v;
      diff[node] += d;
      const fid = ids[j];
      const a = frame[node];
      if (fid !== a && f.named[fid] === 1) {
        // Frames merged under one key: Parca nulls the metadata they differ in.
        let m = nulls[node];
        if (f.mapping.ids[a] !== f.mapping.ids[fid]) m |= NULL_MAPPING;
        if (f.buildId.ids[a] !== f.buildId.ids[fid]) m |= NULL_BUILD_ID;
        if (words[2 * a] !== words[2 * fid] || words[2 * a + 1] !== words[2 * fid + 1]) m |= NULL_ADDRESS;
        if (f.inlined[a] !== f.inlined[fid]) m |= NULL_INLINED;
        if (f.line[a] !== f.line[fid]) m |= NULL_LINE;
        if (f.file.ids[a] !== f.file.ids[fid]) m |= NULL_FILE;
        nulls[node] = m;
      }
    }
  }
  return t;
}

/**
 * Trimmed nodes in breadth-first order, the row order Parca emits. The kept children of a row
 * are enqueued together, so they are the consecutive rows childStart .. childStart+childCount-1.
 */
interface Rows {
  count: number;
  node: Int32Array;
  parent: Int32Array;
  valueOffset: Float64Array;
  childStart: Int32Array;
  childCount: Int32Array;
  rootCumulative: number;
  trimmed: number;
}

/**
 * Which nodes the node cap keeps: the `max` largest by cumulative value, ties going to the
 * node made first. Parents are made before their children and are never smaller, so the kept set
 * is closed under "parent of" (the trim walk would also skip orphans). null = no cap needed.
 */
function keptByCap(t: Tree, max: number, stackCount: number): Uint8Array | null {
  const nodes = t.size - 1;
  if (max < 1 || nodes <= max) return null;
  // The smallest kept value: the (nodes - max)-th smallest (0-based), found without sorting.
  const kth = kthSmallest(Float64Array.from(t.cum.subarray(1, t.size)), nodes - max);
  let ties = max;
  for (let n = 1; n < t.size; n++) if (t.cum[n] > kth) ties--;
  const keep = new Uint8Array(t.size);
  keep[0] = 1;
  // Nodes worth kth in the order they were made: by first stack (a counting sort), then depth,
  // which is node order among nodes of one first stack (a parent is made before its children).
  const start = new Int32Array(stackCount + 1);
  for (let n = 1; n < t.size; n++) {
    const v = t.cum[n];
    if (v > kth) keep[n] = 1;
    else if (v === kth) start[t.first[n] + 1]++;
  }
  for (let s = 0; s < stackCount; s++) start[s + 1] += start[s];
  const tied = new Int32Array(start[stackCount]);
  for (let n = 1; n < t.size; n++) if (t.cum[n] === kth) tied[start[t.first[n]]++] = n;
  for (let i = 0; i < ties && i < tied.length; i++) keep[tied[i]] = 1;
  return keep;
}

/** Kept rows in breadth-first order; at most `maxRows` (the root and the node cap's nodes). */
function trim(t: Tree, fraction: number, keep: Uint8Array | null, maxRows: number): Rows {
  const cap = Math.min(t.size, maxRows);
  const r: Rows = {
    count: 1,
    node: new Int32Array(cap),
    parent: new Int32Array(cap),
    valueOffset: new Float64Array(cap),
    childStart: new Int32Array(cap),
    childCount: new Int32Array(cap),
    rootCumulative: 0,
    trimmed: 0,
  };
  r.parent[0] = -1;
  for (let row = 0; row < r.count; row++) {
    const node = r.node[row];
    // float32 arithmetic and truncation, exactly as upstream compares.
    const threshold = Math.trunc(Math.fround(Math.fround(t.cum[node]) * fraction));
    let offset = r.valueOffset[row];
    r.childStart[row] = r.count;
    for (let c = t.childStart[node], end = c + t.childCount[node]; c < end; c++) {
      const v = t.cum[c];
      if (v > threshold && (keep === null || keep[c] === 1)) {
        const child = r.count++;
        r.node[child] = c;
        r.parent[child] = row;
        r.valueOffset[child] = offset;
        offset += v;
        if (row === 0) r.rootCumulative += v;
      } else {
        r.trimmed += v;
      }
    }
    r.childCount[row] = r.count - r.childStart[row];
  }
  return r;
}

/** List<Uint32> children column: row i lists rows childStart[i] .. +childCount[i], null when none. */
function childrenColumn(r: Rows): Data {
  const n = r.count;
  const offsets = new Int32Array(n + 1);
  const valid = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    offsets[i + 1] = offsets[i] + r.childCount[i];
    if (r.childCount[i] > 0) valid[i] = 1;
  }
  const flat = new Uint32Array(offsets[n]);
  for (let i = 0, k = 0; i < n; i++) for (let j = 0; j < r.childCount[i]; j++) flat[k++] = r.childStart[i] + j;
  return flatListColumn(new Uint32(), flat, offsets, valid);
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
    ['children', flatListColumn(new Uint32(), new Uint32Array(0), new Int32Array(2), new Uint8Array(1))],
    ['parent', intColumn(new Int32(), [-1])],
    ['cumulative', intColumn(new Uint64(), [0], none)],
    ['flat', intColumn(new Uint8(), [0], none)],
    ['diff', intColumn(new Uint8(), [0], none)],
    ['timestamp', intColumn(new Int64(), [0], none)],
    ['depth', intColumn(new Uint8(), [0], none)],
    ['value_offset', intColumn(new Uint8(), [0])],
    ['unnamed_reason', dictionaryColumn([null], 'binary', new Int32())],
  ];
  return { fields: cols.map(([n, d, nullable]) => field(n, d.type, nullable ?? false)), columns: cols.map(([, d]) => d) };
}

/** One string column of the distinct frames: per frame the id of its value among the distinct values ('' → -1, shown as null). */
class StringIds {
  readonly ids: Int32Array;
  readonly values: string[] = [];
  private readonly seen = new Map<string, number>();

  constructor(n: number) {
    this.ids = new Int32Array(n);
  }

  set(i: number, v: string): void {
    if (v === '') {
      this.ids[i] = -1;
      return;
    }
    let id = this.seen.get(v);
    if (id === undefined) {
      id = this.values.push(v) - 1;
      this.seen.set(v, id);
    }
    this.ids[i] = id;
  }
}

/**
 * What rows read of the distinct frames, as columns indexed by frame id: each string interned
 * once among the distinct values, the rest as numbers, read in one pass per distinct frame. Rows
 * (one per node, many per frame) never load a property of a Frame, and the merge compares frames
 * through them.
 */
interface FrameColumns {
  mapping: { ids: Int32Array; values: string[] };
  buildId: { ids: Int32Array; values: string[] };
  fn: { ids: Int32Array; values: string[] };
  sys: { ids: Int32Array; values: string[] };
  file: { ids: Int32Array; values: string[] };
  reason: { ids: Int32Array; values: string[] };
  named: Uint8Array;
  inlined: Uint8Array;
  line: Float64Array;
  /** The address as two 32-bit words per frame (little-endian uint64). */
  addressWords: Uint32Array;
}

function frameColumns(frames: readonly Frame[]): FrameColumns {
  const n = frames.length;
  // Storing a BigInt into a BigUint64Array takes V8's slow path: once per distinct frame, and
  // rows copy its two 32-bit words.
  const address = new BigUint64Array(n);
  const mapping = new StringIds(n);
  const buildId = new StringIds(n);
  const fn = new StringIds(n);
  const sys = new StringIds(n);
  const file = new StringIds(n);
  const reason = new StringIds(n);
  const named = new Uint8Array(n);
  const inlined = new Uint8Array(n);
  const line = new Float64Array(n);
  // One pass, each property read once.
  for (let k = 0; k < n; k++) {
    const f = frames[k];
    const name = f.functionName;
    address[k] = f.address; // a uint64 already (checked when its stack key was made)
    mapping.set(k, f.mappingFile);
    buildId.set(k, f.buildId);
    fn.set(k, name);
    sys.set(k, f.systemName ?? name);
    file.set(k, f.fileName);
    reason.set(k, name === '' ? (f.unnamedReason ?? '') : ''); // unsymbolized frames only
    named[k] = name === '' ? 0 : 1;
    inlined[k] = f.inlined ? 1 : 0;
    line[k] = f.line;
  }
  return { mapping, buildId, fn, sys, file, reason, named, inlined, line, addressWords: new Uint32Array(address.buffer) };
}

function rowColumns(t: Tree, f: FrameColumns, r: Rows): { fields: Field[]; columns: Data[] } {
  const n = r.count;
  const labelsOnly = new Uint8Array(n);
  const valid = {
    labelsOnly: new Uint8Array(n),
    address: new Uint8Array(n),
    line: new Uint8Array(n),
    inlined: new Uint8Array(n),
    startLine: new Uint8Array(n),
  };
  const address = new BigUint64Array(n);
  const frameWords = f.addressWords;
  const addressWords = new Uint32Array(address.buffer);
  const { mapping: mappingIds, buildId: buildIds, fn: fnIds, sys: sysIds, file: fileIds, reason: reasonIds } = f;
  const frameNamed = f.named;
  const frameInlined = f.inlined;
  const frameLine = f.line;
  // Dictionary columns set as the rows go (a frame's id -1 is its '' value: null).
  const mappingFile = new DictionaryColumnBuilder(mappingIds.values, n);
  const buildId = new DictionaryColumnBuilder(buildIds.values, n);
  const fnName = new DictionaryColumnBuilder(fnIds.values, n);
  const sysName = new DictionaryColumnBuilder(sysIds.values, n);
  const fileName = new DictionaryColumnBuilder(fileIds.values, n);
  const reason = new DictionaryColumnBuilder(reasonIds.values, n);
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
    const fid = t.frame[node];
    const nulls = t.nulls[node];
    if (!(nulls & NULL_ADDRESS)) {
      addressWords[2 * i] = frameWords[2 * fid];
      addressWords[2 * i + 1] = frameWords[2 * fid + 1];
      valid.address[i] = 1;
    }
    if (!(nulls & NULL_MAPPING) && mappingIds.ids[fid] >= 0) mappingFile.set(i, mappingIds.ids[fid]);
    if (!(nulls & NULL_BUILD_ID) && buildIds.ids[fid] >= 0) buildId.set(i, buildIds.ids[fid]);
    if (!(nulls & NULL_INLINED)) valid.inlined[i] = 1;
    if (frameNamed[fid] === 0) {
      if (reasonIds.ids[fid] >= 0) reason.set(i, reasonIds.ids[fid]);
      continue; // no line: function columns stay null, inlined false
    }
    inlined[i] = frameInlined[fid];
    if (fnIds.ids[fid] >= 0) fnName.set(i, fnIds.ids[fid]);
    if (sysIds.ids[fid] >= 0) sysName.set(i, sysIds.ids[fid]);
    valid.startLine[i] = 1; // we know no start line; Parca writes 0 for symbolized rows
    if (!(nulls & NULL_FILE) && fileIds.ids[fid] >= 0) fileName.set(i, fileIds.ids[fid]);
    if (!(nulls & NULL_LINE)) {
      line[i] = frameLine[fid];
      valid.line[i] = 1;
      if (line[i] > maxLine) maxLine = line[i];
    }
  }
  const cols: Array<[string, Data, boolean?]> = [
    ['labels_only', boolColumn(labelsOnly, valid.labelsOnly)],
    ['location_address', uint64BigColumn(address, valid.address)],
    ['mapping_file', mappingFile.finish('binary')],
    ['mapping_build_id', buildId.finish('binary')],
    ['location_line', intColumn(smallestUnsigned(maxLine), line, valid.line)],
    ['inlined', boolColumn(inlined, valid.inlined), true],
    ['function_startline', intColumn(smallestUnsigned(0), new Float64Array(n), valid.startLine)],
    ['function_name', fnName.finish('binary')],
    ['function_system_name', sysName.finish('binary')],
    ['function_file_name', fileName.finish('binary')],
    ['children', childrenColumn(r)],
    ['parent', intColumn(new Int32(), r.parent.subarray(0, n))],
    ['cumulative', intColumn(smallestUnsigned(r.rootCumulative), cumulative)],
    ['flat', intColumn(smallestUnsigned(maxFlat), flat)],
    ['diff', intColumn(smallestSigned(minDiff, maxDiff), diff)],
    ['timestamp', intColumn(new Int64(), new Float64Array(n))],
    ['depth', intColumn(smallestUnsigned(maxDepth), depth)],
    ['value_offset', intColumn(smallestUnsigned(maxCum), r.valueOffset.subarray(0, n))],
    ['unnamed_reason', reason.finish('binary')],
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
  const { ids: key, count: keyCount } = keyIds(
    frames,
    (f) => {
      let k = f.functionName;
      if (byMapping) k += `\u0000${f.mappingFile}`;
      if (byAddress) k += `\u0000${f.address}`;
      if (byFile) k += `\u0000${f.fileName}`;
      return k;
    },
    addressKey, // unsymbolized frames merge by mapping + address
    `parca-flamegraph:${byMapping}:${byAddress}:${byFile}`,
  );
  const diff = opts.diff ?? p.base !== undefined;
  const columns = frameColumns(frames);
  const tree = buildTree(p, columns, stacks, key, keyCount, diff ? diffValues(p, opts.absolute ?? false) : null);

  const threshold = opts.nodeTrimThreshold ? Math.fround(Math.fround(opts.nodeTrimThreshold) / 100) : 0;
  let trimmed = 0;
  let out: { fields: Field[]; columns: Data[] };
  let rows = 1;
  if (tree.size > 1) {
    const maxNodes = opts.maxNodes ?? 0;
    const keep = keptByCap(tree, maxNodes, stacks.length);
    const r = trim(tree, threshold, keep, keep ? maxNodes + 1 : tree.size);
    trimmed = r.trimmed;
    rows = r.count;
    out = rowColumns(tree, columns, r);
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

/**
 * The record's column names in order: Parca's NewRecord order, then Firn's `unnamed_reason` (why
 * a row without a function name has none; null on named rows; see UnnamedReason in
 * @firn/profiles). Clients read columns by name (Parca's UI, Grafana), so the extra last column
 * changes nothing for them.
 */
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
  'unnamed_reason',
] as const;

import { FirnError } from '@firn/errors';
import { FrameTable } from './frame-table';
import { labelsKey, normalizeLabels, type Label, type LabelLimits, DEFAULT_LABEL_LIMITS } from './labels';

/** One frame; pprof inline lines become several frames. */
export interface Frame {
  /** '' when unknown; lowercase hex for GNU build ids. */
  buildId: string;
  /** '' when unknown. */
  mappingFile: string;
  /** File-relative address as the agent reports it; 0n when unknown. */
  address: bigint;
  /** '' when unsymbolized. */
  functionName: string;
  fileName: string;
  /** 0 when unknown. */
  line: number;
  /** true for all but the last (outermost) line of a pprof location. */
  inlined: boolean;
  /**
   * The raw (mangled) linker name when `functionName` was demangled for display, set at query
   * time only (`symbolize` in @firn/query): storage and the wire carry the raw name as
   * `functionName`, so the APIs can answer both (`name`, `system_name`).
   */
  systemName?: string;
  /**
   * Why `functionName` is empty, set at query time only (`symbolize` in @firn/query) and never
   * part of a grouping key: reports show it beside the address (see UnnamedReason).
   */
  unnamedReason?: UnnamedReason;
}

/**
 * A copy of `f` with `changes` applied (an undefined change keeps `f`'s value), made as one object
 * literal in one field order, the optional fields added after it. Copies made by spreading
 * (`{ ...f, unnamedReason }`) each got a hidden class of their own in V8 (Node 20): a merged
 * profile's 15 k explained frames had 15 k shapes, and every report's read of a frame property
 * took the megamorphic path (a flame graph's per-frame columns 36 ms instead of 5.6). Copies made here share
 * at most four shapes.
 */
export function frameWith(f: Frame, changes: Partial<Frame>): Frame {
  const copy: Frame = {
    buildId: changes.buildId ?? f.buildId,
    mappingFile: changes.mappingFile ?? f.mappingFile,
    address: changes.address ?? f.address,
    functionName: changes.functionName ?? f.functionName,
    fileName: changes.fileName ?? f.fileName,
    line: changes.line ?? f.line,
    inlined: changes.inlined ?? f.inlined,
  };
  const systemName = changes.systemName ?? f.systemName;
  if (systemName !== undefined) copy.systemName = systemName;
  const unnamedReason = changes.unnamedReason ?? f.unnamedReason;
  if (unnamedReason !== undefined) copy.unnamedReason = unnamedReason;
  return copy;
}

/**
 * Why a frame has no function name, as the query APIs report it (bounded values):
 * - `no_debuginfo`: no debug info for the build id was uploaded or found on a debuginfod server;
 * - `unknown_format`: debug info was found but could not be read;
 * - `no_symbol`: the debug info or symbol table was read and nothing covers the address (e.g. a
 *   library that keeps only `.dynsym`, whose internal functions have no symbol);
 * - `outside_code`: the address is in no executable segment of the file;
 * - `unsupported_go_table`: a Go binary whose `.gopclntab` layout is not read (Go ≤ 1.15);
 * - `pending`: the symbolizer has not answered for this address yet (queued, or not running);
 * - `symbol_cache_unavailable`: the symbol cache could not be read for this query;
 * - `not_symbolized`: this server symbolizes nothing (no symbol resolver configured);
 * - `no_build_id`: the mapped file has no id to look debug info up by (e.g. `[vdso]`);
 * - `no_perf_map`: JIT code (anonymous executable memory) without a perf map entry;
 * - `no_mapping`: the address is outside every mapping (e.g. a frame-pointer walk through code
 *   built without frame pointers ended in garbage);
 * - `kallsyms_restricted`: a kernel frame the agent could not name (kallsyms hidden from it).
 */
export type UnnamedReason =
  | 'no_debuginfo'
  | 'unknown_format'
  | 'no_symbol'
  | 'outside_code'
  | 'unsupported_go_table'
  | 'pending'
  | 'symbol_cache_unavailable'
  | 'not_symbolized'
  | 'no_build_id'
  | 'no_perf_map'
  | 'no_mapping'
  | 'kallsyms_restricted';

/** The values of UnnamedReason, for validating what a cache entry says. */
export const UNNAMED_REASONS: readonly UnnamedReason[] = [
  'no_debuginfo',
  'unknown_format',
  'no_symbol',
  'outside_code',
  'unsupported_go_table',
  'pending',
  'symbol_cache_unavailable',
  'not_symbolized',
  'no_build_id',
  'no_perf_map',
  'no_mapping',
  'kallsyms_restricted',
];

/** Columnar samples, dictionary-encoded profile types, series and stacks. */
export interface SampleBatch {
  /** Dictionary of formatted profile type ids. */
  profileTypes: string[];
  /** Dictionary of label sets, each sorted by name, no duplicate names, no empty values. */
  series: Array<Array<[string, string]>>;
  /** Dictionary of stacks, LEAF FIRST; identical stacks appear once. */
  stacks: Frame[][];
  profileType: Uint32Array;
  seriesIdx: Uint32Array;
  stack: Uint32Array;
  /** Integer values (exact below 2^53), > 0. */
  value: Float64Array;
  /** Integer milliseconds since the epoch. */
  timestampMs: Float64Array;
  /** Window the value covers, ns (0 when unknown). */
  durationNs: Float64Array;
  /** Sampling period in period units; 0 if unknown. */
  periodNs: Float64Array;
  length: number;
  /**
   * Span profiles: dictionary of span ids (16 lowercase hex digits; index 0 is '', no span) and
   * each row's index into it. Present only when some row belongs to a span. The span is not a
   * series label (one series per span id would explode cardinality), but rows of different spans
   * are never summed together.
   */
  spans?: string[];
  span?: Uint32Array;
}

const SPAN_ID = /^[0-9a-f]{16}$/;

/** A span id as stored: 16 lowercase hex digits (Pyroscope's 64-bit span id). */
export function isSpanId(s: string): boolean {
  return SPAN_ID.test(s);
}

export interface SampleBatchBuilderOptions {
  labelLimits?: LabelLimits;
  initialCapacity?: number;
  /**
   * Most distinct label sets; one more fails with invalid_argument (limit
   * max_series_per_request) as it is added, so a decoder never holds more. Default: unbounded.
   */
  maxSeries?: number;
  /**
   * Most frames over all distinct stacks (the stack table's size); one more fails with
   * invalid_argument (limit max_stack_frames_per_request). Default: unbounded.
   */
  maxStackFrames?: number;
  /**
   * Stacks are added only through `addStackByIds`, with frame ids in the caller's own numbering
   * (e.g. a process-wide interner), or only through `addKeyedStack`, not this builder's: the
   * built batch then carries no frame table, and encoders read its Frame objects.
   */
  callerFrameIds?: boolean;
}

function frameString(f: Frame): string {
  return `${f.buildId}\u0000${f.mappingFile}\u0000${f.address}\u0000${f.functionName}\u0000${f.fileName}\u0000${f.line}\u0000${f.inlined ? 1 : 0}`;
}

const EMPTY_SLOT = -1;
const TWO_32 = 4294967296;
const TWO_53 = 2 ** 53;
const TWO_63 = 2 ** 63;

/**
 * The frames of a built batch as its builder holds them: strings interned once, addresses as
 * 32-bit halves, frames by id and stacks as arrays of frame ids. The Arrow encoder builds its
 * frame and stack dictionaries from these instead of comparing Frame objects by content.
 * Valid until the batch's `stacks` is assigned or grown (a batch whose stacks were replaced, or
 * whose frames were changed, which the builder forbids, is encoded from its Frame objects).
 */
export interface BuilderFrames {
  readonly strings: readonly string[];
  readonly buildId: Int32Array;
  readonly mappingFile: Int32Array;
  readonly functionName: Int32Array;
  readonly fileName: Int32Array;
  readonly addressLo: Uint32Array;
  readonly addressHi: Uint32Array;
  readonly line: Float64Array;
  readonly inlined: Uint8Array;
  /** Stack s is frame ids `ids[stackOffsets[s] .. stackOffsets[s + 1])`. */
  readonly stackOffsets: Int32Array;
  readonly ids: Int32Array;
}

/** A built batch's frame table and what became of its `stacks` (made on first read, or replaced). */
interface BatchFrames extends BuilderFrames {
  readonly table: FrameTable;
  /** The batch's Frame arrays: stack s's where the builder was given one, all once `stacks` was read. */
  readonly stacks: Array<Frame[] | undefined>;
  /** `stacks` was read: every entry is made. */
  complete: boolean;
  /** `stacks` was assigned: the table no longer describes it. */
  replaced: boolean;
}

/**
 * Where a built batch keeps its frame table: a non-enumerable property, so copies (`{ ...batch }`)
 * and comparisons do not see it. (A WeakMap from batch to table measured slower than the whole
 * saving: its entries made every garbage collection of short-lived batches expensive.)
 */
const BUILDER_FRAMES = Symbol('firn.builderFrames');

/**
 * The frame table `SampleBatchBuilder.build` made for `batch`, if it still describes the batch's
 * stacks. Reading it does not make the batch's Frame arrays.
 */
export function builderFramesOf(batch: SampleBatch): BuilderFrames | undefined {
  const t = (batch as { [BUILDER_FRAMES]?: BatchFrames })[BUILDER_FRAMES];
  return t !== undefined && !t.replaced && t.stacks.length === t.stackOffsets.length - 1 ? t : undefined;
}

/**
 * A built batch's `stacks`: its Frame arrays, made when first read (a stack added by frame ids
 * only has none until then). Assigning `stacks` replaces it as on any object, and the frame
 * table then no longer applies. One descriptor for every batch: an accessor is part of an
 * object's hidden class, so closures per batch would give each batch a class of its own.
 */
const LAZY_STACKS: PropertyDescriptor = {
  enumerable: true,
  configurable: true,
  get(this: { [BUILDER_FRAMES]: BatchFrames }): Frame[][] {
    const t = this[BUILDER_FRAMES];
    if (!t.complete) {
      fillStacks(t.stacks, t.stackOffsets, t.ids, t.table);
      t.complete = true;
    }
    return t.stacks as Frame[][];
  },
  set(this: { [BUILDER_FRAMES]: BatchFrames }, value: Frame[][]): void {
    this[BUILDER_FRAMES].replaced = true;
    Object.defineProperty(this, 'stacks', { value, enumerable: true, configurable: true, writable: true });
  },
};

/** Makes each missing stack of `stacks` from its frame ids (`ids[offsets[s] .. offsets[s + 1])`), in place. */
function fillStacks(stacks: Array<Frame[] | undefined>, offsets: ArrayLike<number>, ids: Int32Array, table: FrameTable): void {
  for (let s = 0; s < stacks.length; s++) {
    if (stacks[s] !== undefined) continue;
    const start = offsets[s];
    const frames = new Array<Frame>(offsets[s + 1] - start);
    for (let i = 0; i < frames.length; i++) frames[i] = table.frame(ids[start + i]);
    stacks[s] = frames;
  }
}

function rowHash(profileType: number, series: number, stack: number, ts: number, span: number): number {
  let h = Math.imul(profileType ^ 0x9e3779b9 ^ Math.imul(span, 0x27d4eb2f), 0x85ebca6b);
  h = Math.imul(h ^ series ^ (h >>> 13), 0xc2b2ae35);
  h = Math.imul(h ^ stack ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (ts >>> 0) ^ (h >>> 13), 0xc2b2ae35);
  h = Math.imul(h ^ (Math.floor(ts / 4294967296) | 0) ^ (h >>> 16), 0x27d4eb2f);
  return h ^ (h >>> 15);
}

/**
 * Accumulates rows into a SampleBatch. Dictionaries dedupe profile types, series and stacks;
 * rows with value 0 are dropped; rows with the same (profile type, series, stack, timestamp)
 * are summed (the first row's duration and period are kept).
 *
 * Hot-path callers intern once (`addProfileType`, `addSeries`, `addStack`) and then call
 * `addRow` with the indexes; `add` is the convenient form. Stacks and frames passed in are kept
 * by reference: do not mutate them afterwards.
 */
export class SampleBatchBuilder {
  private readonly labelLimits: LabelLimits;
  private readonly maxSeries: number;
  private readonly maxStackFrames: number;
  private readonly callerFrameIds: boolean;
  private readonly profileTypes: string[] = [];
  private readonly profileTypeIdx = new Map<string, number>();
  private readonly series: Label[][] = [];
  private readonly seriesIdxByKey = new Map<string, number>();
  // A stack added by frame ids only has no Frame array until a built batch's `stacks` is read.
  private readonly stacks: Array<Frame[] | undefined> = [];
  // Stack interning: frame ids per stack plus an open-addressing table over their hash. These
  // and the frame table are made on first use: a decoder whose stacks come keyed (the Arrow
  // decoders, `addKeyedStack`) never uses them, and a request is often a few hundred rows.
  private idPool = new Int32Array(0);
  private idPoolUsed = 0;
  // Stack s is ids `idPool[stackOffsets[s] .. stackOffsets[s + 1])`.
  private readonly stackOffsets: number[] = [0];
  private readonly stackHashes: number[] = [];
  private stackSlots = new Int32Array(0);
  private scratch = new Int32Array(0);
  // Stacks added by addKeyedStack: builder index by the caller's stack id, the ids by index, and their frames.
  private stackByKey: Map<number, number> | undefined;
  private readonly stackKeys: number[] = [];
  private keyedFrames = 0;
  // Frames: identity first (addStack callers usually share frame objects), then content, by
  // numbers in a FrameTable (no per-frame key strings).
  private readonly frameIds = new Map<Frame, number>();
  private frameTable: FrameTable | undefined;
  // Frames whose address or line the table cannot hold exactly (negative or ≥ 2^64 addresses,
  // fractional lines): interned by content string; their batches are encoded from Frame objects.
  private odd: Map<string, number> | undefined;

  private cap: number;
  private n = 0;
  private colProfileType: Uint32Array;
  private colSeries: Uint32Array;
  private colStack: Uint32Array;
  private colValue: Float64Array;
  private colTs: Float64Array;
  private colDuration: Float64Array;
  private colPeriod: Float64Array;
  private colSpan: Uint32Array;
  private readonly spans: string[] = [''];
  private readonly spanIdx = new Map<string, number>([['', 0]]);
  // Open-addressing hash table of row indexes keyed by (profile type, series, stack, ts).
  private slots: Int32Array;
  private slotMask: number;

  constructor(opts: SampleBatchBuilderOptions = {}) {
    this.labelLimits = opts.labelLimits ?? DEFAULT_LABEL_LIMITS;
    this.maxSeries = opts.maxSeries ?? Infinity;
    this.maxStackFrames = opts.maxStackFrames ?? Infinity;
    this.callerFrameIds = opts.callerFrameIds ?? false;
    this.cap = Math.max(16, opts.initialCapacity ?? 1024);
    this.colProfileType = new Uint32Array(this.cap);
    this.colSeries = new Uint32Array(this.cap);
    this.colStack = new Uint32Array(this.cap);
    this.colValue = new Float64Array(this.cap);
    this.colTs = new Float64Array(this.cap);
    this.colDuration = new Float64Array(this.cap);
    this.colPeriod = new Float64Array(this.cap);
    this.colSpan = new Uint32Array(this.cap);
    let slotCount = 16;
    while (slotCount < this.cap * 2) slotCount *= 2;
    this.slots = new Int32Array(slotCount).fill(EMPTY_SLOT);
    this.slotMask = slotCount - 1;
  }

  /** Rows so far (after dedup). */
  get length(): number {
    return this.n;
  }

  private get table(): FrameTable {
    return (this.frameTable ??= new FrameTable());
  }

  get stackCount(): number {
    return this.stacks.length;
  }

  addProfileType(profileType: string): number {
    let i = this.profileTypeIdx.get(profileType);
    if (i === undefined) {
      i = this.profileTypes.length;
      this.profileTypes.push(profileType);
      this.profileTypeIdx.set(profileType, i);
    }
    return i;
  }

  /** Validates (invalid_argument on bad labels), sorts, drops empty values, interns. */
  addSeries(labels: ReadonlyArray<readonly [string, string]>): number {
    const norm = normalizeLabels(labels, this.labelLimits);
    const key = labelsKey(norm);
    let i = this.seriesIdxByKey.get(key);
    if (i === undefined) {
      if (this.series.length >= this.maxSeries) {
        throw FirnError.invalidArgument(`more than ${this.maxSeries} series (distinct label sets) in one request`, { limit: 'max_series_per_request' });
      }
      i = this.series.length;
      this.series.push(norm);
      this.seriesIdxByKey.set(key, i);
    }
    return i;
  }

  /** Interns a leaf-first stack. */
  addStack(frames: Frame[]): number {
    const n = frames.length;
    if (this.scratch.length < n) this.scratch = new Int32Array(Math.max(n, this.scratch.length * 2, 256));
    const ids = this.scratch;
    for (let i = 0; i < n; i++) {
      const f = frames[i];
      let id = this.frameIds.get(f);
      if (id === undefined) {
        id = this.internFrame(f);
        this.frameIds.set(f, id);
      }
      ids[i] = id;
    }
    return this.addStackByIds(frames, ids);
  }

  /**
   * Interns a span id (16 lowercase hex digits; '' = no span) for addRow; invalid_argument for
   * anything else (decoders normalize with normalizeSpanId first).
   */
  addSpan(spanId: string): number {
    let i = this.spanIdx.get(spanId);
    if (i === undefined) {
      if (!isSpanId(spanId)) throw FirnError.invalidArgument(`span id ${JSON.stringify(spanId.slice(0, 40))} is not 16 lowercase hex digits`);
      i = this.spans.length;
      this.spans.push(spanId);
      this.spanIdx.set(spanId, i);
    }
    return i;
  }

  /** Frame id for `addStackByIds` (frames with equal content get equal ids). */
  internFrame(f: Frame): number {
    const a = f.address;
    let lo: number;
    let hi: number;
    // Number(a) < 2^53 exactly when a < 2^53 (rounding is monotonic): one conversion, no BigInt math.
    const n = Number(a);
    if (n >= 0 && n < TWO_53) {
      lo = n % TWO_32;
      hi = (n - lo) / TWO_32;
    } else if (a >= 0n && a < 18446744073709551616n) {
      lo = Number(a & 0xffffffffn);
      hi = Number(a >> 32n);
    } else {
      return this.oddFrameId(f);
    }
    const line = f.line;
    if (!(Number.isInteger(line) && Math.abs(line) < TWO_63)) return this.oddFrameId(f);
    const t = this.table;
    return t.id(t.stringId(f.buildId), t.stringId(f.mappingFile), t.stringId(f.functionName), t.stringId(f.fileName), lo, hi, line, f.inlined, f);
  }

  /**
   * Makes room for `n` more distinct frames at once (a decoder that knows its symbol table's
   * size), instead of growing the frame table by doubling while it interns them.
   */
  reserveFrames(n: number): void {
    this.table.reserve(n);
  }

  /** Id of a string for `internFrameFields` (equal strings, equal ids). */
  internString(s: string): number {
    return this.table.stringId(s);
  }

  /**
   * Frame id of the frame with these fields, for decoders that read frames without building
   * them: strings by `internString` id, the address as its low and high 32 bits, `line` an
   * integer of magnitude below 2^63. The builder makes the Frame object (once per distinct frame).
   */
  internFrameFields(
    buildId: number,
    mappingFile: number,
    addressLo: number,
    addressHi: number,
    functionName: number,
    fileName: number,
    line: number,
    inlined: boolean,
  ): number {
    return this.table.id(buildId, mappingFile, functionName, fileName, addressLo, addressHi, line, inlined);
  }

  /** The string of `internString` id `id`. */
  stringAt(id: number): string {
    return this.table.strings[id];
  }

  /** A frame the table cannot hold exactly: its own id, by content string. */
  private oddFrameId(f: Frame): number {
    this.odd ??= new Map();
    const key = frameString(f);
    let id = this.odd.get(key);
    if (id === undefined) {
      id = this.table.addUnindexed(f);
      this.odd.set(key, id);
    }
    return id;
  }

  /**
   * Interns a leaf-first stack given only its frame ids (`ids[0..n)`): its Frame array is made
   * only if a built batch's `stacks` is read.
   */
  addStackOfIds(ids: Int32Array, n: number): number {
    return this.addStackByIds(undefined, ids, n);
  }

  /**
   * For a decoder whose stacks are interned already (a process-wide FrameInterner): `key` is the
   * stack's id there (equal stacks, equal keys; different stacks, different keys) and `frames`
   * its shared array. Found again by key, without hashing its frames a second time. Every stack
   * of such a builder comes through here (made with `callerFrameIds`; no frame table is built).
   */
  addKeyedStack(key: number, frames: Frame[]): number {
    const byKey = (this.stackByKey ??= new Map());
    let idx = byKey.get(key);
    if (idx === undefined) {
      const n = frames.length;
      if (this.keyedFrames + n > this.maxStackFrames) {
        throw FirnError.invalidArgument(`the distinct stacks of one request hold more than ${this.maxStackFrames} frames`, {
          limit: 'max_stack_frames_per_request',
        });
      }
      this.keyedFrames += n;
      idx = this.stacks.push(frames) - 1;
      this.stackKeys.push(key);
      byKey.set(key, idx);
    }
    return idx;
  }

  /** The `addKeyedStack` key of each stack, by stack index (what a built batch's `stacks[i]` was added as). */
  keyedStackIds(): Int32Array {
    return Int32Array.from(this.stackKeys);
  }

  /**
   * Fast path for decoders that cache frame ids: `ids[i]` must be `internFrame(frames[i])`
   * for i < frames.length (extra entries are ignored), or, if every stack of this builder is
   * added here and the builder was made with `callerFrameIds`, ids from the caller's own
   * numbering in which equal frames have equal ids.
   */
  addStackByIds(frames: Frame[] | undefined, ids: Int32Array, count?: number): number {
    const n = frames ? frames.length : (count as number);
    let h = 0x811c9dc5 ^ n;
    for (let i = 0; i < n; i++) h = Math.imul(h ^ ids[i], 0x01000193);
    h ^= h >>> 16;
    if (this.stackSlots.length === 0) this.stackSlots = new Int32Array(1024).fill(EMPTY_SLOT);
    const slots = this.stackSlots;
    const mask = slots.length - 1;
    let s = h & mask;
    const offsets = this.stackOffsets;
    for (;;) {
      const si = slots[s];
      if (si === EMPTY_SLOT) break;
      const start = offsets[si];
      if (offsets[si + 1] - start === n) {
        let same = true;
        const pool = this.idPool;
        for (let i = 0; i < n; i++) {
          if (pool[start + i] !== ids[i]) {
            same = false;
            break;
          }
        }
        if (same) return si;
      }
      s = (s + 1) & mask;
    }
    if (this.idPoolUsed + n > this.maxStackFrames) {
      throw FirnError.invalidArgument(`the distinct stacks of one request hold more than ${this.maxStackFrames} frames`, {
        limit: 'max_stack_frames_per_request',
      });
    }
    const idx = this.stacks.length;
    this.stacks.push(frames);
    if (this.idPoolUsed + n > this.idPool.length) {
      const pool = new Int32Array(Math.max(this.idPool.length * 2, this.idPoolUsed + n, 4096));
      pool.set(this.idPool.subarray(0, this.idPoolUsed));
      this.idPool = pool;
    }
    this.idPool.set(ids.subarray(0, n), this.idPoolUsed);
    this.idPoolUsed += n;
    offsets.push(this.idPoolUsed);
    this.stackHashes.push(h);
    if ((idx + 1) * 2 > slots.length) this.growStackSlots();
    else slots[s] = idx;
    return idx;
  }

  private growStackSlots(): void {
    const slots = new Int32Array(this.stackSlots.length * 2).fill(EMPTY_SLOT);
    const mask = slots.length - 1;
    for (let i = 0; i < this.stackHashes.length; i++) {
      let s = this.stackHashes[i] & mask;
      while (slots[s] !== EMPTY_SLOT) s = (s + 1) & mask;
      slots[s] = i;
    }
    this.stackSlots = slots;
  }

  /**
   * Adds one row by dictionary indexes. `value` must be a non-negative safe integer
   * (invalid_argument otherwise); 0 is dropped. `span` comes from addSpan (0 = no span).
   */
  addRow(profileType: number, series: number, stack: number, value: number, tsMs: number, durationNs: number, periodNs: number, span = 0): void {
    if (!(value >= 0 && value <= Number.MAX_SAFE_INTEGER && Number.isInteger(value))) {
      throw FirnError.invalidArgument(`sample value ${value} is not a non-negative integer below 2^53`);
    }
    if (value === 0) return;
    if (!Number.isSafeInteger(tsMs)) throw FirnError.invalidArgument(`sample timestamp ${tsMs} is not an integer millisecond value`);
    const ts = tsMs;
    const h = rowHash(profileType, series, stack, ts, span);
    const slots = this.slots;
    let s = h & this.slotMask;
    for (;;) {
      const r = slots[s];
      if (r === EMPTY_SLOT) break;
      if (
        this.colStack[r] === stack &&
        this.colTs[r] === ts &&
        this.colSeries[r] === series &&
        this.colProfileType[r] === profileType &&
        this.colSpan[r] === span
      ) {
        this.colValue[r] += value;
        return;
      }
      s = (s + 1) & this.slotMask;
    }
    if (this.n === this.cap) {
      this.grow();
      this.insertSlot(this.n, h);
    } else {
      slots[s] = this.n;
    }
    const r = this.n++;
    this.colProfileType[r] = profileType;
    this.colSeries[r] = series;
    this.colStack[r] = stack;
    this.colValue[r] = value;
    this.colTs[r] = ts;
    this.colDuration[r] = durationNs;
    this.colPeriod[r] = periodNs;
    this.colSpan[r] = span;
  }

  /** Convenience form of addRow that interns everything (slower). */
  add(
    profileType: string,
    labels: ReadonlyArray<readonly [string, string]>,
    frames: Frame[],
    value: number,
    tsMs: number,
    durationNs: number,
    periodNs: number,
    spanId = '',
  ): void {
    if (value === 0) return;
    this.addRow(this.addProfileType(profileType), this.addSeries(labels), this.addStack(frames), value, tsMs, durationNs, periodNs, this.addSpan(spanId));
  }

  /** Adds every row of a batch (used by concatBatches). */
  addBatch(b: SampleBatch): void {
    const pt = b.profileTypes.map((t) => this.addProfileType(t));
    const se = b.series.map((l) => this.addSeries(l));
    const st = b.stacks.map((f) => this.addStack(f));
    const sp = b.spans && b.span ? b.spans.map((id) => this.addSpan(id)) : undefined;
    for (let i = 0; i < b.length; i++) {
      this.addRow(
        pt[b.profileType[i]],
        se[b.seriesIdx[i]],
        st[b.stack[i]],
        b.value[i],
        b.timestampMs[i],
        b.durationNs[i],
        b.periodNs[i],
        sp ? sp[(b.span as Uint32Array)[i]] : 0,
      );
    }
  }

  /**
   * Rows, series and timestamps so far, for a caller that only checks them (no batch is built:
   * `timestampMs` is a view, valid until the next row is added).
   */
  shape(): Pick<SampleBatch, 'length' | 'series' | 'timestampMs'> {
    return { length: this.n, series: this.series.slice(), timestampMs: this.colTs.subarray(0, this.n) };
  }

  build(): SampleBatch {
    const n = this.n;
    const spans = this.spans.length > 1 ? { spans: this.spans.slice(), span: this.colSpan.slice(0, n) } : {};
    const given = this.stacks.slice();
    const batch = {
      ...spans,
      profileTypes: this.profileTypes.slice(),
      series: this.series.slice(),
      profileType: this.colProfileType.slice(0, n),
      seriesIdx: this.colSeries.slice(0, n),
      stack: this.colStack.slice(0, n),
      value: this.colValue.slice(0, n),
      timestampMs: this.colTs.slice(0, n),
      durationNs: this.colDuration.slice(0, n),
      periodNs: this.colPeriod.slice(0, n),
      length: n,
    } as SampleBatch;
    const ids = this.idPool.subarray(0, this.idPoolUsed);
    // The frame table describes the stacks only if their ids are this builder's own, all of them.
    if (this.odd === undefined && !this.callerFrameIds && this.stackOffsets.length === given.length + 1) {
      // Views, not copies: the builder only ever appends past what this batch sees.
      const t = this.table;
      const nf = t.size;
      const frames: BatchFrames = {
        strings: t.strings,
        buildId: t.buildId.subarray(0, nf),
        mappingFile: t.mappingFile.subarray(0, nf),
        functionName: t.functionName.subarray(0, nf),
        fileName: t.fileName.subarray(0, nf),
        addressLo: t.addressLo.subarray(0, nf),
        addressHi: t.addressHi.subarray(0, nf),
        line: t.line.subarray(0, nf),
        inlined: t.inlined.subarray(0, nf),
        stackOffsets: Int32Array.from(this.stackOffsets),
        ids,
        table: t,
        stacks: given,
        complete: false,
        replaced: false,
      };
      Object.defineProperty(batch, BUILDER_FRAMES, { value: frames });
      Object.defineProperty(batch, 'stacks', LAZY_STACKS);
    } else {
      // Only stacks added by frame ids lack an array, and then the table exists.
      if (given.includes(undefined)) fillStacks(given, this.stackOffsets, ids, this.table);
      batch.stacks = given as Frame[][];
    }
    return batch;
  }

  private grow(): void {
    const cap = this.cap * 2;
    const g32 = (a: Uint32Array): Uint32Array => {
      const b = new Uint32Array(cap);
      b.set(a);
      return b;
    };
    const g64 = (a: Float64Array): Float64Array => {
      const b = new Float64Array(cap);
      b.set(a);
      return b;
    };
    this.colProfileType = g32(this.colProfileType);
    this.colSeries = g32(this.colSeries);
    this.colStack = g32(this.colStack);
    this.colValue = g64(this.colValue);
    this.colTs = g64(this.colTs);
    this.colDuration = g64(this.colDuration);
    this.colPeriod = g64(this.colPeriod);
    this.colSpan = g32(this.colSpan);
    this.cap = cap;
    const slotCount = this.slots.length * 2;
    this.slots = new Int32Array(slotCount).fill(EMPTY_SLOT);
    this.slotMask = slotCount - 1;
    for (let r = 0; r < this.n; r++) this.insertSlot(r, this.hashRow(r));
  }

  private hashRow(r: number): number {
    return rowHash(this.colProfileType[r], this.colSeries[r], this.colStack[r], this.colTs[r], this.colSpan[r]);
  }

  private insertSlot(r: number, h: number): void {
    let s = h & this.slotMask;
    while (this.slots[s] !== EMPTY_SLOT) s = (s + 1) & this.slotMask;
    this.slots[s] = r;
  }
}

/**
 * A span id as Pyroscope accepts it: 16 hex digits (64 bits), normalized to lower case;
 * undefined for anything else (the sample then belongs to no span, as in Pyroscope).
 */
export function normalizeSpanId(value: string): string | undefined {
  return /^[0-9a-fA-F]{16}$/.test(value) ? value.toLowerCase() : undefined;
}

/** Merges batches into one (dictionaries re-deduplicated, identical rows summed). */
export function concatBatches(batches: readonly SampleBatch[]): SampleBatch {
  let rows = 0;
  for (const b of batches) rows += b.length;
  const builder = new SampleBatchBuilder({ initialCapacity: Math.max(16, rows) });
  for (const b of batches) builder.addBatch(b);
  return builder.build();
}

/** Sum of `value` over all rows. */
export function batchTotal(b: SampleBatch): number {
  let t = 0;
  for (let i = 0; i < b.length; i++) t += b.value[i];
  return t;
}

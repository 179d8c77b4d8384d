import { isUtf8 } from 'node:buffer';
import { FirnError } from '@firn/errors';
import { maybeGunzip } from './decompress';
import { mergeLabels, sanitizeLabelNames } from './labels';
import { formatProfileType, isDeltaSampleType, parseProfileType } from './profile-type';
import { WireReader, varintBigAt, varintNumberAt } from './protowire';
import { SampleBatchBuilder, normalizeSpanId, type Frame, type SampleBatch } from './sample-batch';

export interface PprofLimits {
  /** Cap on the (decompressed) protobuf size. */
  maxDecompressedBytes: number;
  /** Cap on the number of pprof samples (before dedup). */
  maxSamples: number;
  /** Stacks deeper than this (in frames, after inline expansion) keep their leaf-most frames. */
  maxStackDepth: number;
  /**
   * The limits below are counted while reading, so a profile that is small on the wire but
   * huge once materialised is refused before it is (see README "Memory"). Default: unbounded.
   *
   * Most entries in each symbol table (strings, mappings, locations, functions).
   */
  maxSymbols?: number;
  /** Most string labels on one sample. */
  maxLabels?: number;
  /** Most distinct label sets (series). */
  maxSeries?: number;
  /** Most frames over all distinct stacks. */
  maxStackFrames?: number;
}

export interface PprofOptions {
  /**
   * Profile name, the first part of every profile type id (e.g. `process_cpu`), or a function
   * choosing it from the profile's sample types (Pyroscope's /ingest derives it that way).
   */
  name: string | ((sampleTypes: readonly string[]) => string);
  /** Series labels from the request; they win over pprof sample labels of the same name. */
  seriesLabels: ReadonlyArray<readonly [string, string]>;
  /** Sample time when the profile has no time_nanos. */
  nowMs: number;
  /** Duration when the profile has no duration_nanos (default 0 = unknown). */
  fallbackDurationNs?: number;
  limits: PprofLimits;
}

/**
 * pprof sample labels that are not series labels, as in Pyroscope (pkg/model/pprofsplit):
 * `span_id` (and `profile_id`, its older name) marks the span a sample belongs to, the way the
 * Pyroscope SDKs' OpenTelemetry integrations write it; `trace_id` is dropped. A series per span
 * or trace would explode cardinality: the span is kept per row instead (SampleBatch.span).
 */
export const SPAN_ID_LABEL = 'span_id';
const PROFILE_ID_LABEL = 'profile_id';
const TRACE_ID_LABEL = 'trace_id';

/** A decoded batch plus how many samples had their stack truncated to `maxStackDepth`. */
export interface DecodedSamples extends SampleBatch {
  truncatedStacks: number;
}

function normalizeBuildId(id: string): string {
  return /^[0-9A-Fa-f]+$/.test(id) ? id.toLowerCase() : id;
}

interface MappingRec {
  file: number;
  buildId: number;
  /** Builder string ids of the (normalized) build id and file, -1 until first used. */
  buildIdSid: number;
  fileSid: number;
  /** Byte offsets of the memory_start / file_offset varints, -1 if absent. */
  memStartPos: number;
  fileOffsetPos: number;
}
interface FunctionRec {
  name: number;
  file: number;
  /** Builder string ids of name and file, -1 until first used. */
  nameSid: number;
  fileSid: number;
}

const MAX_I63 = 2 ** 63;
const YEAR_1971_NS = 31_536_000e9;

/** An Int32Array that grows by doubling: 4 bytes per entry where a JS array takes 8 or more. */
class Int32List {
  data = new Int32Array(64);
  length = 0;

  clear(): void {
    this.length = 0;
  }

  push(v: number): void {
    if (this.length === this.data.length) {
      const grown = new Int32Array(this.data.length * 2);
      grown.set(this.data);
      this.data = grown;
    }
    this.data[this.length++] = v;
  }
}

/** An Int32Array reused for views filled with -1 (a "not seen yet" index), grown as needed. */
class Int32Scratch {
  private data = new Int32Array(256);

  /** A view of `n` entries, all -1 (valid until the next call). */
  minusOnes(n: number): Int32Array {
    if (n > this.data.length) this.data = new Int32Array(Math.max(n, this.data.length * 2));
    return this.data.subarray(0, n).fill(-1);
  }

  get bytes(): number {
    return this.data.byteLength;
  }
}

/**
 * Where each message of one symbol table starts (the byte offset of its length prefix), by id.
 * Messages are parsed only when a sample reaches them, so a table costs 8 bytes per message
 * while it is read, plus an id index built on first use (4 bytes per id when ids are dense, as
 * pprof writers make them; a map otherwise). A table longer than `max` is refused while read.
 */
class LazyTable {
  private readonly ids = new Int32List();
  private readonly at = new Int32List();
  private readonly denseScratch = new Int32Scratch();
  private maxId = 0;
  private dense: Int32Array | undefined;
  private sparse: Map<number, number> | undefined;
  private max = 0;

  constructor(private readonly what: string) {}

  /** Empties the table for a new profile that may hold at most `max` entries. */
  reset(max: number): void {
    this.max = max;
    this.ids.clear();
    this.at.clear();
    this.maxId = 0;
    this.dense = undefined;
    this.sparse = undefined;
  }

  get bytes(): number {
    return this.ids.data.byteLength + this.at.data.byteLength + this.denseScratch.bytes;
  }

  add(id: number, pos: number): void {
    if (this.ids.length >= this.max) {
      throw FirnError.invalidArgument(`pprof has more than ${this.max} ${this.what}`, { limit: 'max_profile_symbols' });
    }
    if (!(id >= 0 && id <= 0x7fffffff)) throw FirnError.invalidArgument(`malformed pprof: ${this.what} id ${id} out of range`);
    this.ids.push(id);
    this.at.push(pos);
    if (id > this.maxId) this.maxId = id;
  }

  get size(): number {
    return this.ids.length;
  }

  /** Byte offset of message `id`'s length prefix; the last message with an id wins. */
  position(id: number): number | undefined {
    if (!this.dense && !this.sparse) this.index();
    if (this.dense) {
      const p = id <= this.maxId ? this.dense[id] : -1;
      return p >= 0 ? p : undefined;
    }
    return this.sparse?.get(id);
  }

  private index(): void {
    const n = this.ids.length;
    if (this.maxId < 4 * n + 1024) {
      this.dense = this.denseScratch.minusOnes(this.maxId + 1);
      for (let i = 0; i < n; i++) this.dense[this.ids.data[i]] = this.at.data[i];
    } else {
      this.sparse = new Map();
      for (let i = 0; i < n; i++) this.sparse.set(this.ids.data[i], this.at.data[i]);
    }
  }
}

/**
 * The lists and index arrays one decode fills. A fleet agent's pprof is a few KB, and allocating
 * some twenty typed arrays for each, and more as they grow (every one an ArrayBuffer V8 tracks and
 * frees), cost ≈ 30 % of decoding it; decodes are synchronous, so they take turns with one set
 * (`withScratch`), kept between decodes while it holds at most 4 MiB.
 */
class DecoderScratch {
  readonly strStart = new Int32List();
  readonly strEnd = new Int32List();
  readonly sampleStart = new Int32List();
  readonly sampleEnd = new Int32List();
  /** Per location: a count, then the builder frame ids of its lines. */
  readonly locIds = new Int32List();
  readonly mappings = new LazyTable('mappings');
  readonly locations = new LazyTable('locations');
  readonly functions = new LazyTable('functions');
  /** Per location id: where its frame ids start in `locIds`. */
  readonly locAt = new Int32Scratch();
  /** Per string table index: its builder string id. */
  readonly stringSids = new Int32Scratch();
  /** One stack's location positions and frame ids (buildStack). */
  stackLocAt = new Int32Array(64);
  stackFrameIds = new Int32Array(256);
  /** One sample's location ids. */
  sampleIds = new Float64Array(64);
  /** One location's (function id, line) pairs, in pprof order (innermost first; readLocation). */
  locLines = new Float64Array(64);

  private readonly lists = [this.strStart, this.strEnd, this.sampleStart, this.sampleEnd, this.locIds];
  private readonly tables = [this.mappings, this.locations, this.functions];

  /** Empties everything for a new profile whose symbol tables may hold at most `maxSymbols` entries each. */
  reset(maxSymbols: number): void {
    for (const l of this.lists) l.clear();
    for (const t of this.tables) t.reset(maxSymbols);
  }

  get bytes(): number {
    let n = this.stackLocAt.byteLength + this.stackFrameIds.byteLength + this.sampleIds.byteLength + this.locLines.byteLength;
    n += this.locAt.bytes + this.stringSids.bytes;
    for (const l of this.lists) n += l.data.byteLength;
    for (const t of this.tables) n += t.bytes;
    return n;
  }
}

/** Kept between decodes only up to this size: one huge profile's arrays are not held for good. */
const SCRATCH_KEEP_BYTES = 4 << 20;
let idleScratch: DecoderScratch | undefined;

/**
 * Runs one decode with the idle scratch set (a fresh one when a decode is already using it); the
 * decoder empties it for its profile.
 */
function withScratch<T>(decode: (scratch: DecoderScratch) => T): T {
  const scratch = idleScratch ?? new DecoderScratch();
  idleScratch = undefined;
  try {
    return decode(scratch);
  } finally {
    if (scratch.bytes <= SCRATCH_KEEP_BYTES) idleScratch = scratch;
  }
}

/**
 * Decodes a pprof profile (gzip or raw) into a SampleBatch. See libs/profiles/README.md for
 * the mapping rules. Every malformed input fails with invalid_argument, never a crash.
 *
 * The protobuf is parsed by a purpose-built wire reader rather than protobuf-es `fromBinary`:
 * protobuf-es materialises every int64 as a BigInt and every sample as an object, which
 * measured ~100-170 k samples/s here versus the ≥ 8 MB/s target.
 */
export function samplesFromPprof(bytes: Uint8Array, opts: PprofOptions): DecodedSamples {
  const raw = maybeGunzip(bytes, opts.limits.maxDecompressedBytes, 'pprof');
  const { limits } = opts;
  return withScratch((scratch) => {
    const decoder = new PprofDecoder(raw, opts, scratch);
    // Rows are preallocated for at most 64 Ki samples: a profile claiming more grows as it proves it.
    const builder = new SampleBatchBuilder({
      initialCapacity: Math.min(decoder.rowsClaimed, 1 << 16) + 16,
      maxSeries: limits.maxSeries,
      maxStackFrames: limits.maxStackFrames,
    });
    const truncatedStacks = decoder.decodeInto(builder);
    return Object.assign(builder.build(), { truncatedStacks });
  });
}

/**
 * Decodes a pprof profile (gzip or raw) into `builder`, which may already hold other profiles
 * of the same request (their rows, series, stacks and frames are shared, as concatenating their
 * batches would); returns how many samples had their stack truncated to `maxStackDepth`.
 * `limits.maxSeries` and `maxStackFrames` are the builder's (they then count the whole request).
 */
export function pprofIntoBuilder(bytes: Uint8Array, opts: PprofOptions, builder: SampleBatchBuilder): number {
  const raw = maybeGunzip(bytes, opts.limits.maxDecompressedBytes, 'pprof');
  return withScratch((scratch) => new PprofDecoder(raw, opts, scratch).decodeInto(builder));
}

class PprofDecoder {
  private readonly buf: Buffer;
  private readonly strStart: Int32List;
  private readonly strEnd: Int32List;
  private readonly strCache = new Map<number, string>();
  private readonly sampleTypes: number[] = [];
  private readonly sampleStart: Int32List;
  private readonly sampleEnd: Int32List;
  private readonly mappings: LazyTable;
  private readonly locations: LazyTable;
  private readonly functions: LazyTable;
  private readonly mappingRecs = new Map<number, MappingRec>();
  private readonly functionRecs = new Map<number, FunctionRec>();
  private readonly maxSymbols: number;
  // Per location id: where its builder frame ids start in locIds (count first, then the ids).
  // Location ids are usually 1..N: a dense array avoids a Map lookup per frame.
  private locAtDense: Int32Array = new Int32Array(0);
  private readonly locAtSparse = new Map<number, number>();
  private readonly locIds: Int32List;
  // Per string table index: its builder string id, -1 until first used.
  private stringSids: Int32Array = new Int32Array(0);
  private builder!: SampleBatchBuilder;
  // Readers reused for every symbol table message (idOf) and location (readLocation).
  private readonly idReader: WireReader;
  private readonly locReader: WireReader;
  // The location readLocation read last: its mapping id and the byte offset of its address (-1 if absent).
  private locMappingId = 0;
  private locAddrPos = -1;
  private timeNanos = 0;
  private durationNanos = 0;
  private periodType = -1;
  private periodUnit = -1;
  private period = 0;
  private maxLocationId = 0;

  /** `scratch`: this decoder's alone until it is done (`withScratch`); emptied here for this profile. */
  constructor(
    raw: Uint8Array,
    private readonly opts: PprofOptions,
    private readonly scratch: DecoderScratch,
  ) {
    this.buf = Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
    this.idReader = new WireReader(this.buf, 0, 0, 'pprof');
    this.locReader = new WireReader(this.buf, 0, 0, 'pprof location');
    this.maxSymbols = opts.limits.maxSymbols ?? Infinity;
    scratch.reset(this.maxSymbols);
    ({ strStart: this.strStart, strEnd: this.strEnd, sampleStart: this.sampleStart, sampleEnd: this.sampleEnd, locIds: this.locIds } = scratch);
    ({ mappings: this.mappings, locations: this.locations, functions: this.functions } = scratch);
    this.readTopLevel();
  }

  /** Rows the profile claims (samples × sample types), for sizing a builder. */
  get rowsClaimed(): number {
    return (this.sampleStart.length * this.sampleTypes.length) / 2;
  }

  private fail(msg: string): never {
    throw FirnError.invalidArgument(`malformed pprof: ${msg}`);
  }

  /** String table entry `i`; `what` names it in the error when its bytes are not UTF-8. */
  private str(i: number, what?: string): string {
    if (!(i >= 0 && i < this.strStart.length)) {
      this.fail(`string index ${i} out of range (string table has ${this.strStart.length} entries)`);
    }
    let s = this.strCache.get(i);
    if (s === undefined) {
      const bytes = this.buf.subarray(this.strStart.data[i], this.strEnd.data[i]);
      // Buffer decoding would silently turn bad bytes into U+FFFD and store a different label.
      if (!isUtf8(bytes)) this.fail(`${what ?? `string ${i}`} is not valid UTF-8`);
      s = bytes.toString('utf8');
      this.strCache.set(i, s);
    }
    return s;
  }

  /** Builder string id of string table entry `i` (checked as `str` does). */
  private sid(i: number, what?: string): number {
    let id = i >= 0 && i < this.stringSids.length ? this.stringSids[i] : -1;
    if (id < 0) {
      id = this.builder.internString(this.str(i, what));
      this.stringSids[i] = id;
    }
    return id;
  }

  decodeInto(builder: SampleBatchBuilder): number {
    this.builder = builder;
    // At most one frame per location line; usually one per location.
    builder.reserveFrames(Math.min(this.locations.size, 1 << 16));
    const { limits } = this.opts;
    const nSamples = this.sampleStart.length;
    if (nSamples > limits.maxSamples) {
      throw FirnError.invalidArgument(`pprof has ${nSamples} samples, more than the limit of ${limits.maxSamples}`, {
        limit: 'max_samples',
      });
    }
    const k = this.sampleTypes.length / 2;
    if (k === 0) this.fail('no sample_type');
    if (this.strStart.length === 0 || this.strEnd.data[0] !== this.strStart.data[0]) this.fail('string_table[0] must be ""');

    this.locAtDense = this.scratch.locAt.minusOnes(Math.min(this.maxLocationId + 1, this.locations.size * 4 + 1024));
    this.stringSids = this.scratch.stringSids.minusOnes(this.strStart.length);
    const periodType = this.periodType >= 0 ? this.str(this.periodType) : '';
    const periodUnit = this.periodUnit >= 0 ? this.str(this.periodUnit) : '';
    const pt: number[] = [];
    const typeNames: string[] = [];
    for (let t = 0; t < k; t++) typeNames.push(this.str(this.sampleTypes[2 * t]));
    const name = typeof this.opts.name === 'function' ? this.opts.name(typeNames) : this.opts.name;
    for (let t = 0; t < k; t++) {
      const sampleType = typeNames[t];
      const sampleUnit = this.str(this.sampleTypes[2 * t + 1]);
      if (sampleType === '') this.fail(`sample_type[${t}] has an empty type`);
      const id = formatProfileType({
        name,
        sampleType,
        sampleUnit,
        periodType,
        periodUnit,
        delta: isDeltaSampleType(sampleType, periodType),
      });
      parseProfileType(id); // rejects ':' and other characters an id cannot hold
      pt.push(builder.addProfileType(id));
    }

    if (this.timeNanos >= MAX_I63) this.fail('negative time_nanos');
    if (this.durationNanos >= MAX_I63) this.fail('negative duration_nanos');
    if (this.period >= MAX_I63) this.fail('negative period');
    // Like Pyroscope: a time in 1970 is a client bug (old pyroscope-rs, rbspy and py-spy sent
    // microseconds), not a time: the upload's own time is used instead.
    const tsMs = this.timeNanos >= YEAR_1971_NS ? Math.floor(this.timeNanos / 1e6) : this.opts.nowMs;
    const durationNs = this.durationNanos > 0 ? this.durationNanos : (this.opts.fallbackDurationNs ?? 0);
    const period = this.period;

    const baseSeries = builder.addSeries(this.opts.seriesLabels);
    // String table indexes of the labels that are not series labels (a table may repeat a string).
    const spanKeys = this.stringIndexes(SPAN_ID_LABEL);
    const profileIdKeys = this.stringIndexes(PROFILE_ID_LABEL);
    const traceKeys = this.stringIndexes(TRACE_ID_LABEL);
    const special = spanKeys.size + profileIdKeys.size + traceKeys.size > 0;
    const spanOfString = new Map<number, number>();
    const seriesByLabelKey = new Map<string, number>();
    const stackByPacked = new Map<string, number>();
    const stackByList = new Map<string, number>();
    const maxDepth = limits.maxStackDepth;
    const maxLabels = limits.maxLabels ?? Infinity;
    let truncatedStacks = 0;

    const buf = this.buf;
    const r = new WireReader(buf, 0, buf.length, 'pprof sample');
    // Each location is at least one frame, so the leaf-most maxDepth location ids are all a
    // truncated stack can use: later ids are counted (cut) but never stored.
    let ids = this.scratch.sampleIds;
    let nIds = 0;
    let cut = false;
    const pushId = (v: number): void => {
      if (nIds >= maxDepth) {
        cut = true;
        return;
      }
      if (nIds === ids.length) {
        const grown = new Float64Array(Math.min(ids.length * 2, maxDepth));
        grown.set(ids);
        ids = this.scratch.sampleIds = grown;
      }
      ids[nIds++] = v;
    };
    const values = new Float64Array(k);
    const labelPairs: number[] = [];

    for (let s = 0; s < nSamples; s++) {
      r.pos = this.sampleStart.data[s];
      r.end = this.sampleEnd.data[s];
      nIds = 0;
      cut = false;
      if (labelPairs.length > 0) labelPairs.length = 0;
      let nValues = 0;
      let spanStr = 0;
      let packedStart = -1;
      let packedEnd = -1;
      let idFields = 0;
      while (r.pos < r.end) {
        const tag = r.tag();
        switch (tag) {
          case (1 << 3) | 2: {
            const e = r.lenEnd();
            packedStart = r.pos;
            packedEnd = e;
            idFields++;
            while (r.pos < e) pushId(r.varint());
            if (r.pos !== e) r.fail('packed location_id overruns');
            break;
          }
          case (1 << 3) | 0:
            idFields += 2;
            pushId(r.varint());
            break;
          case (2 << 3) | 2: {
            const e = r.lenEnd();
            while (r.pos < e) {
              const v = r.varint();
              if (nValues < k) values[nValues] = v;
              nValues++;
            }
            if (r.pos !== e) r.fail('packed value overruns');
            break;
          }
          case (2 << 3) | 0: {
            const v = r.varint();
            if (nValues < k) values[nValues] = v;
            nValues++;
            break;
          }
          case (3 << 3) | 2: {
            const e = r.lenEnd();
            const outerEnd = r.end;
            r.end = e;
            let key = 0;
            let str = 0;
            while (r.pos < e) {
              const lt = r.tag();
              if (lt === ((1 << 3) | 0)) key = r.varint();
              else if (lt === ((2 << 3) | 0)) str = r.varint();
              else r.skip(lt & 7);
            }
            r.end = outerEnd;
            // Numeric labels (num/num_unit) are not series labels; they are dropped.
            if (str === 0 || key === 0) break;
            if (special && spanKeys.has(key)) spanStr = str;
            else if (special && profileIdKeys.has(key)) {
              if (spanStr === 0) spanStr = str;
            } else if (!special || !traceKeys.has(key)) {
              if (labelPairs.length >= 2 * maxLabels) {
                throw FirnError.invalidArgument(`pprof sample ${s} has more than ${maxLabels} labels`, { limit: 'max_label_names' });
              }
              labelPairs.push(key, str);
            }
            break;
          }
          default:
            r.skip(tag & 7);
        }
      }
      if (nValues !== k) this.fail(`sample ${s} has ${nValues} values, want ${k} (one per sample_type)`);

      let series = baseSeries;
      if (labelPairs.length > 0) {
        const key = labelPairs.join(',');
        let si = seriesByLabelKey.get(key);
        if (si === undefined) {
          const sampleLabels: Array<[string, string]> = [];
          for (let i = 0; i < labelPairs.length; i += 2) {
            const name = this.str(labelPairs[i], `label name (string ${labelPairs[i]})`);
            sampleLabels.push([name, this.str(labelPairs[i + 1], `label "${name}" value`)]);
          }
          si = builder.addSeries(mergeLabels(this.opts.seriesLabels, sanitizeLabelNames(sampleLabels)));
          seriesByLabelKey.set(key, si);
        }
        series = si;
      }

      // A single packed location_id field is by far the common encoding; its raw bytes are a
      // cheaper cache key than the decoded id list.
      let cacheKey: string;
      let cache: Map<string, number>;
      if (idFields === 1 && !cut) {
        cacheKey = buf.toString('latin1', packedStart, packedEnd);
        cache = stackByPacked;
      } else {
        // A cut stack keeps only its leaf-most ids; samples sharing them share the truncated stack.
        cacheKey = Array.from(ids.subarray(0, nIds)).join(',') + (cut ? ',+' : '');
        cache = stackByList;
      }
      let packedStack = cache.get(cacheKey);
      if (packedStack === undefined) {
        packedStack = this.buildStack(ids, nIds, maxDepth);
        if (cut) packedStack |= 1;
        cache.set(cacheKey, packedStack);
      }
      const stack = packedStack >>> 1;
      if ((packedStack & 1) === 1) truncatedStacks++;

      let span = 0;
      if (spanStr !== 0) {
        let known = spanOfString.get(spanStr);
        if (known === undefined) {
          const id = normalizeSpanId(this.str(spanStr, `label "${SPAN_ID_LABEL}" value`));
          known = id === undefined ? 0 : builder.addSpan(id);
          spanOfString.set(spanStr, known);
        }
        span = known;
      }
      for (let t = 0; t < k; t++) {
        const v = values[t];
        if (v === 0) continue;
        if (v > Number.MAX_SAFE_INTEGER) {
          this.fail(`sample ${s} value ${t} is negative or above 2^53`);
        }
        builder.addRow(pt[t], series, stack, v, tsMs, durationNs, period, span);
      }
    }
    return truncatedStacks;
  }

  /** Indexes of `s` in the string table (compares bytes; never decodes other strings). */
  private stringIndexes(s: string): Set<number> {
    const want = Buffer.from(s, 'utf8');
    const out = new Set<number>();
    for (let i = 1; i < this.strStart.length; i++) {
      const start = this.strStart.data[i];
      const end = this.strEnd.data[i];
      if (end - start === want.length && this.buf.compare(want, 0, want.length, start, end) === 0) out.add(i);
    }
    return out;
  }

  /** Returns stackIndex * 2 + (truncated ? 1 : 0) for the location ids ids[0..count). */
  private buildStack(ids: Float64Array, count: number, maxDepth: number): number {
    let total = 0;
    const scratch = this.scratch;
    if (scratch.stackLocAt.length < count) scratch.stackLocAt = new Int32Array(Math.max(count, scratch.stackLocAt.length * 2));
    const locAt = scratch.stackLocAt;
    const dense = this.locAtDense;
    for (let i = 0; i < count; i++) {
      const id = ids[i];
      let at = id < dense.length ? dense[id] : (this.locAtSparse.get(id) ?? -1);
      if (at < 0) {
        at = this.locationFrames(id);
        if (id < dense.length) dense[id] = at;
        else this.locAtSparse.set(id, at);
      }
      locAt[i] = at;
      total += this.locIds.data[at];
    }
    const truncated = total > maxDepth;
    const n = truncated ? maxDepth : total;
    if (scratch.stackFrameIds.length < n) scratch.stackFrameIds = new Int32Array(Math.max(n, scratch.stackFrameIds.length * 2));
    const frameIds = scratch.stackFrameIds;
    const pool = this.locIds.data;
    let k = 0;
    for (let i = 0; i < count && k < n; i++) {
      const at = locAt[i];
      const len = pool[at];
      for (let j = 1; j <= len && k < n; j++) frameIds[k++] = pool[at + j];
    }
    return this.builder.addStackOfIds(frameIds, n) * 2 + (truncated ? 1 : 0);
  }

  /**
   * An unsymbolized frame's address is the file offset in the mapping's file (what the
   * symbolizer resolves). pprof gives the runtime address: offset = address − memory_start +
   * file_offset, when the mapping says where it was loaded (memory_start > 0, address inside).
   */
  private fileOffsetOf(address: bigint, m: MappingRec): bigint {
    if (m.memStartPos < 0) return address;
    const start = varintBigAt(this.buf, m.memStartPos);
    if (start === 0n || address < start) return address;
    const offset = m.fileOffsetPos >= 0 ? varintBigAt(this.buf, m.fileOffsetPos) : 0n;
    return address - start + offset;
  }

  /**
   * The same in JS numbers when every varint involved is below 2^49 (what real mappings use);
   * NaN when one is not (then `fileOffsetOf` computes it exactly).
   */
  private fileOffsetNumber(addrPos: number, m: MappingRec | undefined): number {
    const address = addrPos >= 0 ? varintNumberAt(this.buf, addrPos) : 0;
    if (m === undefined || m.memStartPos < 0) return address;
    const start = varintNumberAt(this.buf, m.memStartPos);
    if (start === 0 || address < start) return address;
    const offset = m.fileOffsetPos >= 0 ? varintNumberAt(this.buf, m.fileOffsetPos) : 0;
    return address - start + offset;
  }

  /**
   * Interns the frames of one location, innermost (inlined) first (only the last line is not
   * inlined), and returns where their builder ids are in `locIds` (a count, then the ids).
   */
  private locationFrames(id: number): number {
    const at = this.locations.position(id);
    if (at === undefined) this.fail(`sample references unknown location id ${id}`);
    const n = this.readLocation(at);
    if (n > this.opts.limits.maxStackDepth) {
      throw FirnError.invalidArgument(`pprof location ${id} has ${n} lines, more than the stack depth limit of ${this.opts.limits.maxStackDepth}`, {
        limit: 'max_stack_depth',
      });
    }
    const { locMappingId, locAddrPos } = this;
    const lines = this.scratch.locLines;
    const builder = this.builder;
    let buildId = this.sid(0);
    let mappingFile = buildId;
    let m: MappingRec | undefined;
    if (locMappingId !== 0) {
      m = this.mapping(locMappingId);
      if (m === undefined) this.fail(`location ${id} references unknown mapping id ${locMappingId}`);
      if (m.buildIdSid < 0) {
        m.buildIdSid = builder.internString(normalizeBuildId(this.str(m.buildId)));
        m.fileSid = this.sid(m.file);
      }
      buildId = m.buildIdSid;
      mappingFile = m.fileSid;
    }
    const out = this.locIds;
    const start = out.length;
    out.push(Math.max(n, 1));
    const empty = this.sid(0);
    // Only an unsymbolized frame's address becomes a file offset (a symbolized one is named by its lines).
    const address = n === 0 ? this.fileOffsetNumber(locAddrPos, m) : locAddrPos >= 0 ? varintNumberAt(this.buf, locAddrPos) : 0;
    if (Number.isNaN(address)) {
      // A varint of 2^49 or more somewhere: exact BigInt arithmetic, interned as a Frame.
      let big = locAddrPos >= 0 ? varintBigAt(this.buf, locAddrPos) : 0n;
      if (m && n === 0) big = this.fileOffsetOf(big, m);
      const frame = (functionName: string, fileName: string, line: number, inlined: boolean): Frame => ({
        buildId: builder.stringAt(buildId),
        mappingFile: builder.stringAt(mappingFile),
        address: big,
        functionName,
        fileName,
        line,
        inlined,
      });
      if (n === 0) out.push(builder.internFrame(frame('', '', 0, false)));
      for (let i = 0; i < n; i++) {
        const [fn, file] = this.lineFunction(id, lines[2 * i]);
        const lineNo = lines[2 * i + 1];
        out.push(builder.internFrame(frame(builder.stringAt(fn), builder.stringAt(file), lineNo <= Number.MAX_SAFE_INTEGER ? lineNo : 0, i < n - 1)));
      }
      return start;
    }
    const lo = address % 4294967296;
    const hi = (address - lo) / 4294967296;
    if (n === 0) {
      out.push(builder.internFrameFields(buildId, mappingFile, lo, hi, empty, empty, 0, false));
      return start;
    }
    for (let i = 0; i < n; i++) {
      const [fn, file] = this.lineFunction(id, lines[2 * i]);
      const lineNo = lines[2 * i + 1];
      out.push(builder.internFrameFields(buildId, mappingFile, lo, hi, fn, file, lineNo <= Number.MAX_SAFE_INTEGER ? lineNo : 0, i < n - 1));
    }
    return start;
  }

  /** Builder string ids of the name and file of a line's function (both '' for function id 0). */
  private lineFunction(locationId: number, fnId: number): [number, number] {
    if (fnId === 0) {
      const empty = this.sid(0);
      return [empty, empty];
    }
    const fn = this.function(fnId);
    if (fn === undefined) this.fail(`location ${locationId} references unknown function id ${fnId}`);
    if (fn.nameSid < 0) {
      fn.nameSid = this.sid(fn.name);
      fn.fileSid = this.sid(fn.file);
    }
    return [fn.nameSid, fn.fileSid];
  }

  private readTopLevel(): void {
    const r = new WireReader(this.buf, 0, this.buf.length, 'pprof');
    while (!r.done()) {
      const tag = r.tag();
      const field = Math.floor(tag / 8);
      const wt = tag & 7;
      switch (field) {
        case 1:
          this.expectLen(r, wt, 'sample_type');
          this.readValueType(r, this.sampleTypes);
          break;
        case 2: {
          this.expectLen(r, wt, 'sample');
          const e = r.lenEnd();
          if (this.sampleStart.length >= this.opts.limits.maxSamples) {
            throw FirnError.invalidArgument(
              `pprof has at least ${this.opts.limits.maxSamples + 1} samples, more than the limit of ${this.opts.limits.maxSamples}`,
              { limit: 'max_samples' },
            );
          }
          this.sampleStart.push(r.pos);
          this.sampleEnd.push(e);
          r.pos = e;
          break;
        }
        case 3:
          this.expectLen(r, wt, 'mapping');
          this.mappings.add(this.idOf(r), r.pos);
          r.pos = r.lenEnd();
          break;
        case 4: {
          this.expectLen(r, wt, 'location');
          const id = this.idOf(r);
          this.locations.add(id, r.pos);
          if (id > this.maxLocationId) this.maxLocationId = id;
          r.pos = r.lenEnd();
          break;
        }
        case 5:
          this.expectLen(r, wt, 'function');
          this.functions.add(this.idOf(r), r.pos);
          r.pos = r.lenEnd();
          break;
        case 6: {
          this.expectLen(r, wt, 'string_table');
          const e = r.lenEnd();
          if (this.strStart.length >= this.maxSymbols) {
            throw FirnError.invalidArgument(`pprof has more than ${this.maxSymbols} strings`, { limit: 'max_profile_symbols' });
          }
          this.strStart.push(r.pos);
          this.strEnd.push(e);
          r.pos = e;
          break;
        }
        case 9:
          this.timeNanos = this.readVarintField(r, wt, 'time_nanos');
          break;
        case 10:
          this.durationNanos = this.readVarintField(r, wt, 'duration_nanos');
          break;
        case 11: {
          this.expectLen(r, wt, 'period_type');
          const pt: number[] = [];
          this.readValueType(r, pt);
          this.periodType = pt[0];
          this.periodUnit = pt[1];
          break;
        }
        case 12:
          this.period = this.readVarintField(r, wt, 'period');
          break;
        default:
          // drop_frames, keep_frames, comment, default_sample_type, doc_url, unknown fields.
          r.skip(wt);
      }
    }
  }

  private expectLen(r: WireReader, wt: number, field: string): void {
    if (wt !== 2) r.fail(`field ${field} has wire type ${wt}, want 2`);
  }

  private readVarintField(r: WireReader, wt: number, field: string): number {
    if (wt !== 0) r.fail(`field ${field} has wire type ${wt}, want 0`);
    return r.varint();
  }

  private readValueType(r: WireReader, out: number[]): void {
    const e = r.lenEnd();
    let type = 0;
    let unit = 0;
    const outer = r.end;
    r.end = e;
    while (r.pos < e) {
      const tag = r.tag();
      if (tag === ((1 << 3) | 0)) type = r.varint();
      else if (tag === ((2 << 3) | 0)) unit = r.varint();
      else r.skip(tag & 7);
    }
    r.end = outer;
    out.push(type, unit);
  }

  /**
   * The `id` (field 1) of the message whose length prefix is at `r.pos`; `r.pos` is left where
   * it was. Checks the message's bounds as a side effect.
   */
  private idOf(r: WireReader): number {
    const start = r.pos;
    const e = r.lenEnd();
    const sub = this.idReader;
    sub.pos = r.pos;
    sub.end = e;
    let id = 0;
    while (!sub.done()) {
      const tag = sub.tag();
      if (tag === ((1 << 3) | 0)) id = sub.varint();
      else sub.skip(tag & 7);
    }
    r.pos = start;
    return id;
  }

  private mapping(id: number): MappingRec | undefined {
    let m = this.mappingRecs.get(id);
    if (m === undefined) {
      const at = this.mappings.position(id);
      if (at === undefined) return undefined;
      m = this.readMapping(new WireReader(this.buf, at, this.buf.length, 'pprof mapping'));
      this.mappingRecs.set(id, m);
    }
    return m;
  }

  private function(id: number): FunctionRec | undefined {
    let f = this.functionRecs.get(id);
    if (f === undefined) {
      const at = this.functions.position(id);
      if (at === undefined) return undefined;
      f = this.readFunction(new WireReader(this.buf, at, this.buf.length, 'pprof function'));
      this.functionRecs.set(id, f);
    }
    return f;
  }

  private readMapping(r: WireReader): MappingRec {
    const e = r.lenEnd();
    const outer = r.end;
    r.end = e;
    const rec: MappingRec = { file: 0, buildId: 0, buildIdSid: -1, fileSid: -1, memStartPos: -1, fileOffsetPos: -1 };
    while (r.pos < e) {
      const tag = r.tag();
      if (tag === ((1 << 3) | 0)) r.varint();
      else if (tag === ((2 << 3) | 0)) {
        rec.memStartPos = r.pos;
        r.varint();
      } else if (tag === ((4 << 3) | 0)) {
        rec.fileOffsetPos = r.pos;
        r.varint();
      } else if (tag === ((5 << 3) | 0)) rec.file = r.varint();
      else if (tag === ((6 << 3) | 0)) rec.buildId = r.varint();
      else r.skip(tag & 7);
    }
    r.end = outer;
    return rec;
  }

  /**
   * Reads the location whose length prefix is at byte `at` (once per location, when a sample first
   * uses it) into `locMappingId`, `locAddrPos` and the scratch's `locLines`; returns its line count
   * (counted up to one past the depth limit).
   */
  private readLocation(at: number): number {
    const r = this.locReader;
    r.pos = at;
    r.end = this.buf.length;
    const e = r.lenEnd();
    r.end = e;
    const maxLines = this.opts.limits.maxStackDepth;
    this.locMappingId = 0;
    this.locAddrPos = -1;
    let lines = this.scratch.locLines;
    let n = 0;
    while (r.pos < e) {
      const tag = r.tag();
      if (tag === ((1 << 3) | 0)) r.varint();
      else if (tag === ((2 << 3) | 0)) this.locMappingId = r.varint();
      else if (tag === ((3 << 3) | 0)) {
        this.locAddrPos = r.pos;
        r.varint();
      } else if (tag === ((4 << 3) | 2)) {
        const le = r.lenEnd();
        const lineOuter = r.end;
        r.end = le;
        let fn = 0;
        let line = 0;
        while (r.pos < le) {
          const lt = r.tag();
          if (lt === ((1 << 3) | 0)) fn = r.varint();
          else if (lt === ((2 << 3) | 0)) line = r.varint();
          else r.skip(lt & 7);
        }
        r.end = lineOuter;
        // One line more than the depth limit is enough to refuse the location (locationFrames).
        if (n <= maxLines) {
          if (2 * n + 2 > lines.length) {
            const grown = new Float64Array(lines.length * 2);
            grown.set(lines);
            lines = this.scratch.locLines = grown;
          }
          lines[2 * n] = fn;
          lines[2 * n + 1] = line;
          n++;
        }
      } else r.skip(tag & 7);
    }
    return n;
  }

  private readFunction(r: WireReader): FunctionRec {
    const e = r.lenEnd();
    const outer = r.end;
    r.end = e;
    const rec: FunctionRec = { name: 0, file: 0, nameSid: -1, fileSid: -1 };
    while (r.pos < e) {
      const tag = r.tag();
      if (tag === ((1 << 3) | 0)) r.varint();
      else if (tag === ((2 << 3) | 0)) rec.name = r.varint();
      else if (tag === ((4 << 3) | 0)) rec.file = r.varint();
      else r.skip(tag & 7);
    }
    r.end = outer;
    return rec;
  }
}

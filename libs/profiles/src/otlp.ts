import { isUtf8 } from 'node:buffer';
import { FirnError } from '@firn/errors';
import { mergeLabels } from './labels';
import type { PprofLimits, DecodedSamples } from './pprof';
import { sanitizeLabelName } from './labels';
import { formatProfileType, isDeltaSampleType, parseProfileType } from './profile-type';
import { WireReader, varintBigAt } from './protowire';
import { SampleBatchBuilder, type Frame } from './sample-batch';

/**
 * OTLP profiles (opentelemetry-proto v1.9.0, `v1development`) → SampleBatch.
 *
 * Read straight from the protobuf wire bytes of an `ExportProfilesServiceRequest`, like the pprof
 * decoder: the dictionary tables are indexed by byte offset (4 bytes per entry) and an entry is
 * decoded only when a sample reaches it, so memory follows what the samples use, not what the
 * request declares. Mapping rules (libs/profiles/README.md, "OTLP profiles"):
 *
 * - labels: resource, then scope, then profile attributes, then sample attributes (the first
 *   occurrence of a name wins, as for pprof series labels); OpenTelemetry semantic-convention
 *   names become the names Firn's agent uses (`service.name` → `service_name`,
 *   `k8s.pod.name` → `pod`, …), anything else is sanitised (`.` → `_`); per-thread and per-CPU
 *   ids (`thread.id`, `cpu.logical_number`) are dropped so series stay per process.
 *   `service_name` falls back to `unknown_service[:<executable name>]` as Pyroscope does.
 * - profile types: `samples:count` with a `cpu:nanoseconds` period becomes
 *   `process_cpu:cpu:nanoseconds:cpu:nanoseconds` (values × period, as Pyroscope stores the
 *   OpenTelemetry eBPF profiler's data); anything else keeps its own sample and period type,
 *   named after the sample type.
 * - frames: a location's lines become frames (innermost first, all but the last inlined); a
 *   location without lines is an unsymbolized native frame whose address is turned into the
 *   file offset the symbolizer resolves (address − memory_start + file_offset); the mapping's
 *   `process.executable.build_id.gnu` (else `.go`, else `.htlhash`) attribute is its build id.
 * - values: `values[0]`, or the number of `timestamps_unix_nano` when a sample has no values;
 *   every sample is placed at the profile's `time_unix_nano` (receive time when 0).
 *
 * A profile that breaks a rule (an index out of range, a sample without a value, a bad sample
 * type) is rejected on its own and counted; the request fails only when nothing is left or its
 * wire format is broken.
 */
export interface OtlpDecodeOptions {
  /** Receive time: placed on profiles without time_unix_nano. */
  nowMs: number;
  /** Same caps as pprof: decompressed size, samples (across the request), stack depth. */
  limits: PprofLimits;
}

export interface OtlpDecoded extends DecodedSamples {
  acceptedProfiles: number;
  rejectedProfiles: number;
  /** Why profiles were rejected (the first few reasons). */
  errors: string[];
}

/** At most this many dictionary entries per sample allowed by the limits (and never fewer than the floor). */
const DICTIONARY_ENTRIES_PER_SAMPLE = 4;
const DICTIONARY_ENTRIES_FLOOR = 1 << 16;
const MAX_ERRORS = 5;

/** OpenTelemetry attribute names → the label names Firn's own agent uses for the same thing. */
const LABEL_NAMES: Readonly<Record<string, string>> = {
  'service.name': 'service_name',
  'k8s.namespace.name': 'namespace',
  'k8s.pod.name': 'pod',
  'k8s.pod.uid': 'pod_uid',
  'k8s.container.name': 'container',
  'k8s.node.name': 'node',
  'host.name': 'node',
  'container.id': 'container_id',
  'process.pid': 'pid',
  'process.executable.path': 'executable',
  'thread.name': 'comm',
};
/** Per-thread and per-CPU attributes: one series per thread or CPU would explode cardinality. */
const DROPPED = new Set(['thread.id', 'cpu.logical_number']);
const CONTEXT_LABEL_PREFIX = 'process.context.label.';
const BUILD_ID_KEYS = ['process.executable.build_id.gnu', 'process.executable.build_id.go', 'process.executable.build_id.htlhash'];

/** The Firn label name for an OpenTelemetry attribute key, or undefined to drop it. */
export function otlpLabelName(key: string): string | undefined {
  if (DROPPED.has(key)) return undefined;
  const known = LABEL_NAMES[key];
  if (known !== undefined) return known;
  const bare = key.startsWith(CONTEXT_LABEL_PREFIX) ? key.slice(CONTEXT_LABEL_PREFIX.length) : key;
  if (bare === '') return undefined;
  const name = sanitizeLabelName(bare);
  // `__`-prefixed names are reserved for Firn's internal labels.
  return name.startsWith('__') ? undefined : name;
}

export function samplesFromOtlp(bytes: Uint8Array, opts: OtlpDecodeOptions): OtlpDecoded {
  if (bytes.length > opts.limits.maxDecompressedBytes) {
    throw FirnError.invalidArgument(`OTLP request of ${bytes.length} bytes is larger than ${opts.limits.maxDecompressedBytes} bytes`, {
      limit: 'max_decompressed_bytes',
    });
  }
  return new OtlpDecoder(bytes, opts).decode();
}

/** Growable list of uint32 byte offsets (4 bytes per dictionary entry). */
class Offsets {
  private a = new Uint32Array(64);
  length = 0;

  push(v: number): void {
    if (this.length === this.a.length) {
      const g = new Uint32Array(this.a.length * 2);
      g.set(this.a);
      this.a = g;
    }
    this.a[this.length++] = v;
  }

  at(i: number): number {
    return this.a[i];
  }
}

/** Dictionary table field numbers of ProfilesDictionary. */
const enum Table {
  Mapping = 1,
  Location = 2,
  Function = 3,
  Link = 4,
  String = 5,
  Attribute = 6,
  Stack = 7,
}
const TABLE_NAMES = ['', 'mapping_table', 'location_table', 'function_table', 'link_table', 'string_table', 'attribute_table', 'stack_table'];

interface MappingInfo {
  file: string;
  buildId: string;
  memStart: bigint;
  fileOffset: bigint;
}
interface LocationInfo {
  frames: Frame[];
  ids: Int32Array;
}
type Attr = readonly [key: string, value: string | undefined];

/** Thrown for a rule one profile breaks; the decoder rejects that profile and goes on. */
class ProfileError extends Error {}

class OtlpDecoder {
  private readonly buf: Buffer;
  private readonly tables: Offsets[] = Array.from({ length: 8 }, () => new Offsets());
  private readonly resourceProfiles: Array<[number, number]> = [];
  private readonly strings = new Map<number, string>();
  private readonly attrs = new Map<number, Attr>();
  private readonly mappings = new Map<number, MappingInfo>();
  private readonly locations = new Map<number, LocationInfo>();
  private readonly functions = new Map<number, { name: string; file: string }>();
  /** stack index → builder stack * 2 + truncated bit. */
  private readonly stacks = new Map<number, number>();
  /** link index → its span id (16 lowercase hex digits), or '' when the link has none. */
  private readonly linkSpans = new Map<number, string>();
  private readonly builder: SampleBatchBuilder;
  private readonly errors: string[] = [];
  private scratchIds = new Int32Array(256);
  private truncatedStacks = 0;
  private samples = 0;

  constructor(
    bytes: Uint8Array,
    private readonly opts: OtlpDecodeOptions,
  ) {
    this.buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.builder = new SampleBatchBuilder({ initialCapacity: 1024 });
  }

  private static fail(msg: string): never {
    throw FirnError.invalidArgument(`malformed OTLP profiles request: ${msg}`);
  }

  decode(): OtlpDecoded {
    this.scanRequest();
    let accepted = 0;
    let rejected = 0;
    for (const [start, end] of this.resourceProfiles) {
      const r = this.readResourceProfiles(start, end);
      accepted += r.accepted;
      rejected += r.rejected;
    }
    if (accepted === 0 && rejected > 0) {
      throw FirnError.invalidArgument(`no profile in the request could be stored: ${this.errors.join('; ')}`);
    }
    return Object.assign(this.builder.build(), {
      truncatedStacks: this.truncatedStacks,
      acceptedProfiles: accepted,
      rejectedProfiles: rejected,
      errors: this.errors,
    });
  }

  // ── request and dictionary scan: offsets only ─────────────────────────────────────────────

  private scanRequest(): void {
    const r = new WireReader(this.buf, 0, this.buf.length, 'OTLP profiles request');
    let dictionary: [number, number] | undefined;
    while (!r.done()) {
      const tag = r.tag();
      if (tag === ((1 << 3) | 2)) {
        const e = r.lenEnd();
        this.resourceProfiles.push([r.pos, e]);
        r.pos = e;
      } else if (tag === ((2 << 3) | 2)) {
        const e = r.lenEnd();
        dictionary = [r.pos, e];
        r.pos = e;
      } else r.skip(tag & 7);
    }
    if (dictionary) this.scanDictionary(dictionary[0], dictionary[1]);
    // Entry 0 of every table is the zero value; a request may leave tables out entirely.
    if (this.tables[Table.String].length > 0 && this.str(0) !== '') OtlpDecoder.fail('dictionary.string_table[0] must be ""');
  }

  private scanDictionary(start: number, end: number): void {
    const r = new WireReader(this.buf, start, end, 'OTLP profiles dictionary');
    const max = Math.max(DICTIONARY_ENTRIES_FLOOR, DICTIONARY_ENTRIES_PER_SAMPLE * this.opts.limits.maxSamples);
    let entries = 0;
    while (!r.done()) {
      const tag = r.tag();
      const field = Math.floor(tag / 8);
      if (field >= Table.Mapping && field <= Table.Stack) {
        if ((tag & 7) !== 2) r.fail(`${TABLE_NAMES[field]} entry has wire type ${tag & 7}, want 2`);
        // Kept: the offset of the length prefix; the entry is read when a sample reaches it.
        this.tables[field].push(r.pos);
        r.pos = r.lenEnd();
        if (++entries > max) {
          throw FirnError.invalidArgument(`OTLP dictionary has more than ${max} entries (${DICTIONARY_ENTRIES_PER_SAMPLE} per allowed sample)`, {
            limit: 'max_samples',
          });
        }
      } else r.skip(tag & 7);
    }
  }

  /** [start, end) of dictionary entry `i` of `table`, or a ProfileError naming the bad index. */
  private entry(table: Table, i: number): [number, number] {
    const t = this.tables[table];
    if (!(Number.isInteger(i) && i >= 0 && i < t.length)) {
      throw new ProfileError(`${TABLE_NAMES[table]} index ${i} out of range (${t.length} entries)`);
    }
    const r = new WireReader(this.buf, t.at(i), this.buf.length, 'OTLP dictionary entry');
    const e = r.lenEnd();
    return [r.pos, e];
  }

  private str(i: number, what = 'string'): string {
    let s = this.strings.get(i);
    if (s === undefined) {
      const [start, end] = this.entry(Table.String, i);
      const bytes = this.buf.subarray(start, end);
      if (!isUtf8(bytes)) throw new ProfileError(`${what} (string_table[${i}]) is not valid UTF-8`);
      s = bytes.toString('utf8');
      this.strings.set(i, s);
    }
    return s;
  }

  // ── attributes ─────────────────────────────────────────────────────────────────────────────

  private attr(i: number): Attr {
    let a = this.attrs.get(i);
    if (a === undefined) {
      const [start, end] = this.entry(Table.Attribute, i);
      const r = new WireReader(this.buf, start, end, 'OTLP attribute');
      let key = 0;
      let value: string | undefined;
      while (!r.done()) {
        const tag = r.tag();
        if (tag === ((1 << 3) | 0)) key = r.varint();
        else if (tag === ((2 << 3) | 2)) {
          const e = r.lenEnd();
          value = this.anyValue(r, e);
          r.pos = e;
        } else r.skip(tag & 7);
      }
      a = [this.str(key, 'attribute key'), value];
      this.attrs.set(i, a);
    }
    return a;
  }

  /**
   * A scalar AnyValue as a label value (strings, ints, bools, doubles; a one-element array as its
   * element, as Pyroscope reads it); undefined for anything that is not a label.
   */
  private anyValue(r: WireReader, end: number): string | undefined {
    const outer = r.end;
    r.end = end;
    let out: string | undefined;
    while (!r.done()) {
      const tag = r.tag();
      switch (tag) {
        case (1 << 3) | 2: {
          const e = r.lenEnd();
          const bytes = this.buf.subarray(r.pos, e);
          if (!isUtf8(bytes)) throw new ProfileError('an attribute value is not valid UTF-8');
          out = bytes.toString('utf8');
          r.pos = e;
          break;
        }
        case (2 << 3) | 0:
          out = r.varint() !== 0 ? 'true' : 'false';
          break;
        case (3 << 3) | 0: {
          const p = r.pos;
          r.varint();
          out = BigInt.asIntN(64, varintBigAt(this.buf, p)).toString();
          break;
        }
        case (4 << 3) | 1: {
          if (r.pos + 8 > r.end) r.fail('truncated double');
          out = String(this.buf.readDoubleLE(r.pos));
          r.pos += 8;
          break;
        }
        case (5 << 3) | 2: {
          const e = r.lenEnd();
          out = this.singleArrayElement(r, e);
          r.pos = e;
          break;
        }
        default:
          out = undefined;
          r.skip(tag & 7);
      }
    }
    r.end = outer;
    return out;
  }

  private singleArrayElement(r: WireReader, end: number): string | undefined {
    const outer = r.end;
    r.end = end;
    let value: string | undefined;
    let n = 0;
    while (!r.done()) {
      const tag = r.tag();
      if (tag === ((1 << 3) | 2)) {
        const e = r.lenEnd();
        value = this.anyValue(r, e);
        r.pos = e;
        n++;
      } else r.skip(tag & 7);
    }
    r.end = outer;
    return n === 1 ? value : undefined;
  }

  /** Labels from a list of attribute indexes (packed or not) in field `field` of [start, end). */
  private indexedLabels(indexes: readonly number[], out: Array<[string, string]>): void {
    for (const i of indexes) this.pushLabel(this.attr(i), out);
  }

  private pushLabel([key, value]: Attr, out: Array<[string, string]>): void {
    if (value === undefined || value === '') return;
    const name = otlpLabelName(key);
    if (name !== undefined) out.push([name, value]);
  }

  /** Inline KeyValue list (Resource.attributes, InstrumentationScope.attributes). */
  private keyValue(r: WireReader, end: number): Attr {
    const outer = r.end;
    r.end = end;
    let key = '';
    let value: string | undefined;
    while (!r.done()) {
      const tag = r.tag();
      if (tag === ((1 << 3) | 2)) {
        const e = r.lenEnd();
        const bytes = this.buf.subarray(r.pos, e);
        if (!isUtf8(bytes)) throw new ProfileError('an attribute key is not valid UTF-8');
        key = bytes.toString('utf8');
        r.pos = e;
      } else if (tag === ((2 << 3) | 2)) {
        const e = r.lenEnd();
        value = this.anyValue(r, e);
        r.pos = e;
      } else r.skip(tag & 7);
    }
    r.end = outer;
    return [key, value];
  }

  // ── resource, scope, profile ──────────────────────────────────────────────────────────────

  private readResourceProfiles(start: number, end: number): { accepted: number; rejected: number } {
    const r = new WireReader(this.buf, start, end, 'OTLP ResourceProfiles');
    const resourceAttrs: Attr[] = [];
    const scopes: Array<[number, number]> = [];
    while (!r.done()) {
      const tag = r.tag();
      if (tag === ((1 << 3) | 2)) {
        const e = r.lenEnd();
        this.readAttributesOf(r, e, 1, resourceAttrs);
        r.pos = e;
      } else if (tag === ((2 << 3) | 2)) {
        const e = r.lenEnd();
        scopes.push([r.pos, e]);
        r.pos = e;
      } else r.skip(tag & 7);
    }
    let accepted = 0;
    let rejected = 0;
    for (const [s, e] of scopes) {
      const sr = new WireReader(this.buf, s, e, 'OTLP ScopeProfiles');
      const scopeAttrs: Attr[] = [];
      const profiles: Array<[number, number]> = [];
      while (!sr.done()) {
        const tag = sr.tag();
        if (tag === ((1 << 3) | 2)) {
          const pe = sr.lenEnd();
          this.readAttributesOf(sr, pe, 3, scopeAttrs);
          sr.pos = pe;
        } else if (tag === ((2 << 3) | 2)) {
          const pe = sr.lenEnd();
          profiles.push([sr.pos, pe]);
          sr.pos = pe;
        } else sr.skip(tag & 7);
      }
      for (const [ps, pe] of profiles) {
        try {
          this.readProfile(ps, pe, resourceAttrs, scopeAttrs);
          accepted++;
        } catch (err) {
          if (!(err instanceof ProfileError)) throw err;
          rejected++;
          if (this.errors.length < MAX_ERRORS) this.errors.push(err.message);
        }
      }
    }
    return { accepted, rejected };
  }

  /** The repeated KeyValue field `field` of the message in [r.pos, end) (Resource: 1, InstrumentationScope: 3). */
  private readAttributesOf(r: WireReader, end: number, field: number, out: Attr[]): void {
    const outer = r.end;
    r.end = end;
    while (!r.done()) {
      const tag = r.tag();
      if (tag === ((field << 3) | 2)) {
        const e = r.lenEnd();
        try {
          out.push(this.keyValue(r, e));
        } catch (err) {
          // A bad resource attribute fails every profile of the resource, not the request.
          if (!(err instanceof ProfileError)) throw err;
          out.push(['', undefined]);
        }
        r.pos = e;
      } else r.skip(tag & 7);
    }
    r.end = outer;
  }

  private readProfile(start: number, end: number, resourceAttrs: readonly Attr[], scopeAttrs: readonly Attr[]): void {
    const r = new WireReader(this.buf, start, end, 'OTLP Profile');
    let sampleType: [number, number] | undefined;
    let periodType: [number, number] | undefined;
    let period = 0;
    let timeNanos = 0n;
    let durationNanos = 0;
    const attrIdx: number[] = [];
    const samples: Array<[number, number]> = [];
    while (!r.done()) {
      const tag = r.tag();
      switch (tag) {
        case (1 << 3) | 2:
          sampleType = this.valueType(r);
          break;
        case (2 << 3) | 2: {
          const e = r.lenEnd();
          samples.push([r.pos, e]);
          r.pos = e;
          break;
        }
        case (3 << 3) | 1:
          if (r.pos + 8 > r.end) r.fail('truncated time_unix_nano');
          timeNanos = this.buf.readBigUInt64LE(r.pos);
          r.pos += 8;
          break;
        case (4 << 3) | 0:
          durationNanos = r.varint();
          break;
        case (5 << 3) | 2:
          periodType = this.valueType(r);
          break;
        case (6 << 3) | 0: {
          const p = r.pos;
          r.varint();
          const v = BigInt.asIntN(64, varintBigAt(this.buf, p));
          if (v < 0n) throw new ProfileError(`negative period ${v}`);
          period = Number(v);
          break;
        }
        case (11 << 3) | 2:
        case (11 << 3) | 0:
          this.int32List(r, tag, attrIdx);
          break;
        default:
          r.skip(tag & 7);
      }
    }
    this.samples += samples.length;
    if (this.samples > this.opts.limits.maxSamples) {
      throw FirnError.invalidArgument(`OTLP request has more than ${this.opts.limits.maxSamples} samples`, { limit: 'max_samples' });
    }
    if (!sampleType) throw new ProfileError('profile has no sample_type');
    const type = this.profileTypeOf(sampleType, periodType, period);

    const base: Array<[string, string]> = [];
    for (const a of resourceAttrs) this.pushLabel(a, base);
    for (const a of scopeAttrs) this.pushLabel(a, base);
    this.indexedLabels(attrIdx, base);
    if (!base.some(([n]) => n === 'service_name')) base.push(['service_name', fallbackServiceName(resourceAttrs)]);

    const tsMs = timeNanos > 0n ? Number(timeNanos / 1_000_000n) : this.opts.nowMs;
    const builder = this.builder;
    const pt = builder.addProfileType(type.id);
    const baseSeries = this.series(base);
    const seriesByAttrs = new Map<string, number>();
    // Everything is checked before the first row is added, so a rejected profile adds no rows.
    const rows: number[] = [];
    const sampleAttrs: number[] = [];
    for (const [s, e] of samples) {
      const sr = new WireReader(this.buf, s, e, 'OTLP Sample');
      let stackIndex = 0;
      let value: number | undefined;
      let timestamps = 0;
      let linkIndex = 0;
      sampleAttrs.length = 0;
      while (!sr.done()) {
        const tag = sr.tag();
        switch (tag) {
          case (1 << 3) | 0:
            stackIndex = sr.varint();
            break;
          case (2 << 3) | 2:
          case (2 << 3) | 0: {
            const vs: number[] = [];
            this.int64List(sr, tag, vs);
            if (vs.length > 0 && value === undefined) value = vs[0];
            break;
          }
          case (3 << 3) | 2:
          case (3 << 3) | 0:
            this.int32List(sr, tag, sampleAttrs);
            break;
          case (4 << 3) | 0:
            linkIndex = sr.varint();
            break;
          case (5 << 3) | 2: {
            const te = sr.lenEnd();
            if ((te - sr.pos) % 8 !== 0) sr.fail('packed timestamps_unix_nano is not a multiple of 8 bytes');
            timestamps += (te - sr.pos) / 8;
            sr.pos = te;
            break;
          }
          case (5 << 3) | 1:
            sr.skip(1);
            timestamps++;
            break;
          default:
            sr.skip(tag & 7);
        }
      }
      const v = value ?? (timestamps > 0 ? timestamps : undefined);
      if (v === undefined) throw new ProfileError('a sample has neither values nor timestamps');
      if (v < 0 || !Number.isSafeInteger(v)) throw new ProfileError(`a sample value ${v} is negative or above 2^53`);
      const scaled = v * type.scale;
      if (!Number.isSafeInteger(scaled)) throw new ProfileError(`a sample value ${v} × period ${type.scale} is above 2^53`);
      if (scaled === 0) continue;
      let series = baseSeries;
      if (sampleAttrs.length > 0) {
        const key = sampleAttrs.join(',');
        let si = seriesByAttrs.get(key);
        if (si === undefined) {
          const own: Array<[string, string]> = [];
          this.indexedLabels(sampleAttrs, own);
          si = own.length === 0 ? baseSeries : this.series(mergeLabels(base, own));
          seriesByAttrs.set(key, si);
        }
        series = si;
      }
      const packed = this.stack(stackIndex);
      if (linkIndex !== 0) this.linkSpan(linkIndex); // checked now: a bad index rejects the profile before any row
      rows.push(series, packed, scaled, linkIndex);
    }
    for (let i = 0; i < rows.length; i += 4) {
      const packed = rows[i + 1];
      if ((packed & 1) === 1) this.truncatedStacks++;
      const spanId = rows[i + 3] === 0 ? '' : this.linkSpan(rows[i + 3]);
      builder.addRow(pt, rows[i], packed >>> 1, rows[i + 2], tsMs, durationNanos, type.periodNs, spanId === '' ? 0 : builder.addSpan(spanId));
    }
  }

  private series(labels: ReadonlyArray<readonly [string, string]>): number {
    try {
      return this.builder.addSeries(labels);
    } catch (err) {
      if (err instanceof FirnError) throw new ProfileError(err.message);
      throw err;
    }
  }

  private valueType(r: WireReader): [number, number] {
    const e = r.lenEnd();
    const outer = r.end;
    r.end = e;
    let type = 0;
    let unit = 0;
    while (!r.done()) {
      const tag = r.tag();
      if (tag === ((1 << 3) | 0)) type = r.varint();
      else if (tag === ((2 << 3) | 0)) unit = r.varint();
      else r.skip(tag & 7);
    }
    r.end = outer;
    return [type, unit];
  }

  /** Repeated int32 (packed or not), as non-negative indexes. */
  private int32List(r: WireReader, tag: number, out: number[]): void {
    if ((tag & 7) === 0) {
      out.push(r.varint());
      return;
    }
    const e = r.lenEnd();
    while (r.pos < e) out.push(r.varint());
    if (r.pos !== e) r.fail('packed list overruns');
  }

  /** Repeated int64 (packed or not); negative values come back negative. */
  private int64List(r: WireReader, tag: number, out: number[]): void {
    const one = (): void => {
      const p = r.pos;
      const v = r.varint();
      out.push(v <= Number.MAX_SAFE_INTEGER ? v : Number(BigInt.asIntN(64, varintBigAt(this.buf, p))));
    };
    if ((tag & 7) === 0) {
      one();
      return;
    }
    const e = r.lenEnd();
    while (r.pos < e) one();
    if (r.pos !== e) r.fail('packed list overruns');
  }

  private profileTypeOf(
    sampleType: [number, number],
    periodType: [number, number] | undefined,
    period: number,
  ): { id: string; scale: number; periodNs: number } {
    let st = this.str(sampleType[0], 'sample type');
    let su = this.str(sampleType[1], 'sample unit');
    const hasPeriod = periodType !== undefined && period !== 0;
    const pt = hasPeriod ? this.str(periodType[0], 'period type') : '';
    const pu = hasPeriod ? this.str(periodType[1], 'period unit') : '';
    if (st === '') throw new ProfileError('sample_type has an empty type');
    let name = st;
    let scale = 1;
    if (st === 'samples' && su === 'count' && pt === 'cpu' && pu === 'nanoseconds') {
      name = 'process_cpu';
      st = 'cpu';
      su = 'nanoseconds';
      scale = period;
    } else if (st === 'off_cpu') {
      name = 'off_cpu';
    }
    const id = formatProfileType({ name, sampleType: st, sampleUnit: su, periodType: pt, periodUnit: pu, delta: isDeltaSampleType(st, pt) });
    try {
      parseProfileType(id);
    } catch (err) {
      throw new ProfileError(err instanceof Error ? err.message : String(err));
    }
    return { id, scale, periodNs: pu === 'nanoseconds' ? period : 0 };
  }

  // ── stacks, locations, mappings, functions ────────────────────────────────────────────────

  /** Builder stack index * 2 + truncated bit for stack_table[i]. */
  /**
   * The span id of trace link `i` (link_table), as hex: stored per row like a pprof `span_id`
   * label, so `SelectMergeSpanProfile` finds OTLP samples of a span too. A link without an
   * 8-byte non-zero span id has no span. Read while checking the profile, so a bad index rejects it.
   */
  private linkSpan(i: number): string {
    let id = this.linkSpans.get(i);
    if (id !== undefined) return id;
    const [s, e] = this.entry(Table.Link, i);
    const r = new WireReader(this.buf, s, e, 'OTLP Link');
    id = '';
    while (!r.done()) {
      const tag = r.tag();
      if (tag === ((2 << 3) | 2)) {
        const se = r.lenEnd();
        const bytes = this.buf.subarray(r.pos, se);
        id = bytes.length === 8 && bytes.some((b) => b !== 0) ? bytes.toString('hex') : '';
        r.pos = se;
      } else r.skip(tag & 7);
    }
    this.linkSpans.set(i, id);
    return id;
  }

  private stack(i: number): number {
    let packed = this.stacks.get(i);
    if (packed !== undefined) return packed;
    const [start, end] = this.entry(Table.Stack, i);
    const r = new WireReader(this.buf, start, end, 'OTLP Stack');
    const locs: number[] = [];
    while (!r.done()) {
      const tag = r.tag();
      if (tag === ((1 << 3) | 2) || tag === ((1 << 3) | 0)) this.int32List(r, tag, locs);
      else r.skip(tag & 7);
    }
    const maxDepth = this.opts.limits.maxStackDepth;
    const frames: Frame[] = [];
    let total = 0;
    const infos: LocationInfo[] = [];
    for (const l of locs) {
      const info = this.location(l);
      infos.push(info);
      total += info.frames.length;
    }
    const truncated = total > maxDepth;
    const n = truncated ? maxDepth : total;
    if (this.scratchIds.length < n) this.scratchIds = new Int32Array(Math.max(n, this.scratchIds.length * 2));
    const ids = this.scratchIds;
    let k = 0;
    for (const info of infos) {
      for (let j = 0; j < info.frames.length && k < n; j++) {
        ids[k] = info.ids[j];
        frames[k++] = info.frames[j];
      }
      if (k >= n) break;
    }
    packed = this.builder.addStackByIds(frames, ids) * 2 + (truncated ? 1 : 0);
    this.stacks.set(i, packed);
    return packed;
  }

  private location(i: number): LocationInfo {
    let info = this.locations.get(i);
    if (info !== undefined) return info;
    const [start, end] = this.entry(Table.Location, i);
    const r = new WireReader(this.buf, start, end, 'OTLP Location');
    let mappingIndex = 0;
    let addrPos = -1;
    const lines: number[] = [];
    while (!r.done()) {
      const tag = r.tag();
      if (tag === ((1 << 3) | 0)) mappingIndex = r.varint();
      else if (tag === ((2 << 3) | 0)) {
        addrPos = r.pos;
        r.varint();
      } else if (tag === ((3 << 3) | 2)) {
        const e = r.lenEnd();
        const outer = r.end;
        r.end = e;
        let fn = 0;
        let line = 0;
        while (!r.done()) {
          const lt = r.tag();
          if (lt === ((1 << 3) | 0)) fn = r.varint();
          else if (lt === ((2 << 3) | 0)) line = r.varint();
          else r.skip(lt & 7);
        }
        r.end = outer;
        lines.push(fn, line);
      } else r.skip(tag & 7);
    }
    const m = mappingIndex !== 0 ? this.mapping(mappingIndex) : undefined;
    let address = addrPos >= 0 ? varintBigAt(this.buf, addrPos) : 0n;
    const buildId = m?.buildId ?? '';
    const mappingFile = m?.file ?? '';
    const frames: Frame[] = [];
    const n = lines.length / 2;
    if (n === 0) {
      // Unsymbolized native frame: the symbolizer resolves file offsets.
      if (m && m.memStart !== 0n && address >= m.memStart) address = address - m.memStart + m.fileOffset;
      frames.push({ buildId, mappingFile, address, functionName: '', fileName: '', line: 0, inlined: false });
    } else {
      for (let j = 0; j < n; j++) {
        const fi = lines[2 * j];
        const line = lines[2 * j + 1];
        const fn = fi !== 0 ? this.func(fi) : { name: '', file: '' };
        frames.push({
          buildId,
          mappingFile,
          address,
          functionName: fn.name,
          fileName: fn.file,
          line: line <= Number.MAX_SAFE_INTEGER ? line : 0,
          inlined: j < n - 1,
        });
      }
    }
    info = { frames, ids: Int32Array.from(frames, (f) => this.builder.internFrame(f)) };
    this.locations.set(i, info);
    return info;
  }

  private mapping(i: number): MappingInfo {
    let m = this.mappings.get(i);
    if (m !== undefined) return m;
    const [start, end] = this.entry(Table.Mapping, i);
    const r = new WireReader(this.buf, start, end, 'OTLP Mapping');
    let memStart = 0n;
    let fileOffset = 0n;
    let file = 0;
    const attrIdx: number[] = [];
    while (!r.done()) {
      const tag = r.tag();
      const p = r.pos;
      if (tag === ((1 << 3) | 0)) {
        r.varint();
        memStart = varintBigAt(this.buf, p);
      } else if (tag === ((3 << 3) | 0)) {
        r.varint();
        fileOffset = varintBigAt(this.buf, p);
      } else if (tag === ((4 << 3) | 0)) file = r.varint();
      else if (tag === ((5 << 3) | 2) || tag === ((5 << 3) | 0)) this.int32List(r, tag, attrIdx);
      else r.skip(tag & 7);
    }
    let buildId = '';
    for (const key of BUILD_ID_KEYS) {
      for (const a of attrIdx) {
        const [k, v] = this.attr(a);
        if (k === key && v) {
          buildId = /^[0-9A-Fa-f]+$/.test(v) ? v.toLowerCase() : v;
          break;
        }
      }
      if (buildId) break;
    }
    m = { file: this.str(file, 'mapping file name'), buildId, memStart, fileOffset };
    this.mappings.set(i, m);
    return m;
  }

  private func(i: number): { name: string; file: string } {
    let f = this.functions.get(i);
    if (f !== undefined) return f;
    const [start, end] = this.entry(Table.Function, i);
    const r = new WireReader(this.buf, start, end, 'OTLP Function');
    let name = 0;
    let system = 0;
    let file = 0;
    while (!r.done()) {
      const tag = r.tag();
      if (tag === ((1 << 3) | 0)) name = r.varint();
      else if (tag === ((2 << 3) | 0)) system = r.varint();
      else if (tag === ((3 << 3) | 0)) file = r.varint();
      else r.skip(tag & 7);
    }
    f = { name: this.str(name !== 0 ? name : system, 'function name'), file: this.str(file, 'function file name') };
    this.functions.set(i, f);
    return f;
  }
}

/** Pyroscope's rule: `unknown_service:<process.executable.name>`, else `unknown_service`. */
function fallbackServiceName(resourceAttrs: readonly Attr[]): string {
  const exe = resourceAttrs.find(([k, v]) => k === 'process.executable.name' && v)?.[1];
  return exe ? `unknown_service:${exe}` : 'unknown_service';
}

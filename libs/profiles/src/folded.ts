import { FirnError } from '@firn/errors';
import { formatProfileType, isDeltaSampleType, type ProfileType } from './profile-type';
import { SampleBatchBuilder, type Frame, type SampleBatch } from './sample-batch';

/**
 * How a Pyroscope app-name suffix (`myapp.cpu`, `myapp.alloc_space`, ...) maps to a profile
 * type, following Pyroscope's legacy ingest adapter. For `cpu`, `itimer` and `wall` the folded
 * values are sample counts; they are multiplied by the period (1e9 / sampleRate ns) and stored
 * as `cpu:nanoseconds` / `wall:nanoseconds`, exactly as Pyroscope does.
 */
interface LegacyType {
  name: string;
  sampleType: string;
  sampleUnit: string;
  /** Scale counts by the sampling period into nanoseconds. */
  timed?: 'cpu' | 'wall';
}

const LEGACY_TYPES: Record<string, LegacyType> = {
  cpu: { name: 'process_cpu', sampleType: 'cpu', sampleUnit: 'nanoseconds', timed: 'cpu' },
  itimer: { name: 'process_cpu', sampleType: 'cpu', sampleUnit: 'nanoseconds', timed: 'cpu' },
  wall: { name: 'wall', sampleType: 'wall', sampleUnit: 'nanoseconds', timed: 'wall' },
  inuse_objects: { name: 'memory', sampleType: 'inuse_objects', sampleUnit: 'count' },
  inuse_space: { name: 'memory', sampleType: 'inuse_space', sampleUnit: 'bytes' },
  alloc_objects: { name: 'memory', sampleType: 'alloc_objects', sampleUnit: 'count' },
  alloc_space: { name: 'memory', sampleType: 'alloc_space', sampleUnit: 'bytes' },
  goroutines: { name: 'goroutine', sampleType: 'goroutines', sampleUnit: 'count' },
  mutex_count: { name: 'mutex', sampleType: 'contentions', sampleUnit: 'count' },
  mutex_duration: { name: 'mutex', sampleType: 'delay', sampleUnit: 'nanoseconds' },
  block_count: { name: 'block', sampleType: 'contentions', sampleUnit: 'count' },
  block_duration: { name: 'block', sampleType: 'delay', sampleUnit: 'nanoseconds' },
  lock_count: { name: 'block', sampleType: 'contentions', sampleUnit: 'count' },
  lock_duration: { name: 'block', sampleType: 'delay', sampleUnit: 'nanoseconds' },
  alloc_in_new_tlab_objects: { name: 'memory', sampleType: 'alloc_in_new_tlab_objects', sampleUnit: 'count' },
  alloc_in_new_tlab_bytes: { name: 'memory', sampleType: 'alloc_in_new_tlab_bytes', sampleUnit: 'bytes' },
  alloc_outside_tlab_objects: { name: 'memory', sampleType: 'alloc_outside_tlab_objects', sampleUnit: 'count' },
  alloc_outside_tlab_bytes: { name: 'memory', sampleType: 'alloc_outside_tlab_bytes', sampleUnit: 'bytes' },
  live: { name: 'memory', sampleType: 'live', sampleUnit: 'count' },
  exceptions: { name: 'exceptions', sampleType: 'samples', sampleUnit: 'count' },
};

export function isPyroscopeSampleType(suffix: string): boolean {
  return Object.prototype.hasOwnProperty.call(LEGACY_TYPES, suffix);
}

/**
 * The profile type (and the factor applied to values) for a Pyroscope legacy suffix.
 * Period type follows Pyroscope: `cpu:nanoseconds` for timed types, else empty. The `:delta`
 * flag follows isDeltaSampleType so folded and pprof CPU data from one app share a type.
 */
export function pyroscopeProfileType(suffix: string, sampleRate: number, nameOverride?: string): { profileType: ProfileType; scale: number; periodNs: number } {
  const t = LEGACY_TYPES[suffix];
  if (t === undefined || !isPyroscopeSampleType(suffix)) {
    throw FirnError.invalidArgument(`unknown Pyroscope profile type "${suffix}"`);
  }
  let periodType = '';
  let periodUnit = '';
  let scale = 1;
  let periodNs = 0;
  if (t.timed) {
    if (!(sampleRate > 0 && Number.isFinite(sampleRate))) throw FirnError.invalidArgument(`invalid sampleRate ${sampleRate}`);
    periodNs = Math.floor(1e9 / sampleRate);
    scale = periodNs;
    periodType = 'cpu';
    periodUnit = 'nanoseconds';
  }
  return {
    profileType: {
      name: nameOverride ?? t.name,
      sampleType: t.sampleType,
      sampleUnit: t.sampleUnit,
      periodType,
      periodUnit,
      delta: isDeltaSampleType(t.sampleType, periodType),
    },
    scale,
    periodNs,
  };
}

export interface FoldedOptions {
  seriesLabels: ReadonlyArray<readonly [string, string]>;
  /** `from` of the upload (ms); becomes every row's timestamp. */
  fromMs: number;
  /** `until` of the upload (ms); until - from becomes the duration. */
  untilMs: number;
  /** Pyroscope app-name suffix (`cpu` by default); see pyroscopeProfileType. */
  sampleType?: string;
  /** Hz, Pyroscope's `sampleRate` parameter (default 100). */
  sampleRate?: number;
  /** Overrides the profile name derived from the sample type (e.g. `process_cpu`). */
  name?: string;
  /** Counted while reading (see PprofLimits): lines, stack depth, distinct frame names, series, stack frames. */
  limits?: { maxSamples?: number; maxStackDepth?: number; maxSymbols?: number; maxSeries?: number; maxStackFrames?: number };
}

/**
 * Parses Pyroscope `format=folded` (a.k.a. `lines`) bodies: one `root;child;leaf <count>` per
 * line. Frames carry only the function name. Stacks deeper than maxStackDepth keep their
 * leaf-most frames.
 */
export function samplesFromFolded(input: string | Uint8Array, opts: FoldedOptions): SampleBatch & { truncatedStacks: number } {
  const { profileType, scale, periodNs } = pyroscopeProfileType(opts.sampleType ?? 'cpu', opts.sampleRate ?? 100, opts.name);
  const maxSamples = opts.limits?.maxSamples ?? Infinity;
  const maxDepth = opts.limits?.maxStackDepth ?? Infinity;
  const maxNames = opts.limits?.maxSymbols ?? Infinity;
  if (!Number.isSafeInteger(opts.fromMs)) throw FirnError.invalidArgument(`invalid from ${opts.fromMs}`);
  const durationNs = opts.untilMs > opts.fromMs ? (opts.untilMs - opts.fromMs) * 1e6 : 0;

  const builder = new SampleBatchBuilder({ maxSeries: opts.limits?.maxSeries, maxStackFrames: opts.limits?.maxStackFrames });
  const pt = builder.addProfileType(formatProfileType(profileType));
  const series = builder.addSeries(opts.seriesLabels);
  const frameCache = new Map<string, Frame>();
  const stackCache = new Map<string, number>();
  let truncatedStacks = 0;
  let samples = 0;

  // Bytes are decoded line by line: one string per line instead of one for the whole body (which
  // doubles for non-Latin-1 text), and every cached stack key is its own line's text.
  const bytes = typeof input === 'string' ? undefined : Buffer.from(input.buffer, input.byteOffset, input.byteLength);
  const text = typeof input === 'string' ? input : '';
  const total = bytes ? bytes.length : text.length;
  let lineNo = 0;
  let start = 0;
  while (start <= total) {
    let nl = bytes ? bytes.indexOf(10, start) : text.indexOf('\n', start);
    if (nl < 0) nl = total;
    lineNo++;
    let line = bytes ? bytes.toString('utf8', start, nl) : text.slice(start, nl);
    start = nl + 1;
    if (line.endsWith('\r')) line = line.slice(0, -1);
    if (line.trim() === '') continue;
    const sp = line.lastIndexOf(' ');
    if (sp <= 0) throw FirnError.invalidArgument(`folded line ${lineNo}: want "frame;frame;... <count>"`);
    const countText = line.slice(sp + 1);
    if (!/^\d+$/.test(countText)) throw FirnError.invalidArgument(`folded line ${lineNo}: count "${countText.slice(0, 32)}" is not a non-negative integer`);
    const count = Number(countText) * scale;
    if (!Number.isSafeInteger(count)) throw FirnError.invalidArgument(`folded line ${lineNo}: count ${countText} is too large`);
    if (++samples > maxSamples) {
      throw FirnError.invalidArgument(`folded profile has more than ${maxSamples} lines`, { limit: 'max_samples' });
    }
    const stackText = line.slice(0, sp);
    let entry = stackCache.get(stackText);
    if (entry === undefined) {
      // Only the leaf-most maxDepth names are kept: find where they start from the end, so a
      // stack of millions of frames is never split into millions of strings.
      let cutAt = stackText.length;
      for (let found = 0; found < maxDepth; found++) {
        const semi = cutAt > 0 ? stackText.lastIndexOf(';', cutAt - 1) : -1;
        if (semi < 0) {
          cutAt = -1;
          break;
        }
        cutAt = semi;
      }
      const truncated = cutAt >= 0;
      const names = stackText.slice(cutAt + 1).split(';');
      names.reverse(); // text is root first; stacks are leaf first
      const frames = names.map((n) => {
        let f = frameCache.get(n);
        if (f === undefined) {
          if (frameCache.size >= maxNames) {
            throw FirnError.invalidArgument(`folded profile has more than ${maxNames} distinct frame names`, { limit: 'max_profile_symbols' });
          }
          f = { buildId: '', mappingFile: '', address: 0n, functionName: n, fileName: '', line: 0, inlined: false };
          frameCache.set(n, f);
        }
        return f;
      });
      entry = builder.addStack(frames) * 2 + (truncated ? 1 : 0);
      stackCache.set(stackText, entry);
    }
    if ((entry & 1) === 1) truncatedStacks++;
    builder.addRow(pt, series, entry >>> 1, count, opts.fromMs, durationNs, periodNs);
  }
  return Object.assign(builder.build(), { truncatedStacks });
}

/**
 * Parses Pyroscope's `name` query parameter: `app.cpu{env=prod,region=eu}`. The suffix after
 * the last dot is the profile kind when it is a known one, else the whole name is the app and
 * the kind defaults to `cpu`.
 */
export function parsePyroscopeName(name: string): { appName: string; sampleType: string; labels: Array<[string, string]> } {
  const brace = name.indexOf('{');
  const base = (brace < 0 ? name : name.slice(0, brace)).trim();
  const labels: Array<[string, string]> = [];
  if (brace >= 0) {
    if (!name.endsWith('}')) throw FirnError.invalidArgument(`invalid name "${name}": missing closing "}"`);
    const inner = name.slice(brace + 1, -1).trim();
    if (inner !== '') {
      for (const part of inner.split(',')) {
        const eq = part.indexOf('=');
        if (eq <= 0) throw FirnError.invalidArgument(`invalid name "${name}": label "${part}" is not key=value`);
        labels.push([part.slice(0, eq).trim(), part.slice(eq + 1).trim()]);
      }
    }
  }
  if (base === '') throw FirnError.invalidArgument('invalid name: empty application name');
  const dot = base.lastIndexOf('.');
  const suffix = dot > 0 ? base.slice(dot + 1) : '';
  if (isPyroscopeSampleType(suffix)) return { appName: base.slice(0, dot), sampleType: suffix, labels };
  return { appName: base, sampleType: 'cpu', labels };
}

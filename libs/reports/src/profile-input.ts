import { frameContent, type Frame } from '@firn/profiles';
import type { StackProfile } from './stack-profile';

/** Distinct frames of a profile and every stack as frame ids (leaf first, like the input). */
export interface InternedStacks {
  frames: Frame[];
  stacks: Int32Array[];
}

/**
 * Process-wide numbers of a string made from each frame (its content, `frameContent`, for
 * FrameIds; a report's merge key for keyIds), kept per Frame object: a querier meets the same
 * frames (its stack catalogs', the explained copies, the resolver's answers) query after query,
 * so a frame's number is one WeakMap read instead of a string and a fresh hash map per query
 * (≈ 10 ms → 1 ms for the 15 k frames of a fleet flame graph). The strings stay held until the
 * numbering is restarted, once it holds MAX_FRAME_NUMBERS strings (tens of MB at most), which
 * costs the next query of each frame one hash look-up. One instance per string function.
 */
class FrameNumbers {
  private readonly byString = new Map<string, number>();
  private readonly byFrame = new WeakMap<Frame, number>();

  get full(): boolean {
    return this.byString.size >= MAX_FRAME_NUMBERS;
  }

  numberOf(f: Frame, stringOf: (f: Frame) => string): number {
    let n = this.byFrame.get(f);
    if (n === undefined) {
      const c = stringOf(f);
      n = this.byString.get(c);
      if (n === undefined) this.byString.set(c, (n = this.byString.size));
      this.byFrame.set(f, n);
    }
    return n;
  }
}

const MAX_FRAME_NUMBERS = 1 << 19;
let contentNumbers = new FrameNumbers();

/**
 * Local ids by content number, for the FrameIds that claimed them last (`epoch`, never reused):
 * `stamp[n] === epoch` says `local[n]` is its id for content n. Another FrameIds used in between
 * (interleaved, or of an older numbering) claims them with a new epoch and re-stamps its own
 * frames first, so each instance's answers never depend on the others'.
 */
interface StampScratch {
  epoch: number;
  stamp: Float64Array;
  local: Int32Array;
}

const scratch: StampScratch = { epoch: 0, stamp: new Float64Array(1024), local: new Int32Array(1024) };

/** Grows a stamp scratch (doubling) until it has an entry for number n, keeping its entries. */
function growFor(s: StampScratch, n: number): void {
  if (n < s.stamp.length) return;
  let size = s.stamp.length;
  while (size <= n) size *= 2;
  const stamp = new Float64Array(size);
  stamp.set(s.stamp);
  const local = new Int32Array(size);
  local.set(s.local);
  s.stamp = stamp;
  s.local = local;
}

/**
 * Dense ids of frames by content, in the order they are first met. The content of each Frame
 * object is numbered once per process (FrameNumbers), so a look-up is a WeakMap read and two
 * typed-array reads.
 */
export class FrameIds {
  readonly frames: Frame[] = [];
  /** The content number of each id. */
  private readonly numbers: number[] = [];
  private readonly contents: FrameNumbers;
  /** The scratch epoch this instance claimed last (-1: none yet). */
  private epoch = -1;

  constructor() {
    if (contentNumbers.full) contentNumbers = new FrameNumbers();
    this.contents = contentNumbers;
  }

  idOf(f: Frame): number {
    const n = this.contents.numberOf(f, frameContent);
    if (scratch.epoch !== this.epoch) this.claimScratch();
    growFor(scratch, n);
    if (scratch.stamp[n] === this.epoch) return scratch.local[n];
    const id = this.frames.push(f) - 1;
    this.numbers.push(n);
    scratch.stamp[n] = this.epoch;
    scratch.local[n] = id;
    return id;
  }

  private claimScratch(): void {
    this.epoch = ++scratch.epoch;
    for (let id = 0; id < this.numbers.length; id++) {
      const n = this.numbers[id];
      growFor(scratch, n);
      scratch.stamp[n] = this.epoch;
      scratch.local[n] = id;
    }
  }
}

/** What internStacks would answer for a stacks array, told by whoever built that array. */
const known = new WeakMap<readonly Frame[][], InternedStacks>();

/**
 * Records that `stacks` interns to `interned` (exactly what internStacks would compute: FrameIds
 * over the stacks in order), so reports rendering it skip that walk over every frame. For arrays
 * nobody changes afterwards, as every profile's stacks are.
 */
export function rememberInterned(stacks: readonly Frame[][], interned: InternedStacks): void {
  known.set(stacks, interned);
}

/** Interns frames by content (FrameIds), each stack as the ids of its frames. */
export function internStacks(p: StackProfile): InternedStacks {
  const remembered = known.get(p.stacks);
  if (remembered) return remembered;
  const ids = new FrameIds();
  const stacks: Int32Array[] = new Array<Int32Array>(p.stacks.length);
  for (let s = 0; s < p.stacks.length; s++) {
    const stack = p.stacks[s];
    const out = new Int32Array(stack.length);
    for (let i = 0; i < stack.length; i++) out[i] = ids.idOf(stack[i]);
    stacks[s] = out;
  }
  return { frames: ids.frames, stacks };
}

const addressKeys = new WeakMap<Frame, string>();

/**
 * `buildId NUL mappingFile NUL address`, what reports merge unsymbolized frames by; kept per
 * Frame object (frames are never changed), since a querier meets the same frames query after
 * query and the address's BigInt to decimal is the costly part.
 */
export function addressKey(f: Frame): string {
  let k = addressKeys.get(f);
  if (k === undefined) addressKeys.set(f, (k = `${f.buildId}\u0000${f.mappingFile}\u0000${f.address}`));
  return k;
}

/**
 * Maps each frame id to a dense key id, frames with equal `key(frame)` sharing one, in the order
 * they are first met. With `unnamedKey`, frames without a function name are keyed by it instead,
 * apart from the named ones (no prefix needed to tell the two apart): keys that are long-lived
 * strings (a function name, addressKey) keep their hash from one query to the next.
 *
 * With `cacheAs`, a name that stands for exactly this pair of key functions (the same name must
 * always mean the same keys), each Frame object's key is numbered once per process
 * (`FrameNumbers`): a querier meets the same frames query after query, and a WeakMap read replaces
 * building the key and a look-up in a fresh hash map per frame.
 */
export function keyIds(
  frames: readonly Frame[],
  key: (f: Frame) => string,
  unnamedKey?: (f: Frame) => string,
  cacheAs?: string,
): { ids: Int32Array; count: number } {
  if (cacheAs !== undefined) return numberedKeyIds(frames, key, unnamedKey, cacheAs);
  const ids = new Int32Array(frames.length);
  const seen = new Map<string, number>();
  const seenUnnamed = unnamedKey ? new Map<string, number>() : seen;
  let count = 0;
  for (let i = 0; i < frames.length; i++) {
    const f = frames[i];
    const unnamed = unnamedKey !== undefined && f.functionName === '';
    const k = unnamed ? unnamedKey(f) : key(f);
    const map = unnamed ? seenUnnamed : seen;
    let id = map.get(k);
    if (id === undefined) map.set(k, (id = count++));
    ids[i] = id;
  }
  return { ids, count };
}

const keyNumbers = new Map<string, FrameNumbers>();
/** Dense ids by key number for the call that stamped them (`epoch`, one per call: keyIds runs to its end). */
const keyScratch: StampScratch = { epoch: 0, stamp: new Float64Array(1024), local: new Int32Array(1024) };

function numberedKeyIds(
  frames: readonly Frame[],
  key: (f: Frame) => string,
  unnamedKey: ((f: Frame) => string) | undefined,
  cacheAs: string,
): { ids: Int32Array; count: number } {
  let numbers = keyNumbers.get(cacheAs);
  if (numbers === undefined || numbers.full) keyNumbers.set(cacheAs, (numbers = new FrameNumbers()));
  // Named and unnamed keys apart, as the maps of the uncached path keep them (made once per frame).
  const keyOf = (f: Frame): string => (unnamedKey !== undefined && f.functionName === '' ? `u${unnamedKey(f)}` : `n${key(f)}`);
  const epoch = ++keyScratch.epoch;
  const ids = new Int32Array(frames.length);
  let count = 0;
  for (let i = 0; i < frames.length; i++) {
    const n = numbers.numberOf(frames[i], keyOf);
    if (n >= keyScratch.stamp.length) growFor(keyScratch, n);
    if (keyScratch.stamp[n] === epoch) ids[i] = keyScratch.local[n];
    else {
      keyScratch.stamp[n] = epoch;
      keyScratch.local[n] = count;
      ids[i] = count++;
    }
  }
  return { ids, count };
}

export function sumValues(values: Float64Array): number {
  let t = 0;
  for (let i = 0; i < values.length; i++) t += values[i];
  return t;
}

/**
 * Per-stack diff values B - A, Parca's ComputeDiff: unless `absolute`, the side with the
 * smaller total is scaled up to the other's total (each product truncated toward zero, as
 * Go's int64 conversion does). A missing `base` counts as all zeros.
 */
export function diffValues(p: StackProfile, absolute: boolean): Float64Array {
  const n = p.values.length;
  const b = p.values;
  const a = p.base ?? new Float64Array(n);
  let ratioA = 1;
  let ratioB = 1;
  if (!absolute) {
    const totalB = sumValues(b);
    const totalA = sumValues(a);
    if (totalB > totalA && totalA > 0) ratioA = totalB / totalA;
    if (totalA > totalB && totalB > 0) ratioB = totalA / totalB;
  }
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.trunc(b[i] * ratioB) - Math.trunc(a[i] * ratioA);
  return out;
}

/** The last path element, split on '/' only (Grafana's getLastItem). */
export function basename(path: string): string {
  const i = path.lastIndexOf('/');
  return i < 0 ? path : path.slice(i + 1);
}

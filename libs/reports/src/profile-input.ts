import { frameContent, type Frame } from '@firn/profiles';
import type { StackProfile } from './stack-profile';

/** Distinct frames of a profile and every stack as frame ids (leaf first, like the input). */
export interface InternedStacks {
  frames: Frame[];
  stacks: Int32Array[];
}

/**
 * Dense ids of frames by content, in the order they are first met. Stacks from the same batch
 * usually share Frame objects, so the identity map answers most look-ups without building a
 * content string.
 */
export class FrameIds {
  readonly frames: Frame[] = [];
  private readonly byRef = new Map<Frame, number>();
  private readonly byContent = new Map<string, number>();

  idOf(f: Frame): number {
    let id = this.byRef.get(f);
    if (id === undefined) {
      const c = frameContent(f);
      id = this.byContent.get(c);
      if (id === undefined) {
        id = this.frames.push(f) - 1;
        this.byContent.set(c, id);
      }
      this.byRef.set(f, id);
    }
    return id;
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
 * Maps each frame id to a dense key id, frames with equal `key(frame)` sharing one. With
 * `unnamedKey`, frames without a function name are keyed by it instead, apart from the named
 * ones (no prefix needed to tell the two apart): keys that are long-lived strings (a function
 * name, addressKey) keep their hash from one query to the next.
 */
export function keyIds(frames: readonly Frame[], key: (f: Frame) => string, unnamedKey?: (f: Frame) => string): { ids: Int32Array; count: number } {
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

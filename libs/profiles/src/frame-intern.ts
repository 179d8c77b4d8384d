import { FrameTable } from './frame-table';
import type { Frame, SampleBatch } from './sample-batch';

const EMPTY = -1;

interface FrameInternLimits {
  /** Past any of these, everything is forgotten before the next batch (not during one). */
  maxStrings: number;
  maxFrames: number;
  maxStacks: number;
  /** Frames over all interned stacks. */
  maxStackFrames: number;
}

/**
 * Sized for a fleet's working set of hot frames and stacks: at these caps the interner, with the
 * stack keys and frame digests cached on its objects, holds a few tens of MB per process.
 */
const DEFAULT_FRAME_INTERN_LIMITS: FrameInternLimits = { maxStrings: 1 << 16, maxFrames: 1 << 16, maxStacks: 1 << 16, maxStackFrames: 1 << 21 };

function mix(h: number, v: number): number {
  return Math.imul(h ^ v, 0x01000193);
}

function finish(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  return h ^ (h >>> 13);
}

/**
 * One Frame object per distinct frame and one array per distinct stack, shared by every batch a
 * process decodes. Agents send the same few thousand frames and stacks in every flush; with
 * shared objects, everything downstream that caches per object (stack keys, frame digests, the
 * symbolize queue's dedupe) does its work once per distinct frame or stack instead of once per
 * batch. Lookups are by numeric content (a FrameTable: string ids, address and line), so no per-frame
 * key string is built. Ids are stable between `startBatch` calls, which is when the interner is
 * reset once it outgrows its limits: within one decode, equal frames (and stacks) have equal ids.
 * The objects are shared: nobody may mutate a decoded Frame or stack.
 */
export class FrameInterner {
  private table!: FrameTable;
  private pool!: Int32Array;
  private poolUsed = 0;
  private stackStart!: number[];
  private stacks!: Frame[][];
  private stackHashes!: number[];
  private stackSlots!: Int32Array;
  private generationCount = 0;

  constructor(private readonly limits: FrameInternLimits = DEFAULT_FRAME_INTERN_LIMITS) {
    this.reset();
  }

  /** Call before decoding a batch: forgets everything if the last batches went past the limits. */
  startBatch(): void {
    const l = this.limits;
    const t = this.table;
    if (t.strings.length > l.maxStrings || t.size > l.maxFrames || this.stacks.length > l.maxStacks || this.poolUsed > l.maxStackFrames) {
      this.reset();
    }
  }

  get frameCount(): number {
    return this.table.size;
  }

  get stackCount(): number {
    return this.stacks.length;
  }

  /** Changes when the interner forgets everything: ids of different generations are unrelated. */
  get generation(): number {
    return this.generationCount;
  }

  stringId(s: string): number {
    return this.table.stringId(s);
  }

  /**
   * Id of the frame with these fields (string ids from `stringId`, the address as two uint32
   * halves, the line as a number), adding it if new.
   */
  frameId(
    buildId: number,
    mappingFile: number,
    functionName: number,
    fileName: number,
    addrLo: number,
    addrHi: number,
    line: number,
    inlined: boolean,
  ): number {
    return this.table.id(buildId, mappingFile, functionName, fileName, addrLo, addrHi, line, inlined);
  }

  frame(id: number): Frame {
    return this.table.frame(id);
  }

  /** Id of the stack whose frames have ids `ids[0..n)` (leaf first), adding it if new. */
  stackId(ids: Int32Array, n: number): number {
    let h = 0x811c9dc5 ^ n;
    for (let i = 0; i < n; i++) h = mix(h, ids[i]);
    h = finish(h);
    const slots = this.stackSlots;
    const mask = slots.length - 1;
    let s = h & mask;
    for (;;) {
      const id = slots[s];
      if (id === EMPTY) break;
      if (this.stacks[id].length === n) {
        const start = this.stackStart[id];
        const pool = this.pool;
        let i = 0;
        while (i < n && pool[start + i] === ids[i]) i++;
        if (i === n) return id;
      }
      s = (s + 1) & mask;
    }
    const id = this.stacks.length;
    const frames = new Array<Frame>(n);
    for (let i = 0; i < n; i++) frames[i] = this.table.frame(ids[i]);
    this.stacks.push(frames);
    this.stackHashes.push(h);
    if (this.poolUsed + n > this.pool.length) {
      const grown = new Int32Array(Math.max(this.pool.length * 2, this.poolUsed + n));
      grown.set(this.pool.subarray(0, this.poolUsed));
      this.pool = grown;
    }
    this.pool.set(ids.subarray(0, n), this.poolUsed);
    this.stackStart.push(this.poolUsed);
    this.poolUsed += n;
    if ((id + 1) * 2 > slots.length) this.stackSlots = rehash(this.stackHashes, slots.length * 2);
    else slots[s] = id;
    return id;
  }

  stack(id: number): Frame[] {
    return this.stacks[id];
  }

  /** The frame ids of stack `id`, leaf first (a view: valid until the interner resets). */
  stackFrameIds(id: number): Int32Array {
    const start = this.stackStart[id];
    return this.pool.subarray(start, start + this.stacks[id].length);
  }

  private reset(): void {
    this.generationCount++;
    this.table = new FrameTable();
    this.pool = new Int32Array(1 << 14);
    this.poolUsed = 0;
    this.stackStart = [];
    this.stacks = [];
    this.stackHashes = [];
    this.stackSlots = new Int32Array(1024).fill(EMPTY);
  }
}

function rehash(hashes: readonly number[], size: number): Int32Array {
  const slots = new Int32Array(size).fill(EMPTY);
  const mask = size - 1;
  for (let i = 0; i < hashes.length; i++) {
    let s = hashes[i] & mask;
    while (slots[s] !== EMPTY) s = (s + 1) & mask;
    slots[s] = i;
  }
  return slots;
}

/**
 * What a batch decoded through a FrameInterner knows of its stacks: batch stack i is interner stack
 * `stackIds[i]`. Lets a segment writer find a batch's stacks and their frames by number instead of
 * by object (a map lookup per stack, and per frame of every stack).
 */
export interface InternedStacks {
  readonly interner: FrameInterner;
  readonly generation: number;
  readonly stackIds: Int32Array;
}

/**
 * Where a decoded batch keeps its InternedStacks: a non-enumerable property, as the builder's
 * frame table (see BUILDER_FRAMES in sample-batch.ts), so copies and comparisons do not see it.
 */
const INTERNED_STACKS = Symbol('firn.internedStacks');

interface AttachedStacks extends InternedStacks {
  readonly stacks: readonly Frame[][];
}

/** Records that `batch.stacks[i]` is `interner.stack(stackIds[i])` for every i. */
export function attachInternedStacks(batch: SampleBatch, interner: FrameInterner, stackIds: Int32Array): void {
  const value: AttachedStacks = { interner, generation: interner.generation, stackIds, stacks: batch.stacks };
  Object.defineProperty(batch, INTERNED_STACKS, { value });
}

/**
 * The batch's InternedStacks while they still hold: the batch's stack array is the one they were
 * recorded for and its interner has not forgotten those ids since.
 */
export function internedStacksOf(batch: SampleBatch): InternedStacks | undefined {
  const t = (batch as { [INTERNED_STACKS]?: AttachedStacks })[INTERNED_STACKS];
  if (t === undefined || t.stacks !== batch.stacks || t.stackIds.length !== batch.stacks.length) return undefined;
  return t.generation === t.interner.generation ? t : undefined;
}

/**
 * What the flame graph builders (Parca's Arrow record, Pyroscope's flame graph) share: typed
 * arrays kept from one tree build to the next, an open-addressing child index over them, and a
 * selection of the node cap's threshold.
 *
 * A flame graph over half a million frame slots needs ≈ 40 MB of per-node arrays. Allocated (and
 * zero-filled) per query, that made V8 run a full collection every query or two (external memory
 * counts toward its heap limits). Builds are synchronous, so one set serves every query; it
 * grows to the largest recent build and is dropped after `SCRATCH_IDLE_MS` without one. A
 * builder sets a node's entries when it makes the node, so nothing needs clearing.
 */
export class TreeScratch {
  /** Per node (plus one: room for a CSR offsets array), `INT32_ARRAYS` of them. */
  readonly int32: Int32Array[];
  /** Per node, `FLOAT64_ARRAYS` of them. */
  readonly float64: Float64Array[];
  readonly uint8: Uint8Array;
  /** The child index's hash slots. */
  readonly slots: Int32Array;

  constructor(readonly capacity: number) {
    this.int32 = Array.from({ length: INT32_ARRAYS }, () => new Int32Array(capacity + 1));
    this.float64 = Array.from({ length: FLOAT64_ARRAYS }, () => new Float64Array(capacity));
    this.uint8 = new Uint8Array(capacity);
    this.slots = new Int32Array(slotsFor(capacity));
  }
}

const INT32_ARRAYS = 7;
const FLOAT64_ARRAYS = 4;
const SCRATCH_IDLE_MS = 30_000;
let scratch: TreeScratch | undefined;
let scratchUsedAt = 0;
let scratchTimer: ReturnType<typeof setTimeout> | undefined;

/** Room for `capacity` nodes: the kept scratch when large enough, else a larger one kept instead. */
export function treeScratch(capacity: number): TreeScratch {
  if (!scratch || scratch.capacity < capacity) scratch = new TreeScratch(Math.ceil(capacity * 1.25));
  scratchUsedAt = Date.now();
  scratchTimer ??= dropScratchWhenIdle(SCRATCH_IDLE_MS);
  return scratch;
}

/** Drops the scratch once no build used it for SCRATCH_IDLE_MS (checked `ms` from now). */
function dropScratchWhenIdle(ms: number): ReturnType<typeof setTimeout> {
  const t = setTimeout(() => {
    const idle = Date.now() - scratchUsedAt;
    if (idle >= SCRATCH_IDLE_MS) {
      scratch = undefined;
      scratchTimer = undefined;
    } else {
      scratchTimer = dropScratchWhenIdle(SCRATCH_IDLE_MS - idle);
    }
  }, ms);
  // A kept scratch never holds a process open.
  if (typeof t === 'object') t.unref();
  return t;
}

/** Hash slots for `capacity` nodes: a power of two at least twice as many. */
function slotsFor(capacity: number): number {
  let size = 1024;
  while (size < capacity * 2) size *= 2;
  return size;
}

/**
 * Open-addressing table of (parent node, key) → child node over typed arrays. `parentOf` and
 * `keyOf` are the tree's own per-node arrays: `set` writes a new node's parent and key there.
 */
export class ChildIndex {
  private readonly slots: Int32Array;
  private readonly mask: number;

  /** With the scratch's slots, as many as `capacity` nodes need (cleared). */
  constructor(
    capacity: number,
    s: TreeScratch,
    readonly parentOf: Int32Array,
    readonly keyOf: Int32Array,
  ) {
    const size = slotsFor(capacity);
    this.slots = s.slots.subarray(0, size).fill(-1);
    this.mask = size - 1;
  }

  private slot(parent: number, key: number): number {
    let h = Math.imul(parent, 0x9e3779b1) ^ Math.imul(key + 0x7f4a7c15, 0x85ebca77);
    h ^= h >>> 15;
    let i = h & this.mask;
    for (;;) {
      const node = this.slots[i];
      if (node < 0 || (this.parentOf[node] === parent && this.keyOf[node] === key)) return i;
      i = (i + 1) & this.mask;
    }
  }

  get(parent: number, key: number): number {
    return this.slots[this.slot(parent, key)];
  }

  set(parent: number, key: number, node: number): void {
    this.parentOf[node] = parent;
    this.keyOf[node] = key;
    this.slots[this.slot(parent, key)] = node;
  }
}

/**
 * The k-th smallest value of `a` (0-based; `a` is reordered): quickselect with a three-way
 * partition, as node values repeat a lot (many nodes hold one sample).
 */
export function kthSmallest(a: Float64Array, k: number): number {
  let lo = 0;
  let hi = a.length - 1;
  while (lo < hi) {
    const x = a[lo];
    const y = a[(lo + hi) >>> 1];
    const z = a[hi];
    const pivot = x < y ? (y < z ? y : x < z ? z : x) : x < z ? x : y < z ? z : y;
    let lt = lo;
    let gt = hi;
    let i = lo;
    while (i <= gt) {
      const v = a[i];
      if (v < pivot) {
        a[i++] = a[lt];
        a[lt++] = v;
      } else if (v > pivot) {
        a[i] = a[gt];
        a[gt--] = v;
      } else {
        i++;
      }
    }
    if (k < lt) hi = lt - 1;
    else if (k > gt) lo = gt + 1;
    else return pivot;
  }
  return a[k];
}

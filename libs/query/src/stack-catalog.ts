import type { Data } from 'apache-arrow';
import type { Frame } from '@firn/profiles';
import type { TenantId } from '@firn/tenancy';
import { stringsOf } from './arrow-columns';

export interface StackCatalogOptions {
  /** Stacks one tenant's catalog holds before it is dropped and started afresh. Default 2 000 000. */
  maxStacks?: number;
  /** Segments whose stack-id maps are kept (least recently used dropped first). Default 4096. */
  maxSegments?: number;
}

const DEFAULT_MAX_STACKS = 2_000_000;
const DEFAULT_MAX_SEGMENTS = 4096;

function frameContent(f: Frame): string {
  return `${f.buildId}\u0000${f.mappingFile}\u0000${f.address}\u0000${f.functionName}\u0000${f.fileName}\u0000${f.line}\u0000${f.inlined ? 1 : 0}`;
}

/**
 * One tenant's stacks as a querier has met them: a dense id per stack key, the stack's frames
 * (decoded once, each distinct frame one shared object), and per segment the catalog id of every
 * stack_id. Segments are immutable, so a map once read stays right; a query then sums by integer
 * id and needs neither stacks.parquet nor a string per stack. Only grows; the owner replaces a
 * catalog that got too big (queries in flight keep the one they started with).
 */
export class StackCatalog {
  readonly keys: string[] = [];
  readonly frames: Array<Frame[] | undefined> = [];
  private readonly idOfKey = new Map<string, number>();
  private readonly frameIntern = new Map<string, Frame>();
  /** Segment stacks object key → catalog id per stack_id (-1 = not read yet). Map order = LRU. */
  private readonly segmentMaps = new Map<string, Int32Array>();

  constructor(private readonly maxSegments: number = DEFAULT_MAX_SEGMENTS) {}

  get size(): number {
    return this.keys.length;
  }

  intern(key: string): number {
    let id = this.idOfKey.get(key);
    if (id === undefined) {
      id = this.keys.push(key) - 1;
      this.frames.push(undefined);
      this.idOfKey.set(key, id);
    }
    return id;
  }

  /**
   * Catalog ids of the stack keys of one stacks.parquet batch: `map[ids[i]]` = id of row i's key,
   * for rows whose stack_id is not mapped yet.
   */
  internKeys(keys: Data, ids: Uint32Array, map: Int32Array): void {
    const get = stringsOf(keys);
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i];
      if (id < map.length && map[id] < 0) map[id] = this.intern(get(i));
    }
  }

  /** The catalog's one Frame object equal to `f` (`f` itself the first time). */
  sharedFrame(f: Frame): Frame {
    const c = frameContent(f);
    const shared = this.frameIntern.get(c);
    if (shared) return shared;
    this.frameIntern.set(c, f);
    return f;
  }

  /** Stores a stack's frames (first writer wins), sharing equal frames with other stacks. */
  setFrames(id: number, frames: Frame[]): void {
    this.setSharedFrames(
      id,
      frames.map((f) => this.sharedFrame(f)),
    );
  }

  /** Stores a stack's frames, already made of sharedFrame objects (first writer wins). */
  setSharedFrames(id: number, frames: Frame[]): void {
    if (this.frames[id] === undefined) this.frames[id] = frames;
  }

  /** The stack-id map of a segment, marked most recently used; undefined if never read. */
  segmentMap(stacksKey: string): Int32Array | undefined {
    const m = this.segmentMaps.get(stacksKey);
    if (m) {
      this.segmentMaps.delete(stacksKey);
      this.segmentMaps.set(stacksKey, m);
    }
    return m;
  }

  /** A map for `length` stack ids (all unread), replacing a shorter one and keeping what it knew. */
  ensureSegmentMap(stacksKey: string, length: number): Int32Array {
    const old = this.segmentMap(stacksKey);
    if (old && old.length >= length) return old;
    const m = new Int32Array(length).fill(-1);
    if (old) m.set(old);
    this.segmentMaps.set(stacksKey, m);
    while (this.segmentMaps.size > this.maxSegments) {
      const oldest = this.segmentMaps.keys().next().value as string;
      this.segmentMaps.delete(oldest);
    }
    return m;
  }
}

/** A StackCatalog per tenant (cache keys never mix tenants), each bounded in size. */
export class StackCatalogs {
  private readonly byTenant = new Map<TenantId, StackCatalog>();
  private readonly maxStacks: number;
  private readonly maxSegments: number;

  constructor(opts: StackCatalogOptions = {}) {
    this.maxStacks = opts.maxStacks ?? DEFAULT_MAX_STACKS;
    this.maxSegments = opts.maxSegments ?? DEFAULT_MAX_SEGMENTS;
  }

  /** The tenant's catalog for one query; a fresh one when the old one outgrew its budget. */
  forTenant(tenant: TenantId): StackCatalog {
    let c = this.byTenant.get(tenant);
    if (!c || c.size > this.maxStacks) {
      c = new StackCatalog(this.maxSegments);
      this.byTenant.set(tenant, c);
    }
    return c;
  }
}

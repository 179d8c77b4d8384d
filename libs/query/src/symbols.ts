import { createDemangler, isMangled, withoutCloneSuffix, type Demangler } from '@firn/demangle';
import { frameWith, type Frame, type UnnamedReason } from '@firn/profiles';
import { FrameIds, rememberInterned, type StackProfile } from '@firn/reports';
import type { TenantId } from '@firn/tenancy';
import { frameNumbersOf, type FrameNumbers } from './stack-catalog';

/**
 * Where unsymbolized frames (build id + address, no function name) get their names at query
 * time. Called ONCE per query with every distinct unsymbolized frame of the merged profile, so an
 * implementation can do one batched cache lookup (the symbolizer's Redis) instead of one per
 * frame. It returns, per input frame, the frames to show instead (several for inlined calls), a
 * single unnamed copy whose `unnamedReason` says why it stays unnamed, or undefined to keep the
 * frame as is (shown as `binary+0xaddr`, reason `not_symbolized`; frames never disappear).
 */
export interface SymbolResolver {
  resolve(tenant: TenantId, frames: readonly Frame[]): Promise<Array<Frame[] | undefined>>;
}

/** No symbol cache (a querier without one, or tests): frames stay as they were stored. */
export const NO_SYMBOLS: SymbolResolver = {
  resolve: async (_tenant, frames) => frames.map(() => undefined),
};

let processDemangler: Demangler | undefined;

/**
 * The process's demangler: one c++filt and one name cache shared by every query (names repeat
 * across queries and tenants; a name is public code, not tenant data).
 */
export function sharedDemangler(): Demangler {
  processDemangler ??= createDemangler();
  return processDemangler;
}

/**
 * Replaces unsymbolized frames in a profile using one batched resolver call (every frame left
 * unnamed gets an `unnamedReason`), then demangles
 * every mangled name (C++, Rust) in one batch: `functionName` becomes the readable name and
 * `systemName` keeps the raw one. Names are stored raw by every producer (agent local symbols,
 * kallsyms, perf maps, the symbolizer), so this one step is where all of them are demangled.
 */
export async function symbolize(tenant: TenantId, p: StackProfile, resolver: SymbolResolver, demangler: Demangler = sharedDemangler()): Promise<StackProfile> {
  const index = indexFrames(p.stacks);
  const resolved = await resolveFrames(tenant, index.distinct, resolver);
  return rebuild(p, index, await demangleFrames(index.distinct, resolved, demangler));
}

/**
 * Each distinct frame object of the stacks once, and per frame occurrence (stacks concatenated)
 * its index there: a merged profile shares one Frame per distinct frame across its stacks
 * (hundreds of thousands of occurrences, a few thousand frames), so the work below is per
 * distinct frame, and the occurrences are visited here and in `rebuild` only.
 */
interface FrameIndex {
  distinct: Frame[];
  ids: Int32Array;
}

function indexFrames(stacks: readonly Frame[][]): FrameIndex {
  const numbers = frameNumbersOf(stacks);
  if (numbers) return indexNumbered(stacks, numbers);
  const idOf = new Map<Frame, number>();
  const distinct: Frame[] = [];
  let n = 0;
  for (const stack of stacks) n += stack.length;
  const ids = new Int32Array(n);
  let k = 0;
  for (const stack of stacks) {
    for (const f of stack) {
      let id = idOf.get(f);
      if (id === undefined) {
        id = distinct.push(f) - 1;
        idOf.set(f, id);
      }
      ids[k++] = id;
    }
  }
  return { distinct, ids };
}

/** indexFrames over stacks whose frames the catalog numbered: the same answer, by typed arrays. */
function indexNumbered(stacks: readonly Frame[][], { pool, starts, frames, count }: FrameNumbers): FrameIndex {
  const local = new Int32Array(count).fill(-1);
  const distinct: Frame[] = [];
  let n = 0;
  for (const stack of stacks) n += stack.length;
  const ids = new Int32Array(n);
  let k = 0;
  for (let s = 0; s < stacks.length; s++) {
    for (let i = starts[s], end = i + stacks[s].length; i < end; i++) {
      const number = pool[i];
      let id = local[number];
      if (id < 0) id = local[number] = distinct.push(frames[number]) - 1;
      ids[k++] = id;
    }
  }
  return { distinct, ids };
}

/** What each distinct frame becomes (several frames for inlined calls); undefined = itself. */
type Replacements = Array<Frame[] | undefined>;

function isUnnamed(f: Frame): boolean {
  return f.functionName === '' && f.unnamedReason === undefined;
}

async function resolveFrames(tenant: TenantId, distinct: readonly Frame[], resolver: SymbolResolver): Promise<Replacements | undefined> {
  const unnamed: number[] = [];
  for (let i = 0; i < distinct.length; i++) if (isUnnamed(distinct[i])) unnamed.push(i);
  if (unnamed.length === 0) return undefined;
  const asked = unnamed.filter((i) => distinct[i].buildId !== '');
  const answers =
    asked.length > 0
      ? await resolver.resolve(
          tenant,
          asked.map((i) => distinct[i]),
        )
      : [];
  const out: Replacements = new Array<Frame[] | undefined>(distinct.length);
  let next = 0; // `asked` is `unnamed` in order, less the frames without a build id
  for (const i of unnamed) {
    const r = asked[next] === i ? answers[next++] : undefined;
    out[i] = r && r.length > 1 ? r.map(explain) : [explain(r && r.length === 1 ? r[0] : distinct[i])];
  }
  return out;
}

/**
 * One explained copy per frame object, kept as long as the frame: a frame's unnamed reason
 * follows from its own fields and frames are never changed, so the stack catalog's frames get the
 * same copies query after query instead of new ones each time (frames stay shared between
 * stacks either way; reports intern by identity). The block of the query bench symbolizes in
 * ≈ 90-130 ms instead of ≈ 120-190 ms, for ≈ 50 bytes per unnamed frame kept.
 */
const explainedCopies = new Map<UnnamedReason, WeakMap<Frame, Frame>>();

function explain(f: Frame): Frame {
  return isUnnamed(f) ? unnamedCopy(f, unnamedReasonOf(f)) : f;
}

/**
 * The one copy of `f` saying why it has no name, kept as long as `f`: the same object for the
 * same frame and reason query after query (a resolver's answers use it too), so the reports'
 * per-frame caches keep hitting.
 */
export function unnamedCopy(f: Frame, why: UnnamedReason): Frame {
  let copies = explainedCopies.get(why);
  if (!copies) explainedCopies.set(why, (copies = new WeakMap()));
  let copy = copies.get(f);
  if (!copy) copies.set(f, (copy = frameWith(f, { unnamedReason: why })));
  return copy;
}

/** Demangles each distinct mangled frame once; frames stay shared between stacks. */
export async function demangleProfile(p: StackProfile, demangler: Demangler): Promise<StackProfile> {
  const index = indexFrames(p.stacks);
  return rebuild(p, index, await demangleFrames(index.distinct, undefined, demangler));
}

/**
 * The demangled copy of `f`, the same object query after query while the names are the same (as
 * `unnamedCopy`): kept replacements keep the stacks that hold them (see `lastReplacements`) and
 * the reports' per-frame caches.
 */
const demangledCopies = new WeakMap<Frame, Frame>();

function demangledCopy(f: Frame, readable: string, raw: string): Frame {
  let copy = demangledCopies.get(f);
  if (copy === undefined || copy.functionName !== readable || copy.systemName !== raw) {
    demangledCopies.set(f, (copy = frameWith(f, { functionName: readable, systemName: raw })));
  }
  return copy;
}

/** `replaced` (what each distinct frame became so far) with every mangled name demangled. */
async function demangleFrames(distinct: readonly Frame[], replaced: Replacements | undefined, demangler: Demangler): Promise<Replacements | undefined> {
  const current = (i: number): readonly Frame[] => replaced?.[i] ?? [distinct[i]];
  const index = new Map<Frame, number>();
  const names: string[] = [];
  for (let i = 0; i < distinct.length; i++) {
    for (const f of current(i)) {
      // Unnamed frames (most of an unsymbolized profile) are never mangled: skip them cheaply.
      if (f.functionName !== '' && f.systemName === undefined && !index.has(f) && isMangled(f.functionName)) {
        index.set(f, names.length);
        names.push(f.functionName);
      }
    }
  }
  if (names.length === 0) return replaced;
  // A compiler-made copy (`….isra.0`, `.cold`) is its source function, as DWARF names it.
  const raw = names.map(withoutCloneSuffix);
  const readable = await demangler.demangleAll(raw);
  const renamed = new Map<Frame, Frame>();
  for (const [f, i] of index) if (readable[i] !== f.functionName) renamed.set(f, demangledCopy(f, readable[i], raw[i]));
  if (renamed.size === 0) return replaced;
  const out: Replacements = replaced ?? new Array<Frame[] | undefined>(distinct.length);
  for (let i = 0; i < distinct.length; i++) {
    const fs = current(i);
    if (fs.some((f) => renamed.has(f))) out[i] = fs.map((f) => renamed.get(f) ?? f);
  }
  return out;
}

/**
 * The profile with each frame replaced; a stack none of whose frames changed keeps its array.
 * It also interns the result's frames for the reports (rememberInterned), in the order
 * internStacks would meet them: distinct frames are indexed in order of first occurrence, and
 * each one's replacements come where it first occurs.
 */
function rebuild(p: StackProfile, index: FrameIndex, replaced: Replacements | undefined): StackProfile {
  const { distinct } = index;
  const interned = new FrameIds();
  // The result's frame ids of distinct frame d: outIds[first[d]] .. outIds[first[d + 1] - 1].
  const first = new Int32Array(distinct.length + 1);
  const outIds: number[] = [];
  let expands = false;
  for (let d = 0; d < distinct.length; d++) {
    first[d] = outIds.length;
    const r = replaced?.[d];
    if (r === undefined) outIds.push(interned.idOf(distinct[d]));
    else {
      for (const f of r) outIds.push(interned.idOf(f));
      if (r.length !== 1) expands = true;
    }
  }
  first[distinct.length] = outIds.length;
  const idStacks = expands ? expandedIds(p.stacks, index.ids, first, outIds) : sameLengthIds(p.stacks, index.ids, outIds);
  if (replaced) noteReplacements(distinct, replaced);
  const stacks = replaced ? replacedStacks(p.stacks, index, replaced) : p.stacks;
  rememberInterned(stacks, { frames: interned.frames, stacks: idStacks });
  return replaced ? { ...p, stacks } : p;
}

/** Each stack's frame ids when every frame stays one frame (outIds is then per distinct frame). */
function sameLengthIds(stacks: readonly Frame[][], ids: Int32Array, outIds: readonly number[]): Int32Array[] {
  const all = new Int32Array(ids.length);
  for (let i = 0; i < ids.length; i++) all[i] = outIds[ids[i]];
  const out = new Array<Int32Array>(stacks.length);
  let k = 0;
  for (let s = 0; s < stacks.length; s++) out[s] = all.subarray(k, (k += stacks[s].length));
  return out;
}

function expandedIds(stacks: readonly Frame[][], ids: Int32Array, first: Int32Array, outIds: readonly number[]): Int32Array[] {
  const out = new Array<Int32Array>(stacks.length);
  let k = 0;
  for (let s = 0; s < stacks.length; s++) {
    const from = k;
    k += stacks[s].length;
    let length = 0;
    for (let i = from; i < k; i++) length += first[ids[i] + 1] - first[ids[i]];
    const st = new Int32Array(length);
    let j = 0;
    for (let i = from; i < k; i++) for (let t = first[ids[i]], end = first[ids[i] + 1]; t < end; t++) st[j++] = outIds[t];
    out[s] = st;
  }
  return out;
}

/**
 * What each frame was replaced with in the last query that had it (`null`: itself), and an epoch
 * that moves whenever a query finds some frame replaced otherwise than the last time. A frame's
 * replacements are the same objects from one query to the next (explained copies, demangled
 * copies and the resolver's answers are kept per frame) until the symbolizer answers, so a warm
 * query compares one entry per distinct frame here and then takes each stack's kept array
 * whole, where checking each kept array cost a look-up per frame occurrence (≈ 500 k for a
 * fleet flame graph).
 */
const lastReplacements = new WeakMap<Frame, readonly Frame[] | null>();
let replacementEpoch = 0;

/**
 * Records this query's replacements and moves the epoch when one differs from the last query's
 * for the same frame. A frame never recorded is in no kept array (a kept array's frames were all
 * recorded when it was made, and the record lives as long as the frame): no move for it. Only
 * queries that replace something record: only they use kept arrays.
 */
function noteReplacements(distinct: readonly Frame[], replaced: Replacements): void {
  let changed = false;
  for (let d = 0; d < distinct.length; d++) {
    const f = distinct[d];
    const now = replaced[d] ?? null;
    const last = lastReplacements.get(f);
    if (last !== undefined && sameFrames(last, now)) continue;
    if (last !== undefined) changed = true;
    lastReplacements.set(f, now);
  }
  if (changed) replacementEpoch++;
}

function sameFrames(a: readonly Frame[] | null, b: readonly Frame[] | null): boolean {
  if (a === b) return true;
  if (a === null || b === null || a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * The replaced stack made last for each input stack (a catalog's stacks, the same arrays query
 * after query), kept as long as the input, with the replacement epoch it was last found valid in:
 * in the same epoch it is taken as is; after the epoch moved, it is checked frame by frame (most
 * stacks do not have the frames whose answers changed) and rebuilt only when it differs.
 */
interface KeptStack {
  epoch: number;
  stack: Frame[];
}
const replacedCopies = new WeakMap<readonly Frame[], KeptStack>();

function replacedStacks(stacks: readonly Frame[][], { distinct, ids }: FrameIndex, replaced: Replacements): Frame[][] {
  const out = new Array<Frame[]>(stacks.length);
  const epoch = replacementEpoch;
  let k = 0;
  for (let s = 0; s < stacks.length; s++) {
    const stack = stacks[s];
    const from = k;
    k += stack.length;
    const kept = replacedCopies.get(stack);
    if (kept !== undefined && kept.epoch === epoch) {
      out[s] = kept.stack;
      continue;
    }
    let i = from;
    while (i < k && replaced[ids[i]] === undefined) i++;
    let st: Frame[];
    if (i === k) st = stack;
    else {
      let length = i - from;
      for (let j = i; j < k; j++) length += replaced[ids[j]]?.length ?? 1;
      if (kept !== undefined && kept.stack.length === length && sameReplacement(kept.stack, stack, i - from, ids, i, k, distinct, replaced)) st = kept.stack;
      else {
        st = new Array<Frame>(length);
        let o = 0;
        for (; o < i - from; o++) st[o] = stack[o];
        for (; i < k; i++) {
          const r = replaced[ids[i]];
          if (r === undefined) st[o++] = distinct[ids[i]];
          else for (const f of r) st[o++] = f;
        }
      }
    }
    if (kept !== undefined) {
      kept.epoch = epoch;
      kept.stack = st;
    } else replacedCopies.set(stack, { epoch, stack: st });
    out[s] = st;
  }
  return out;
}

/** Whether `kept` holds what replacedStacks would build: `stack`'s first `same` frames, then occurrences i..end replaced. */
function sameReplacement(
  kept: readonly Frame[],
  stack: readonly Frame[],
  same: number,
  ids: Int32Array,
  i: number,
  end: number,
  distinct: readonly Frame[],
  replaced: Replacements,
): boolean {
  let o = 0;
  for (; o < same; o++) if (kept[o] !== stack[o]) return false;
  for (; i < end; i++) {
    const r = replaced[ids[i]];
    if (r === undefined) {
      if (kept[o++] !== distinct[ids[i]]) return false;
    } else for (const f of r) if (kept[o++] !== f) return false;
  }
  return true;
}

/**
 * Why a frame the resolver said nothing about has no name, from what the frame itself shows
 * (the agent sends kernel, JIT and unmapped frames without a build id; see UnnamedReason).
 */
export function unnamedReasonOf(f: Frame): UnnamedReason {
  if (f.mappingFile === '[kernel.kallsyms]') return 'kallsyms_restricted';
  if (f.mappingFile === '') return 'no_mapping';
  if (f.mappingFile === '[anon]' || f.mappingFile === '[jit]') return 'no_perf_map';
  if (f.buildId === '') return 'no_build_id';
  return 'not_symbolized';
}

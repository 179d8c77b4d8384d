import { createDemangler, isMangled, withoutCloneSuffix, type Demangler } from '@firn/demangle';
import type { Frame, UnnamedReason } from '@firn/profiles';
import type { StackProfile } from '@firn/reports';
import type { TenantId } from '@firn/tenancy';

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
  return demangleProfile(await resolve(tenant, p, resolver), demangler);
}

async function resolve(tenant: TenantId, p: StackProfile, resolver: SymbolResolver): Promise<StackProfile> {
  // Work per distinct frame object, not per occurrence: a merged profile shares one Frame per
  // distinct frame across its stacks (hundreds of thousands of occurrences, a few thousand frames).
  const distinct = new Set<Frame>();
  let unnamed = false;
  for (const stack of p.stacks) {
    for (const f of stack) {
      if (f.functionName !== '' || f.unnamedReason !== undefined) continue;
      unnamed = true;
      distinct.add(f);
    }
  }
  if (!unnamed) return p;
  const list = [...distinct].filter((f) => f.buildId !== '');
  const resolved = list.length > 0 ? await resolver.resolve(tenant, list) : [];
  // One explained copy per frame object: frames stay shared between stacks (reports intern by identity).
  const explained = new Map<Frame, Frame>();
  const explain = (f: Frame): Frame => {
    if (f.functionName !== '' || f.unnamedReason !== undefined) return f;
    let e = explained.get(f);
    if (!e) explained.set(f, (e = { ...f, unnamedReason: unnamedReasonOf(f) }));
    return e;
  };
  // Each unnamed frame's replacement: one frame, or several (inlined calls) from the resolver.
  const single = new Map<Frame, Frame>();
  const several = new Map<Frame, Frame[]>();
  list.forEach((f, i) => {
    const r = resolved[i];
    if (r && r.length > 1) several.set(f, r.map(explain));
    else single.set(f, explain(r && r.length === 1 ? r[0] : f));
  });
  for (const f of distinct) if (!single.has(f) && !several.has(f)) single.set(f, explain(f));
  const stacks = p.stacks.map((stack) => {
    const out: Frame[] = [];
    for (const f of stack) {
      const one = single.get(f);
      if (one) out.push(one);
      else {
        const many = several.get(f);
        if (many) out.push(...many);
        else out.push(f);
      }
    }
    return out;
  });
  return { ...p, stacks };
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

/** Demangles each distinct mangled frame once; frames stay shared between stacks. */
export async function demangleProfile(p: StackProfile, demangler: Demangler): Promise<StackProfile> {
  const index = new Map<Frame, number>();
  const names: string[] = [];
  for (const stack of p.stacks) {
    for (const f of stack) {
      // Unnamed frames (most of an unsymbolized profile) are never mangled: skip them cheaply.
      if (f.functionName !== '' && f.systemName === undefined && !index.has(f) && isMangled(f.functionName)) {
        index.set(f, names.length);
        names.push(f.functionName);
      }
    }
  }
  if (names.length === 0) return p;
  // A compiler-made copy (`….isra.0`, `.cold`) is its source function, as DWARF names it.
  const raw = names.map(withoutCloneSuffix);
  const readable = await demangler.demangleAll(raw);
  const replaced = new Map<Frame, Frame>();
  for (const [f, i] of index) if (readable[i] !== f.functionName) replaced.set(f, { ...f, functionName: readable[i], systemName: raw[i] });
  if (replaced.size === 0) return p;
  return { ...p, stacks: p.stacks.map((stack) => stack.map((f) => replaced.get(f) ?? f)) };
}

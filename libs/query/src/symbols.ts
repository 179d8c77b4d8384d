import { createDemangler, isMangled, type Demangler } from '@firn/demangle';
import type { Frame } from '@firn/profiles';
import type { StackProfile } from '@firn/reports';
import type { TenantId } from '@firn/tenancy';

/**
 * Where unsymbolized frames (build id + address, no function name) get their names at query
 * time. Called ONCE per query with every distinct unsymbolized frame of the merged profile, so an
 * implementation can do one batched cache lookup (the symbolizer's Redis) instead of one per
 * frame. It returns, per input frame, the frames to show instead (several for inlined calls) or
 * undefined to keep the frame as is (shown as `binary+0xaddr`; frames never disappear).
 */
export interface SymbolResolver {
  resolve(tenant: TenantId, frames: readonly Frame[]): Promise<Array<Frame[] | undefined>>;
}

/** Until the symbolizer lands: frames stay as the agent sent them. */
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
 * Replaces unsymbolized frames in a profile using one batched resolver call, then demangles
 * every mangled name (C++, Rust) in one batch: `functionName` becomes the readable name and
 * `systemName` keeps the raw one. Names are stored raw by every producer (agent local symbols,
 * kallsyms, perf maps, the symbolizer), so this one step is where all of them are demangled.
 */
export async function symbolize(tenant: TenantId, p: StackProfile, resolver: SymbolResolver, demangler: Demangler = sharedDemangler()): Promise<StackProfile> {
  return demangleProfile(await resolve(tenant, p, resolver), demangler);
}

async function resolve(tenant: TenantId, p: StackProfile, resolver: SymbolResolver): Promise<StackProfile> {
  const wanted = new Map<Frame, number>();
  const list: Frame[] = [];
  for (const stack of p.stacks) {
    for (const f of stack) {
      if (f.functionName === '' && f.buildId !== '' && !wanted.has(f)) {
        wanted.set(f, list.length);
        list.push(f);
      }
    }
  }
  if (list.length === 0) return p;
  const resolved = await resolver.resolve(tenant, list);
  if (resolved.every((r) => r === undefined)) return p;
  const stacks = p.stacks.map((stack) =>
    stack.flatMap((f) => {
      const i = wanted.get(f);
      const r = i === undefined ? undefined : resolved[i];
      return r && r.length > 0 ? r : [f];
    }),
  );
  return { ...p, stacks };
}

/** Demangles each distinct mangled frame once; frames stay shared between stacks. */
export async function demangleProfile(p: StackProfile, demangler: Demangler): Promise<StackProfile> {
  const index = new Map<Frame, number>();
  const names: string[] = [];
  for (const stack of p.stacks) {
    for (const f of stack) {
      if (!index.has(f) && f.systemName === undefined && isMangled(f.functionName)) {
        index.set(f, names.length);
        names.push(f.functionName);
      }
    }
  }
  if (names.length === 0) return p;
  const readable = await demangler.demangleAll(names);
  const replaced = new Map<Frame, Frame>();
  for (const [f, i] of index) if (readable[i] !== f.functionName) replaced.set(f, { ...f, functionName: readable[i], systemName: f.functionName });
  if (replaced.size === 0) return p;
  return { ...p, stacks: p.stacks.map((stack) => stack.map((f) => replaced.get(f) ?? f)) };
}

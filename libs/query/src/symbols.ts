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

/** Replaces unsymbolized frames in a profile using one batched resolver call. */
export async function symbolize(tenant: TenantId, p: StackProfile, resolver: SymbolResolver): Promise<StackProfile> {
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

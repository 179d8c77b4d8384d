import { describe, expect, it, vi } from 'vitest';
import type { Frame } from '@firn/profiles';
import { tenantFromTrustedSource } from '@firn/tenancy';
import { NO_SYMBOLS, symbolize, type SymbolResolver } from './symbols';

const raw = (addr: bigint): Frame => ({ buildId: 'b1', mappingFile: '/bin/app', address: addr, functionName: '', fileName: '', line: 0, inlined: false });
const named: Frame = { buildId: 'b1', mappingFile: '/bin/app', address: 1n, functionName: 'main', fileName: 'm.c', line: 3, inlined: false };

describe(symbolize.name, () => {
  it('resolves every distinct unsymbolized frame in one batched call and expands inlines', async () => {
    const a = raw(0x10n);
    const b = raw(0x20n);
    const p = { profileType: 't', stacks: [[a, named], [a, b, named]], values: Float64Array.from([1, 2]), total: 3 };
    const resolver: SymbolResolver = {
      resolve: vi.fn(async (_t, frames: readonly Frame[]) =>
        frames.map((f) => (f.address === 0x10n ? [{ ...f, functionName: 'inner', inlined: true }, { ...f, functionName: 'outer' }] : undefined)),
      ),
    };
    const out = await symbolize(tenantFromTrustedSource('acme'), p, resolver);
    expect(resolver.resolve).toHaveBeenCalledTimes(1);
    expect((resolver.resolve as ReturnType<typeof vi.fn>).mock.calls[0][1]).toEqual([a, b]);
    expect(out.stacks[0].map((f) => f.functionName)).toEqual(['inner', 'outer', 'main']);
    expect(out.stacks[1].map((f) => f.functionName || `0x${f.address.toString(16)}`)).toEqual(['inner', 'outer', '0x20', 'main']);
    expect(out.total).toBe(3);
  });

  it('keeps the profile untouched without a symbol source', async () => {
    const p = { profileType: 't', stacks: [[raw(1n)]], values: Float64Array.from([1]), total: 1 };
    expect(await symbolize(tenantFromTrustedSource('acme'), p, NO_SYMBOLS)).toBe(p);
  });
});

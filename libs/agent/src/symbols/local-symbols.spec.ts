import { describe, expect, it } from 'vitest';
import type { Frame } from '@firn/profiles';
import { frameKindOf, localFrames, type LocalSymbols } from './local-symbols';

const loads = [{ vaddr: 0x401000n, offset: 0x1000n, filesz: 0x1000n, memsz: 0x1000n, flags: 5 }];
const sym: LocalSymbols = { loads, symbols: [{ name: '_ZN1a1bEv', address: 0x401100n, size: 0x20n }] };
const one = (f: Frame | Frame[]): Frame => (Array.isArray(f) ? f[0] : f);

describe(localFrames.name, () => {
  it('names native code from its symbols, raw, and says why a frame is not named', () => {
    const named = one(localFrames(sym, 'b1', '/bin/app', 0x1110n));
    expect(named).toMatchObject({ functionName: '_ZN1a1bEv', buildId: 'b1', mappingFile: '/bin/app', address: 0x1110n, inlined: false });
    expect(frameKindOf(named)).toEqual({ kind: 'native_symbols' });
    expect(frameKindOf(one(localFrames(sym, 'b1', '/bin/app', 0x1500n)))).toEqual({ kind: 'native_symbols', reason: 'not_in_symbols' });
    expect(frameKindOf(one(localFrames({ loads, symbols: [] }, 'b1', '/bin/app', 0x1500n)))).toEqual({ kind: 'native_stripped', reason: 'no_symbols' });
    expect(frameKindOf(one(localFrames(sym, 'b1', '/bin/app', 0x9000n)))).toEqual({ kind: 'unmapped', reason: 'no_mapping' });
    expect(frameKindOf(one(localFrames(undefined, 'b1', '/bin/app', 0x1110n)))).toEqual({ kind: 'native_stripped', reason: 'left_to_server' });
  });

  it('classifies frames made elsewhere by their mapping', () => {
    const f = (mappingFile: string, functionName: string): Frame => ({
      buildId: '',
      mappingFile,
      address: 1n,
      functionName,
      fileName: '',
      line: 0,
      inlined: false,
    });
    expect(frameKindOf(f('[kernel.kallsyms]', 'schedule'))).toEqual({ kind: 'kernel', reason: undefined });
    expect(frameKindOf(f('[jit]', 'LazyCompile:*x'))).toEqual({ kind: 'jit' });
    expect(frameKindOf(f('[anon]', ''))).toEqual({ kind: 'unmapped', reason: 'no_mapping' });
  });
});

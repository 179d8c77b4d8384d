import { describe, expect, it } from 'vitest';
import { FirnError } from '@firn/errors';
import { tenantFromTrustedSource } from '@firn/tenancy';
import { decodeResolved, encodeNegative, encodeResolved, symbolKey } from './symbol-entry';

describe('symbol cache entries', () => {
  it('round-trips an inline chain and marks only the outermost frame as not inlined', () => {
    const frames = [
      { functionName: 'inner', fileName: 'a.c', line: 3, inlined: true },
      { functionName: 'outer', fileName: 'a.c', line: 9, inlined: false },
    ];
    expect(decodeResolved(encodeResolved(frames))).toEqual(frames);
    expect(decodeResolved(encodeNegative())).toBeNull();
    expect(decodeResolved(encodeResolved([]))).toBeNull();
    expect(() => decodeResolved(Buffer.from('[["x"]]'))).toThrow(FirnError);
  });

  it('keys by tenant, build id and hex address', () => {
    expect(symbolKey(tenantFromTrustedSource('acme'), 'ab12', 0x1f0n)).toBe('sym:v1:acme:ab12:1f0');
  });
});

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { addressPrefixes, mappingKey, mappingValue } from './prefixes';

describe(addressPrefixes.name, () => {
  it('covers exactly [start, end) with aligned blocks (property)', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 1n << 47n }), fc.bigInt({ min: 1n, max: 1n << 32n }), (pages, len) => {
        const start = pages * 4096n;
        const end = start + len * 4096n;
        const ps = addressPrefixes(start, end);
        let at = start;
        for (const p of ps) {
          const size = 1n << BigInt(64 - p.bits);
          expect(p.addr).toBe(at);
          expect(p.addr % size).toBe(0n);
          at += size;
        }
        expect(at).toBe(end);
        expect(ps.length).toBeLessThanOrEqual(2 * 52);
      }),
      { numRuns: 500 },
    );
  });

  it('uses one prefix for an aligned power-of-two mapping and a few for a typical one', () => {
    expect(addressPrefixes(0x7f0000000000n, 0x7f0000200000n)).toEqual([{ addr: 0x7f0000000000n, bits: 43 }]);
    expect(addressPrefixes(0x7f1234526000n, 0x7f12346a5000n).length).toBeLessThan(20);
  });
});

describe(mappingKey.name, () => {
  it('lays out the LPM key: host-order prefix length, big-endian pid and address', () => {
    expect(mappingKey(0x01020304, { addr: 0x7f0000001000n, bits: 52 }).toString('hex')).toBe('54000000' + '01020304' + '00007f0000001000');
    expect(mappingValue(7, 1, -4096n).toString('hex')).toBe('07000000' + '01000000' + '00f0ffffffffffff');
  });
});

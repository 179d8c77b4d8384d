import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compareStrings } from '@firn/segments';
import { tenantFromTrustedSource } from '@firn/tenancy';
import { frameNumbersOf, rememberFrameNumbers, StackCatalog, StackCatalogs } from './stack-catalog';
import { frame } from './testing/query-fixture';

describe(StackCatalog.name, () => {
  it('gives each key one id and shares equal frames between stacks', () => {
    const c = new StackCatalog();
    const a = c.intern('k1');
    expect(c.intern('k2')).toBe(a + 1);
    expect(c.intern('k1')).toBe(a);
    c.setFrames(a, [frame('main'), frame('leaf')]);
    c.setFrames(a + 1, [frame('other'), frame('main')]);
    expect(c.frames[a + 1]![1]).toBe(c.frames[a]![0]);
  });

  it('orders ids by stack key as a string sort does, hex heads or not, equal heads included', () => {
    const hexKey = fc.stringMatching(/^[0-9a-f]{32}$/);
    const sameHead = fc.stringMatching(/^[0-9a-f]{4}$/).map((tail) => `0123abcd${tail}`);
    const other = fc.string({ maxLength: 12 });
    fc.assert(
      fc.property(fc.uniqueArray(fc.oneof(hexKey, sameHead, sameHead, other), { maxLength: 60 }), fc.boolean(), (keys, hexOnly) => {
        const c = new StackCatalog();
        const used = hexOnly ? keys.filter((k) => /^[0-9a-f]{8}/.test(k)) : keys;
        const ids = used.map((k) => c.intern(k)).reverse();
        const expected = [...ids].sort((a, b) => compareStrings(c.keys[a], c.keys[b]));
        expect(c.sortedByKey(ids)).toEqual(expected);
      }),
    );
  });

  it('numbers each frame object once across stacks, stack by stack in the order asked', () => {
    const c = new StackCatalog();
    const [a, b, d] = ['k1', 'k2', 'k3'].map((k) => c.intern(k));
    c.setFrames(a, [frame('leaf'), frame('main')]);
    c.setFrames(b, [frame('other'), frame('main')]);
    c.setFrames(
      d,
      Array.from({ length: 2000 }, (_, i) => frame(`f${i}`)),
    ); // grows the number pool
    const n = c.framesNumbered([b, a, d]);
    const numbersOf = (s: number, length: number): number[] => Array.from(n.pool.subarray(n.starts[s], n.starts[s] + length));
    expect(numbersOf(0, 2)).toEqual([0, 1]);
    expect(numbersOf(1, 2)).toEqual([2, 1]); // main: one object, one number
    expect(numbersOf(2, 2000).map((k) => n.frames[k])).toEqual(c.frames[d]);
    expect(n.count).toBe(2003);
    expect(n.frames[1]).toBe(c.frames[a]![1]);
    const again = c.framesNumbered([a]); // numbered once: the same numbers
    expect(Array.from(again.pool.subarray(again.starts[0], again.starts[0] + 2))).toEqual([2, 1]);
    const stacks = [c.frames[a]!];
    rememberFrameNumbers(stacks, again);
    expect(frameNumbersOf(stacks)).toBe(again);
    expect(frameNumbersOf([c.frames[a]!])).toBeUndefined(); // told for that array only
  });

  it('keeps the stack-id maps of the most recently used segments only', () => {
    const c = new StackCatalog(2);
    c.ensureSegmentMap('s1', 4)[1] = 7;
    c.ensureSegmentMap('s2', 4);
    expect(c.segmentMap('s1')?.[1]).toBe(7); // s1 is now the most recent
    c.ensureSegmentMap('s3', 4);
    expect(c.segmentMap('s2')).toBeUndefined();
    const grown = c.ensureSegmentMap('s1', 8);
    expect([grown[1], grown[6]]).toEqual([7, -1]);
  });
});

describe(StackCatalogs.name, () => {
  it('keeps tenants apart and starts a catalog afresh once it outgrows its budget', async () => {
    const cs = new StackCatalogs({ maxStacks: 2 });
    const t1 = tenantFromTrustedSource('t1');
    const c1 = await cs.forTenant(t1);
    expect(await cs.forTenant(tenantFromTrustedSource('t2'))).not.toBe(c1);
    for (const k of ['a', 'b', 'c']) c1.intern(k);
    const next = await cs.forTenant(t1);
    expect(next).not.toBe(c1);
    expect(next.size).toBe(0);
  });
});

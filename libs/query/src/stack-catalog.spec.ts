import { describe, expect, it } from 'vitest';
import { tenantFromTrustedSource } from '@firn/tenancy';
import { StackCatalog, StackCatalogs } from './stack-catalog';
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

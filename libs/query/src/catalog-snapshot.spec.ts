import { describe, expect, it } from 'vitest';
import { isFirnError } from '@firn/errors';
import { tenantFromTrustedSource } from '@firn/tenancy';
import { decodeCatalogSnapshot, encodeCatalogSnapshot } from './catalog-snapshot';
import { StackCatalog, StackCatalogs } from './stack-catalog';
import { frame } from './testing/query-fixture';

/** A catalog as queries leave it: keys, frames for some stacks only, two segment maps. */
function sampleCatalog(): StackCatalog {
  const c = new StackCatalog();
  const [a, b, d] = ['k-a', 'k-b', 'k-d'].map((k) => c.intern(k));
  c.setFrames(a, [frame('main'), frame('leaf', 7)]);
  c.setFrames(b, [{ ...frame('inl', 2), inlined: true, address: 0xffff_ffff_ffff_fff0n, line: 2 ** 40 }, frame('main')]);
  const s1 = c.ensureSegmentMap('tenants/t1/seg/1/stacks.parquet', 4);
  s1.set([a, -1, b, d]);
  c.ensureSegmentMap('tenants/t1/seg/2/stacks.parquet', 2).set([d, a]);
  return c;
}

async function invalidArgument(fn: () => unknown): Promise<string> {
  try {
    await fn();
  } catch (err) {
    if (isFirnError(err) && err.code === 'invalid_argument') return err.message;
    throw err;
  }
  throw new Error('expected invalid_argument');
}

describe('stack catalog snapshot', () => {
  it('round-trips keys, frames (shared, unknown ones stay unknown) and segment maps', () => {
    const c = sampleCatalog();
    const back = StackCatalog.fromSnapshot(decodeCatalogSnapshot(encodeCatalogSnapshot(c.toSnapshot())), () => true);
    expect(back.keys).toEqual(c.keys);
    expect(back.frames).toEqual(c.frames);
    expect(back.frames[2]).toBeUndefined();
    // The one 'main' frame object is shared by both stacks, as in a catalog built by queries.
    expect(back.frames[1]![1]).toBe(back.frames[0]![0]);
    expect([...back.segmentMap('tenants/t1/seg/1/stacks.parquet')!]).toEqual([0, -1, 1, 2]);
    expect([...back.segmentMap('tenants/t1/seg/2/stacks.parquet')!]).toEqual([2, 0]);
    // Nothing learnt yet: a loaded catalog is not written back until a query grows it.
    expect(back.version).toBe(0);
    back.intern('k-new');
    expect(back.version).toBeGreaterThan(0);
  });

  it('drops the maps of segments the caller no longer lists (compacted away, expired)', () => {
    const snap = decodeCatalogSnapshot(encodeCatalogSnapshot(sampleCatalog().toSnapshot()));
    const back = StackCatalog.fromSnapshot(snap, (k) => k.includes('/2/'));
    expect(back.segmentMap('tenants/t1/seg/1/stacks.parquet')).toBeUndefined();
    expect(back.segmentMap('tenants/t1/seg/2/stacks.parquet')).toBeDefined();
  });

  it('an empty catalog round-trips', () => {
    const back = decodeCatalogSnapshot(encodeCatalogSnapshot(new StackCatalog().toSnapshot()));
    expect(back).toEqual({ keys: [], frames: [], stackFrames: [], segments: [] });
  });

  it('rejects truncated, foreign and inconsistent bytes as invalid_argument', async () => {
    const good = encodeCatalogSnapshot(sampleCatalog().toSnapshot());
    expect(await invalidArgument(() => decodeCatalogSnapshot(good.subarray(0, good.length - 9)))).toMatch(/checksum/);
    expect(await invalidArgument(() => decodeCatalogSnapshot(Buffer.from('PAR1 not a snapshot')))).toMatch(/magic/);
    expect(await invalidArgument(() => decodeCatalogSnapshot(Buffer.concat([good, Buffer.from([0])])))).toMatch(/checksum/);
    // A map naming a catalog id past the keys (e.g. a snapshot written by a buggy version).
    const s = sampleCatalog().toSnapshot();
    s.segments[0].map = Int32Array.from([0, 99]);
    expect(await invalidArgument(() => decodeCatalogSnapshot(encodeCatalogSnapshot(s)))).toMatch(/catalog id 99/);
    const dup = sampleCatalog().toSnapshot();
    dup.keys[1] = dup.keys[0];
    expect(await invalidArgument(() => decodeCatalogSnapshot(encodeCatalogSnapshot(dup)))).toMatch(/twice/);
    const badRef = sampleCatalog().toSnapshot();
    badRef.stackFrames[0] = Int32Array.from([5]);
    expect(await invalidArgument(() => decodeCatalogSnapshot(encodeCatalogSnapshot(badRef)))).toMatch(/frame index 5/);
  });

  it('a flipped byte anywhere is caught by the checksum before Arrow decodes anything', async () => {
    const good = encodeCatalogSnapshot(sampleCatalog().toSnapshot());
    for (let i = 8; i < good.length; i += 3) {
      const bad = Buffer.from(good);
      bad[i] ^= 0x5a;
      expect(await invalidArgument(() => decodeCatalogSnapshot(bad))).toMatch(/checksum|corrupt/);
    }
  });
});

describe(`${StackCatalogs.name} with a loader`, () => {
  const t1 = tenantFromTrustedSource('t1');
  const t2 = tenantFromTrustedSource('t2');

  it('loads each tenant once (concurrent first queries share the load) and keys the result by tenant', async () => {
    const asked: string[] = [];
    const cs = new StackCatalogs({}, async (t) => {
      asked.push(t);
      await new Promise((r) => setTimeout(r, 5));
      return t === t1 ? sampleCatalog() : undefined;
    });
    const [a, b] = await Promise.all([cs.forTenant(t1), cs.forTenant(t1)]);
    expect(a).toBe(b);
    expect(a.keys).toEqual(['k-a', 'k-b', 'k-d']);
    expect((await cs.forTenant(t2)).size).toBe(0);
    await cs.forTenant(t1);
    expect(asked).toEqual([t1, t2]);
  });

  it('a failing loader or a snapshot over the stack budget leaves an empty catalog', async () => {
    const failing = new StackCatalogs({}, () => Promise.reject(new Error('boom')));
    expect((await failing.forTenant(t1)).size).toBe(0);
    const small = new StackCatalogs({ maxStacks: 2 }, async () => sampleCatalog());
    expect((await small.forTenant(t1)).size).toBe(0);
  });
});

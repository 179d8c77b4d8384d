import { toBinary } from '@bufbuild/protobuf';
import { queryV1alpha1 } from '@firn/proto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CPU, F, handProfile, profileArb } from './test-profiles';
import { parcaTop } from './top';

const rows = (r: ReturnType<typeof parcaTop>) =>
  r.top.list.map((n) => ({
    name: n.meta?.function?.name ?? `0x${n.meta!.location!.address.toString(16)}`,
    cumulative: Number(n.cumulative),
    flat: Number(n.flat),
    diff: Number(n.diff),
  }));

describe(parcaTop.name, () => {
  it('aggregates per function (innermost line of each location), sorted by flat then address', () => {
    const r = parcaTop(handProfile());
    // parse is absent: upstream names a location by its first (innermost) line only.
    expect(rows(r)).toEqual([
      { name: 'compute', cumulative: 7, flat: 7, diff: 0 },
      { name: 'inlinedHelper', cumulative: 5, flat: 5, diff: 0 },
      { name: '0xabc', cumulative: 2, flat: 2, diff: 0 },
      { name: 'handle', cumulative: 9, flat: 1, diff: 0 },
      { name: 'idle', cumulative: 1, flat: 1, diff: 0 },
      { name: 'main', cumulative: 15, flat: 0, diff: 0 },
    ]);
    expect(r.top.reported).toBe(6);
    expect(r.top.total).toBe(16);
    expect(r.top.unit).toBe('count');
    expect(r.total).toBe(16n);
    const unsym = r.top.list[2].meta!;
    expect(unsym.function).toBeUndefined();
    expect(unsym.mapping?.file).toBe('/lib/libc.so.6');
    expect(unsym.mapping?.buildId).toBe('c2');
    const flags = (m: typeof unsym.mapping) => [m?.hasFunctions, m?.hasFilenames, m?.hasLineNumbers, m?.hasInlineFrames];
    expect(flags(unsym.mapping)).toEqual([false, false, false, false]);
    expect(flags(r.top.list[0].meta!.mapping)).toEqual([true, true, true, true]);
    const compute = r.top.list[0].meta!;
    expect(compute.line?.line).toBe(40n);
    expect(compute.line?.functionId).toBe(compute.function?.id);
    expect(compute.location?.mappingId).toBe(compute.mapping?.id);
    // It is a valid message.
    expect(toBinary(queryV1alpha1.TopSchema, r.top).length).toBeGreaterThan(0);
  });

  it('drops the line of a function seen at several locations and counts recursion once', () => {
    const h2 = { ...F.handle, address: 0x210n, line: 21 };
    const p = {
      profileType: CPU,
      stacks: [
        [F.handle, F.main],
        [h2, F.handle, F.main],
      ],
      values: Float64Array.from([1, 2]),
      total: 3,
    };
    const r = parcaTop(p);
    const handle = r.top.list.find((n) => n.meta?.function?.name === 'handle')!;
    expect(handle.meta?.line).toBeUndefined();
    expect(Number(handle.cumulative)).toBe(3);
    expect(Number(handle.flat)).toBe(3);
  });

  it('reports cumulative B - A as diff', () => {
    const r = parcaTop(handProfile([2, 3, 0, 1, 6, 0]), { absolute: true });
    const byName = Object.fromEntries(rows(r).map((x) => [x.name, x.diff]));
    expect(byName).toEqual({ compute: -2, inlinedHelper: 3, '0xabc': 2, handle: 3, idle: 1, main: 3 });
  });

  it('sums flat to the total (property)', () => {
    fc.assert(
      fc.property(profileArb, (p) => {
        const r = parcaTop({ ...p, base: undefined });
        expect(r.top.list.reduce((s, n) => s + Number(n.flat), 0)).toBe(p.total);
        for (const n of r.top.list) expect(Number(n.cumulative)).toBeLessThanOrEqual(p.total);
      }),
      { numRuns: 100 },
    );
  });
});

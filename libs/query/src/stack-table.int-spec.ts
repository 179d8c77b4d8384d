import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Frame } from '@firn/profiles';
import { segmentObjects } from './segment-objects';
import { StackCatalog } from './stack-catalog';
import { fillFrames, mapStacks, type MappedSegment } from './stack-table';
import { CPU, frame, framesKey, QueryFixture, T0, type Row } from './testing/query-fixture';

function rowsOf(stacks: readonly Frame[][], tsOffset: number): Row[] {
  return stacks.map((stack, i) => ({ pt: CPU, labels: [['pod', 'a']], stack, value: 1 + i, ts: T0 + tsOffset + i, durationNs: 10_000_000_000 }));
}

describe(fillFrames.name, () => {
  let fx: QueryFixture;
  // 400 common stacks in every segment (sharing most of their frames), one rare stack per segment.
  const common: Frame[][] = Array.from({ length: 400 }, (_, i) => [frame(`leaf_${i}`, i % 7), frame(`mid_${i % 13}`), frame('main', 0)]);
  const rare = (s: number): Frame[] => [frame(`rare_${s}`), frame('main', 0)];

  beforeAll(async () => {
    fx = await QueryFixture.create();
    for (let s = 0; s < 3; s++) await fx.addSegment([...rowsOf(common, s * 1000), ...rowsOf([rare(s)], s * 1000 + 999)]);
  });

  afterAll(async () => {
    await fx?.cleanup();
  });

  async function mapAll(catalog: StackCatalog): Promise<MappedSegment[]> {
    const out: MappedSegment[] = [];
    for (const seg of fx.metas) {
      const n = common.length + 1;
      out.push({
        seg,
        map: await mapStacks(
          fx.store,
          seg,
          Uint32Array.from({ length: n }, (_, i) => i),
          catalog,
        ),
      });
    }
    return out;
  }

  it('maps keys without frames, then reads frames once per stack from as few segments as cover them', async () => {
    const catalog = new StackCatalog();
    const mapped = await mapAll(catalog);
    expect(catalog.size).toBe(common.length + 3);
    expect(catalog.frames.every((f) => f === undefined)).toBe(true);

    fx.store.reset();
    await fillFrames(
      fx.store,
      catalog,
      Uint32Array.from({ length: catalog.size }, (_, i) => i),
      mapped,
    );
    const byKey = new Map(catalog.keys.map((k, i) => [k, catalog.frames[i]]));
    for (const stack of [...common, rare(0), rare(1), rare(2)]) {
      const got = [...byKey.values()].find((f) => f && framesKey(f) === framesKey(stack));
      expect(got).toEqual(stack);
    }
    // Every segment holds a rare stack, so all three are read, but only the first for the common ones.
    const stacksRead = fx.metas.map((seg) => fx.store.bytesByKey.get(segmentObjects(seg).stacks) ?? 0);
    expect(stacksRead.filter((b) => b > 0)).toHaveLength(3);

    // Equal frames are one object, within and across stacks and segments.
    const mains = new Set(catalog.frames.map((f) => f![f!.length - 1]));
    expect(mains.size).toBe(1);

    // A second fill has nothing to read.
    fx.store.reset();
    await fillFrames(
      fx.store,
      catalog,
      Uint32Array.from({ length: catalog.size }, (_, i) => i),
      mapped,
    );
    expect(fx.store.bytesByKey.size).toBe(0);
  });

  it('reads one segment when it holds every stack asked for', async () => {
    const catalog = new StackCatalog();
    const mapped = await mapAll(catalog);
    const firstSegmentStacks = Uint32Array.from(new Set(mapped[0].map)).sort();
    fx.store.reset();
    await fillFrames(fx.store, catalog, firstSegmentStacks, mapped);
    const stacksRead = fx.metas.map((seg) => fx.store.bytesByKey.get(segmentObjects(seg).stacks) ?? 0);
    expect(stacksRead.filter((b) => b > 0)).toHaveLength(1);
    expect(firstSegmentStacks.every((id) => catalog.frames[id] !== undefined)).toBe(true);
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseMatchers, type Frame, type Label } from '@firn/profiles';
import { openSegmentObject } from '@firn/segments';
import { StackAccumulator, type PartialAggregate } from './merge-stacks';
import { segmentObjects } from './segment-objects';
import { scanSegment } from './segment-scan';
import { readStacksById } from './stack-table';
import { CPU, frame, framesKey, MEM, QueryFixture, seeded, T0, type Row } from './testing/query-fixture';

function totalsOf(p: PartialAggregate): Map<string, number> {
  const acc = new StackAccumulator(p.groupBy);
  acc.addPartial(p);
  const prof = acc.toStackProfile('x');
  return new Map(prof.stacks.map((s, i) => [framesKey(s), prof.values[i]]));
}

/** Many rows, wide label columns and thousands of stacks, in small row groups. */
function wideRows(): Row[] {
  const rnd = seeded(7);
  const stacks: Frame[][] = Array.from({ length: 3000 }, (_, i) => [frame(`leaf_${i}`, i % 50), frame(`mid_${i % 97}`), frame('main', 0)]);
  const rows: Row[] = [];
  const seen = new Set<string>();
  for (let i = 0; i < 20_000; i++) {
    const pod = `pod-${Math.floor(rnd() * 20)}`;
    const labels: Label[] = [
      ['instance', `10.0.${Math.floor(rnd() * 250)}.${Math.floor(rnd() * 250)}:${8000 + Math.floor(rnd() * 1000)}/some/long/path/${pod}`],
      ['pod', pod],
      ['trace', Math.floor(rnd() * 1e12).toString(36)],
    ];
    const pt = rnd() < 0.5 ? CPU : MEM;
    const s = stacks[Math.floor(rnd() * stacks.length)];
    const ts = T0 + Math.floor(rnd() * 600) * 1000;
    const k = `${pt}|${JSON.stringify(labels)}|${framesKey(s)}|${ts}`;
    if (seen.has(k)) continue;
    seen.add(k);
    rows.push({ pt, labels, stack: s, value: 1 + Math.floor(rnd() * 1000), ts, durationNs: 10_000_000_000 });
  }
  return rows;
}

describe(scanSegment.name, () => {
  let fx: QueryFixture;

  beforeAll(async () => {
    fx = await QueryFixture.create();
  });

  afterAll(async () => {
    await fx?.cleanup();
  });

  it('reads only the needed columns and row groups through ranged requests', async () => {
    const rows = wideRows();
    const seg = await fx.addSegment(rows, { rowGroupRows: 2048 });
    const keys = segmentObjects(seg);
    const samplesSize = (await fx.store.head(keys.samples))?.size ?? 0;

    const q = { profileType: CPU, matchers: parseMatchers('{pod="pod-3"}'), startMs: T0 + 100_000, endMs: T0 + 160_000 };
    fx.store.reset();
    const p = await scanSegment(fx.store, seg, q);
    const read = fx.store.bytesByKey.get(keys.samples) ?? 0;
    expect(totalsOf(p)).toEqual(fx.expectedTotals(CPU, q.matchers, q.startMs, q.endMs, rows));
    expect(p.stacks.length).toBeGreaterThan(5);
    expect(p.stacks.length).toBeLessThan(200);
    // Wide label columns (instance, trace), series_id, duration and period are never fetched, and
    // the data columns of row groups holding only the other profile type are skipped.
    expect(read).toBeLessThan(samplesSize / 3);

    // Grouping by a wide label fetches that column too.
    fx.store.reset();
    const grouped = await scanSegment(fx.store, seg, q, { groupBy: ['instance'] });
    expect(totalsOf(grouped)).toEqual(totalsOf(p));
    expect(fx.store.bytesByKey.get(keys.samples)).toBeGreaterThan(read);
  });

  it('fetches only the stack row groups holding the requested ids (and the frame table)', async () => {
    const seg = fx.metas[0];
    const keys = segmentObjects(seg);
    const stacksSize = (await fx.store.head(keys.stacks))?.size ?? 0;
    const reader = await openSegmentObject(fx.store, keys.stacks);
    const groups = reader.layout().rowGroups;
    reader.close();
    expect(groups.length).toBe(2);
    // Bytes of a row group's own stacks (ids, keys, frame ids): the frame table lives in row group 0.
    const ownBytes = (g: number): number => groups[g].columns.filter((c) => !c.path.startsWith('frame_table.')).reduce((sum, c) => sum + c.compressedBytes, 0);
    const othersThan = (wanted: number[]): number => groups.reduce((sum, _, g) => sum + (wanted.includes(g) ? 0 : ownBytes(g)), 0);
    fx.store.reset();
    const got = await readStacksById(fx.store, seg, Uint32Array.from([0, 5, 2047]));
    expect([...got.keys()].sort((a, b) => a - b)).toEqual([0, 5, 2047]);
    expect(new Set([...got.values()].map((s) => s.key)).size).toBe(3);
    expect(fx.store.bytesByKey.get(keys.stacks)).toBeLessThanOrEqual(stacksSize - othersThan([0]));
    fx.store.reset();
    const more = await readStacksById(fx.store, seg, Uint32Array.from([5, 2048]));
    expect([...more.keys()].sort((a, b) => a - b)).toEqual([5, 2048]);
    expect(more.get(5)).toEqual(got.get(5));
    expect(fx.store.bytesByKey.get(keys.stacks)).toBeGreaterThan(stacksSize - othersThan([0]));
  });

  it('reads the stacks of a segment written before stacks v2 (frames in full) as those of a v2 one', async () => {
    const rows = wideRows();
    const v2 = fx.metas[0];
    const v1 = await fx.addSegment(rows, { rowGroupRows: 2048, stacksLayout: 'v1', id: 'stacks-v1' });
    const ids = Uint32Array.from([0, 5, 2047, 2048]);
    const [a, b] = [await readStacksById(fx.store, v2, ids), await readStacksById(fx.store, v1, ids)];
    expect([...b.entries()]).toEqual([...a.entries()]);
    const q = { profileType: CPU, matchers: parseMatchers('{pod=~"pod-[12]"}'), startMs: T0, endMs: T0 + 600_000 };
    expect(totalsOf(await scanSegment(fx.store, v1, q))).toEqual(totalsOf(await scanSegment(fx.store, v2, q)));
  });

  it('neither fetches nor decodes frames of stacks the caller already holds', async () => {
    const seg = fx.metas[0];
    const keys = segmentObjects(seg);
    const q = { profileType: MEM, matchers: parseMatchers('{pod=~"pod-1."}'), startMs: T0, endMs: T0 + 600_000 };
    fx.store.reset();
    const cold = await scanSegment(fx.store, seg, q);
    const coldBytes = fx.store.bytesByKey.get(keys.stacks) ?? 0;
    const held = new Map(cold.stacks.map((st) => [st.key, st.frames]));
    fx.store.reset();
    const warm = await scanSegment(fx.store, seg, q, { knownFrames: (k) => held.get(k) });
    expect(warm).toEqual(cold);
    expect(warm.stacks.every((st) => st.frames === held.get(st.key))).toBe(true);
    const warmBytes = fx.store.bytesByKey.get(keys.stacks) ?? 0;
    const reader = await openSegmentObject(fx.store, keys.stacks);
    const framesBytes = reader
      .layout()
      .rowGroups.flatMap((g) => g.columns)
      .filter((c) => c.path.startsWith('frame_ids.') || c.path.startsWith('frame_table.'))
      .reduce((sum, c) => sum + c.compressedBytes, 0);
    reader.close();
    expect(framesBytes).toBeGreaterThan(coldBytes / 4);
    // The warm scan fetched ids and keys only: the frame columns (frame ids, the frame table) were never requested.
    const stacksSize = (await fx.store.head(keys.stacks))?.size ?? 0;
    expect(warmBytes).toBeLessThanOrEqual(stacksSize - framesBytes);
    expect(warmBytes).toBeLessThan(coldBytes);
  });

  it('treats a label column the segment lacks as the empty value', async () => {
    const stack = [frame('f')];
    const rows: Row[] = [
      { pt: CPU, labels: [['pod', 'a']], stack, value: 3, ts: T0, durationNs: 0 },
      { pt: CPU, labels: [['pod', 'b']], stack: [frame('g')], value: 5, ts: T0 + 1, durationNs: 0 },
    ];
    const seg = await fx.addSegment(rows);
    const scan = async (sel: string): Promise<number> => {
      const p = await scanSegment(fx.store, seg, { profileType: CPU, matchers: parseMatchers(sel), startMs: T0, endMs: T0 + 10 });
      return p.values.reduce((a, b) => a + b, 0);
    };
    expect(await scan('{zone=""}')).toBe(8);
    expect(await scan('{zone!~".+"}')).toBe(8);
    expect(await scan('{zone="z"}')).toBe(0);
    expect(await scan('{zone=~"z|", pod="b"}')).toBe(5);
    const grouped = await scanSegment(fx.store, seg, { profileType: CPU, matchers: [], startMs: T0, endMs: T0 + 10 }, { groupBy: ['zone', 'pod'] });
    expect(grouped.groups).toEqual([
      ['', 'a'],
      ['', 'b'],
    ]);
    expect([...grouped.values]).toEqual([3, 5]);
  });

  it('returns an empty partial when no row matches, without reading stacks', async () => {
    const seg = fx.metas[0];
    fx.store.reset();
    const p = await scanSegment(fx.store, seg, { profileType: 'other:a:b:c:d', matchers: [], startMs: T0, endMs: T0 + 1e6 });
    expect(p.values.length).toBe(0);
    expect(p.stacks).toEqual([]);
    expect([...fx.store.bytesByKey.keys()]).toEqual([segmentObjects(seg).samples]);
    // A matcher on a label the segment lacks decides from the footer alone.
    fx.store.reset();
    const none = await scanSegment(fx.store, seg, { profileType: CPU, matchers: parseMatchers('{zone="z1"}'), startMs: T0, endMs: T0 + 1e6 });
    expect(none.values.length).toBe(0);
    expect(fx.store.requests).toBe(3);
  });
});

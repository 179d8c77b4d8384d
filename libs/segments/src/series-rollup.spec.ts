import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { isFirnError } from '@firn/errors';
import { readSegmentSamples } from './segment-reader';
import { labelNameOfColumn } from './segment-schema';
import { buildSegment, type BuildSegmentOptions } from './segment-writer';
import { decodeSeriesRollup, encodeSeriesRollup, type SeriesRollup } from './series-rollup';
import { ALLOC, CPU, mixedBatches, NATIVE, INLINED } from './testing/mixed-batches';
import { batchOf, fleetBatches } from './testing/synthetic-batches';
import type { SampleBatch } from '@firn/profiles';

type Point = { value: number; rows: number; durationNs: number };

/** Brute force from the samples object's rows in file order: Σ per (profile type, series, ts), first row's duration. */
async function expectedPoints(samples: Uint8Array): Promise<Map<string, Map<number, Point>>> {
  const t = await readSegmentSamples(samples);
  const labelCols = t.schema.fields.map((f) => f.name).filter((n) => labelNameOfColumn(n) !== undefined);
  const out = new Map<string, Map<number, Point>>();
  for (let i = 0; i < t.numRows; i++) {
    const labels: Array<[string, string]> = [];
    for (const c of labelCols) {
      const v = t.getChild(c)?.get(i) as string | null;
      if (v !== null && v !== '') labels.push([labelNameOfColumn(c) ?? '', v]);
    }
    const key = JSON.stringify([t.getChild('profile_type')?.get(i), t.getChild('series_id')?.get(i), labels]);
    let pts = out.get(key);
    if (!pts) out.set(key, (pts = new Map()));
    const ts = Number(t.getChild('timestamp')?.get(i) as bigint);
    const p = pts.get(ts);
    const value = Number(t.getChild('value')?.get(i) as bigint);
    if (p) {
      p.value += value;
      p.rows++;
    } else pts.set(ts, { value, rows: 1, durationNs: Number(t.getChild('duration')?.get(i) as bigint) });
  }
  return out;
}

function pointsOf(r: SeriesRollup): Map<string, Map<number, Point>> {
  const out = new Map<string, Map<number, Point>>();
  r.profileTypes.forEach((pt, k) => {
    const key = JSON.stringify([pt, r.seriesIds[k], r.labels[k]]);
    expect(out.has(key)).toBe(false);
    const pts = new Map<number, Point>();
    let last = -Infinity;
    for (let i = r.starts[k]; i < r.starts[k + 1]; i++) {
      const ts = r.tsBase + r.tsOff[i];
      expect(ts).toBeGreaterThan(last);
      last = ts;
      const durationNs = Number.isNaN(r.durationEach[k]) ? (r.durationNs?.[i] ?? NaN) : r.durationEach[k];
      pts.set(ts, { value: r.value[i], rows: r.rows?.[i] ?? 1, durationNs });
    }
    out.set(key, pts);
  });
  return out;
}

async function roundTrip(batches: SampleBatch[], opts: BuildSegmentOptions): Promise<SeriesRollup> {
  const built = buildSegment(batches, opts);
  const rollup = decodeSeriesRollup(built.series);
  expect(pointsOf(rollup)).toEqual(await expectedPoints(built.samples));
  expect(built.meta.bytes).toBe(built.samples.byteLength + built.stacks.byteLength + built.series.byteLength);
  return rollup;
}

function invalid(f: () => unknown, message: RegExp): void {
  try {
    f();
  } catch (err) {
    expect(isFirnError(err) && err.code === 'invalid_argument').toBe(true);
    expect((err as Error).message).toMatch(message);
    return;
  }
  throw new Error('expected invalid_argument');
}

describe('series rollup', () => {
  it.each([
    ['time', {}],
    ['stack (compactor layout)', { rowOrder: 'stack', stackOrder: 'frames', rowGroupRows: 7 }],
  ] as const)('sums the rows per (profile type, series, timestamp) in %s order', async (_, opts) => {
    await roundTrip(mixedBatches(), opts);
    const fleet = fleetBatches({ seed: 7, agents: 3, podsPerAgent: 4, distinctStacks: 60, samplesPerPodWindow: 20, windows: 3, startMs: 1_700_000_000_000 });
    const r = await roundTrip(fleet, opts);
    expect(r.profileTypes.length).toBeGreaterThan(1);
  });

  it('keeps exact values, row counts and durations past the compact column types', async () => {
    const T = 1_700_000_000_000;
    const big = 2 ** 40 + 3;
    const batches = [
      batchOf([
        { pt: CPU, labels: [['pod', 'a']], stack: NATIVE, value: big, ts: T, dur: 1 },
        { pt: CPU, labels: [['pod', 'a']], stack: INLINED, value: 1, ts: T, dur: 7 },
        // Past 2^31 ms after the first point: timestamps no longer fit Int32 offsets.
        { pt: CPU, labels: [['pod', 'a']], stack: NATIVE, value: 2, ts: T + 2 ** 32, dur: 5 },
        {
          pt: ALLOC,
          labels: [
            ['pod', 'b'],
            ['zone', ''],
          ],
          stack: NATIVE,
          value: 4,
          ts: T + 1,
          dur: 9,
        },
      ]),
    ];
    const r = await roundTrip(batches, {});
    expect(r.tsOff).toBeInstanceOf(Float64Array);
    expect(r.value).toBeInstanceOf(Float64Array);
    expect(r.rows).toBeDefined();
    expect(r.durationNs).toBeDefined();
    expect(r.labels).toContainEqual([['pod', 'b']]);
  });

  it('reads back an empty rollup and rejects bytes that are not one, naming what is wrong', () => {
    const empty: SeriesRollup = {
      starts: new Uint32Array(1),
      tsOff: new Int32Array(0),
      tsBase: 0,
      value: new Uint32Array(0),
      durationEach: new Float64Array(0),
      bytes: 0,
      profileTypes: [],
      seriesIds: new Uint32Array(0),
      labels: [],
    };
    expect(decodeSeriesRollup(encodeSeriesRollup(empty)).profileTypes).toEqual([]);
    invalid(() => decodeSeriesRollup(Buffer.from('not gzip at all')), /series rollup: not gzip/);
    invalid(() => decodeSeriesRollup(gzipSync('gzip, but not arrow')), /series rollup: not gzip-compressed Arrow IPC/);
    const samples = buildSegment(mixedBatches()).stacks;
    invalid(() => decodeSeriesRollup(samples), /series rollup/);
  });
});

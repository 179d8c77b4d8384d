// @vitest-environment jsdom
import '../tests/grafana-env';
import { DataFrame, FieldType } from '@grafana/data';
import { checkFields } from '@grafana/flamegraph';
import { describe, expect, it } from 'vitest';
import { diffFlameGraphFrame, flameGraphFrame, seriesFrames, unitOf } from './frames';

const CPU = 'process_cpu:cpu:nanoseconds:cpu:nanoseconds';
const AGENT = 'parca_agent:samples:count:cpu:nanoseconds:delta';

function columns(frame: DataFrame): Record<string, unknown[]> {
  return Object.fromEntries(frame.fields.map((f) => [f.name, [...f.values]]));
}

describe(flameGraphFrame.name, () => {
  it('does turn Pyroscope levels into the nested-set frame Grafana reads', () => {
    // main;work;cold_fn 30 and main;work;hot_fn 70 as Firn encodes them (4 numbers per node:
    // x delta from the previous node's end, total, self, name index).
    const frame = flameGraphFrame(
      {
        names: ['total', 'main', 'work', 'cold_fn', 'hot_fn'],
        levels: [
          [0, 100, 0, 0],
          [0, 100, 0, 1],
          [0, 100, 0, 2],
          [0, 30, 30, 3, 0, 70, 70, 4],
        ],
        total: 100,
        maxSelf: 70,
      },
      CPU,
      'A',
    );
    expect(columns(frame)).toEqual({
      level: [0, 1, 2, 3, 3],
      value: [100, 100, 100, 30, 70],
      self: [0, 0, 0, 30, 70],
      label: ['total', 'main', 'work', 'cold_fn', 'hot_fn'],
    });
    expect(frame.refId).toBe('A');
    expect(frame.meta?.preferredVisualisationType).toBe('flamegraph');
    expect(frame.fields.map((f) => [f.name, f.type, f.config.unit])).toEqual([
      ['level', FieldType.number, undefined],
      ['value', FieldType.number, 'ns'],
      ['self', FieldType.number, 'ns'],
      ['label', FieldType.string, undefined],
    ]);
    // Grafana's flame graph panel accepts it.
    expect(checkFields(frame)).toBeUndefined();
  });

  it('does place children by their x offsets when parents have self time and siblings', () => {
    // total 10: a (6, self 1) -> b (5); c (4, self 2) -> d (2). Children start after their
    // parent's self: b at x=1, d at x=8, delta-encoded against the previous node's end.
    const frame = flameGraphFrame(
      {
        names: ['total', 'a', 'c', 'b', 'd'],
        levels: [
          [0, 10, 0, 0],
          [0, 6, 1, 1, 0, 4, 2, 2],
          [1, 5, 5, 3, 2, 2, 2, 4],
        ],
        total: 10,
        maxSelf: 5,
      },
      CPU,
      'A',
    );
    expect(columns(frame)).toEqual({
      level: [0, 1, 2, 1, 2],
      value: [10, 6, 5, 4, 2],
      self: [0, 1, 5, 2, 2],
      label: ['total', 'a', 'b', 'c', 'd'],
    });
  });

  it('does return an empty flame graph frame for an empty profile', () => {
    const frame = flameGraphFrame({ names: [], levels: [], total: 0, maxSelf: 0 }, CPU, 'B');
    expect(columns(frame)).toEqual({ level: [], value: [], self: [], label: [] });
    expect(checkFields(frame)).toBeUndefined();
  });
});

describe(diffFlameGraphFrame.name, () => {
  it('does give the baseline as value/self and the comparison as valueRight/selfRight', () => {
    // Baseline: hot_fn 30, cold_fn 10. Comparison: hot_fn 60, cold_fn 10, new_fn 5 (absent from
    // the baseline). 7 numbers per node: left x, left total, left self, right x, right total,
    // right self, name index.
    const frame = diffFlameGraphFrame(
      {
        names: ['total', 'main', 'work', 'cold_fn', 'hot_fn', 'new_fn'],
        levels: [
          [0, 40, 0, 0, 75, 0, 0],
          [0, 40, 0, 0, 75, 0, 1],
          [0, 40, 0, 0, 75, 0, 2],
          [0, 10, 10, 0, 10, 10, 3, 0, 30, 30, 0, 60, 60, 4, 0, 0, 0, 0, 5, 5, 5],
        ],
        total: 115,
        maxSelf: 60,
        leftTicks: 40,
        rightTicks: 75,
      },
      CPU,
      'A',
    );
    expect(columns(frame)).toEqual({
      level: [0, 1, 2, 3, 3, 3],
      value: [40, 40, 40, 10, 30, 0],
      self: [0, 0, 0, 10, 30, 0],
      label: ['total', 'main', 'work', 'cold_fn', 'hot_fn', 'new_fn'],
      valueRight: [75, 75, 75, 10, 60, 5],
      selfRight: [0, 0, 0, 10, 60, 5],
    });
    expect(frame.meta?.preferredVisualisationType).toBe('flamegraph');
    expect(frame.meta?.custom).toEqual({ profileTypeId: CPU, diff: true, baselineTotal: 40, comparisonTotal: 75 });
    expect(frame.fields.find((f) => f.name === 'selfRight')?.config.unit).toBe('ns');
    expect(checkFields(frame)).toBeUndefined();
  });

  it('does nest a node that only the baseline has', () => {
    // gone_fn exists only in the baseline: zero width on the right, still inside work.
    const frame = diffFlameGraphFrame(
      {
        names: ['total', 'work', 'gone_fn', 'kept_fn'],
        levels: [
          [0, 8, 0, 0, 3, 0, 0],
          [0, 8, 0, 0, 3, 0, 1],
          [0, 5, 5, 0, 0, 0, 2, 0, 3, 3, 0, 3, 3, 3],
        ],
        total: 11,
        maxSelf: 5,
        leftTicks: 8,
        rightTicks: 3,
      },
      CPU,
      'A',
    );
    expect(columns(frame)).toMatchObject({
      level: [0, 1, 2, 2],
      label: ['total', 'work', 'gone_fn', 'kept_fn'],
      value: [8, 8, 5, 3],
      valueRight: [3, 3, 0, 3],
    });
  });
});

describe(seriesFrames.name, () => {
  it('does make one time series frame per series, named by the group-by labels, in label order', () => {
    const frames = seriesFrames(
      [
        { labels: [{ name: 'namespace', value: 'search' }], points: [{ timestamp: 1000, value: 1 }] },
        {
          labels: [{ name: 'namespace', value: 'checkout' }],
          points: [
            { timestamp: 2000, value: 7 },
            { timestamp: 1000, value: 5 },
          ],
        },
      ],
      CPU,
      ['namespace'],
      'A',
    );
    expect(frames).toHaveLength(2);
    expect(columns(frames[0])).toEqual({ time: [1000, 2000], cpu: [5, 7] });
    expect(frames[0].fields[0].type).toBe(FieldType.time);
    expect(frames[0].fields[1]).toMatchObject({
      name: 'cpu',
      type: FieldType.number,
      labels: { namespace: 'checkout' },
      config: { unit: 'ns', displayNameFromDS: 'checkout' },
    });
    expect(frames[1].fields[1]).toMatchObject({ labels: { namespace: 'search' }, config: { displayNameFromDS: 'search' } });
    expect(frames[0].meta?.preferredVisualisationType).toBe('graph');
    expect(frames.map((f) => f.refId)).toEqual(['A', 'A']);
  });

  it('does count agent samples in plain numbers and leave an ungrouped series unnamed', () => {
    const [frame] = seriesFrames([{ labels: [], points: [{ timestamp: 1000, value: 19 }] }], AGENT, [], 'A');
    expect(frame.fields[1]).toMatchObject({ name: 'samples', labels: {}, config: { unit: 'short' } });
    expect(frame.fields[1].config.displayNameFromDS).toBeUndefined();
  });
});

describe(unitOf.name, () => {
  it('does map sample units to Grafana units', () => {
    expect(unitOf(CPU)).toBe('ns');
    expect(unitOf(AGENT)).toBe('short');
    expect(unitOf('memory:inuse_space:bytes:space:bytes')).toBe('bytes');
    expect(unitOf('nonsense')).toBe('short');
  });
});

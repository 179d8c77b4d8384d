import { describe, expect, it } from 'vitest';
import { shapeSeries } from './series';

describe(shapeSeries.name, () => {
  const line = (v: string, pts: Array<[number, number]>) => ({ labels: [['pod', v]] as Array<[string, string]>, points: pts });

  it('does sum every series for the ungrouped chart', () => {
    const out = shapeSeries(
      [
        line('a', [
          [1, 1],
          [2, 2],
        ]),
        line('b', [
          [2, 3],
          [3, 4],
        ]),
      ],
      '',
    );
    expect(out).toEqual([
      {
        labels: [],
        points: [
          [1, 1],
          [2, 5],
          [3, 4],
        ],
      },
    ]);
  });

  it('does keep the biggest groups and fold the rest into other', () => {
    const lines = [line('a', [[1, 10]]), line('b', [[1, 1]]), line('c', [[1, 5]]), line('d', [[1, 2]])];
    const out = shapeSeries(lines, 'pod', 3);
    expect(out.map((l) => l.labels[0]?.[1])).toEqual(['a', 'c', 'other (2)']);
    expect(out[2].points).toEqual([[1, 3]]);
  });
});

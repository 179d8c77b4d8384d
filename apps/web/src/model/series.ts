/** One line of the CPU-over-time chart. */
export interface Line {
  labels: Array<[string, string]>;
  points: Array<[number, number]>;
}

function sum(lines: readonly Line[], labels: Array<[string, string]>): Line {
  const byTs = new Map<number, number>();
  for (const l of lines) for (const [t, v] of l.points) byTs.set(t, (byTs.get(t) ?? 0) + v);
  return { labels, points: [...byTs].sort((a, b) => a[0] - b[0]) };
}

const total = (l: Line): number => l.points.reduce((a, [, v]) => a + v, 0);

/**
 * What the chart draws: Parca's QueryRange without `sum_by` returns one series per label set
 * (hundreds on a real node), so "(sum)" is summed here; grouped, the biggest `maxLines − 1`
 * groups keep their line and the rest are summed into one "other" line.
 */
export function shapeSeries(lines: readonly Line[], groupBy: string, maxLines = 10): Line[] {
  if (!groupBy) return lines.length === 0 ? [] : [sum(lines, [])];
  if (lines.length <= maxLines) return [...lines];
  const sorted = [...lines].sort((a, b) => total(b) - total(a));
  return [...sorted.slice(0, maxLines - 1), sum(sorted.slice(maxLines - 1), [[groupBy, `other (${sorted.length - maxLines + 1})`]])];
}

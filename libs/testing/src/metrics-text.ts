/** A series' value in a Prometheus text exposition, e.g. `firn_ingester_messages_total{outcome="duplicate"}` (0 when absent). */
export function metricValue(text: string, series: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line ? Number(line.slice(series.length + 1)) : 0;
}

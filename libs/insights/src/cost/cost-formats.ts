import { microsToAmount, nsToSeconds, type CostReport } from './cost-report';

export interface CostSeriesPoint {
  /** Bucket start, ms since epoch. */
  tsMs: number;
  cpuSeconds: number;
  cost: number;
}

export interface CostRenderInput {
  report: CostReport;
  groupBy: readonly string[];
  currency: string;
  rangeSeconds: number;
  /** Per group (same order as report.groups), when a step was asked for. */
  series?: CostSeriesPoint[][];
}

function csvCell(v: string): string {
  return /[",\n\r]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v;
}

/** Fixed-point text of a number with up to `digits` decimals, no exponent, trailing zeros cut. */
function decimal(v: number, digits: number): string {
  const s = v.toFixed(digits);
  return s.includes('.') ? s.replace(/\.?0+$/, '') : s;
}

/**
 * One CSV row per group (RFC 4180 quoting): the group_by labels, then samples, cpu_seconds,
 * cores, cost, currency, share and the top functions as `name=self_seconds` joined by `;`.
 */
export function costCsv(i: CostRenderInput): string {
  const total = i.report.totalCpuNs;
  const header = [...i.groupBy, 'samples', 'cpu_seconds', 'cores', 'cost', 'currency', 'share', 'top_functions'];
  const rows = i.report.groups.map((g) => {
    const cpu = nsToSeconds(g.cpuNs);
    return [
      ...g.values,
      g.samples.toString(),
      decimal(cpu, 9),
      decimal(i.rangeSeconds > 0 ? cpu / i.rangeSeconds : 0, 6),
      decimal(microsToAmount(g.costMicros), 6),
      i.currency,
      decimal(total > 0n ? Number((g.cpuNs * 1_000_000n) / total) / 1e6 : 0, 6),
      g.topFunctions.map((f) => `${f.functionName}=${decimal(nsToSeconds(f.selfCpuNs), 3)}`).join(';'),
    ];
  });
  return [header, ...rows].map((r) => r.map(csvCell).join(',')).join('\n') + '\n';
}

/** A Prometheus label name from any label name (invalid characters become `_`). */
export function promLabelName(n: string): string {
  const s = n.replace(/[^a-zA-Z0-9_]/g, '_');
  return /^[0-9]/.test(s) ? `_${s}` : s;
}

function promValue(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

function labelText(names: readonly string[], values: readonly string[], extra: Array<[string, string]> = []): string {
  const pairs = names.map((n, k) => [promLabelName(n), values[k]] as [string, string]).concat(extra);
  return pairs.length ? `{${pairs.map(([n, v]) => `${n}="${promValue(v)}"`).join(',')}}` : '';
}

const FAMILIES = [
  { name: 'firn_cost_cpu_seconds', help: 'CPU-seconds of the group over the report range.' },
  { name: 'firn_cost_cores', help: 'Average CPU cores the group used over the report range.' },
  { name: 'firn_cost_samples', help: 'CPU profile samples of the group over the report range.' },
  { name: 'firn_cost_amount', help: 'Cost of the group over the report range, in the currency label.' },
] as const;

/** Prometheus text exposition (format 0.0.4): one gauge sample per group and metric, no timestamps. */
export function costPrometheus(i: CostRenderInput): string {
  const out: string[] = [];
  for (const fam of FAMILIES) {
    out.push(`# HELP ${fam.name} ${fam.help}`, `# TYPE ${fam.name} gauge`);
    for (const g of i.report.groups) {
      const cpu = nsToSeconds(g.cpuNs);
      const value =
        fam.name === 'firn_cost_cpu_seconds'
          ? decimal(cpu, 9)
          : fam.name === 'firn_cost_cores'
            ? decimal(i.rangeSeconds > 0 ? cpu / i.rangeSeconds : 0, 6)
            : fam.name === 'firn_cost_samples'
              ? g.samples.toString()
              : decimal(microsToAmount(g.costMicros), 6);
      out.push(`${fam.name}${labelText(i.groupBy, g.values, fam.name === 'firn_cost_amount' ? [['currency', i.currency]] : [])} ${value}`);
    }
  }
  return out.join('\n') + '\n';
}

/**
 * OpenMetrics text with one timestamped sample (seconds) per group and step, for
 * `promtool tsdb create-blocks-from openmetrics`: CPU-seconds and cost per bucket.
 */
export function costOpenMetrics(i: CostRenderInput): string {
  const series = i.series ?? [];
  const out: string[] = [];
  const fams = [
    {
      name: 'firn_cost_bucket_cpu_seconds',
      help: 'CPU-seconds of the group in the step starting at the timestamp.',
      pick: (p: CostSeriesPoint) => decimal(p.cpuSeconds, 9),
      extra: [] as Array<[string, string]>,
    },
    {
      name: 'firn_cost_bucket_amount',
      help: 'Cost of the group in the step starting at the timestamp.',
      pick: (p: CostSeriesPoint) => decimal(p.cost, 6),
      extra: [['currency', i.currency]] as Array<[string, string]>,
    },
  ];
  for (const fam of fams) {
    out.push(`# TYPE ${fam.name} gauge`, `# HELP ${fam.name} ${fam.help}`);
    i.report.groups.forEach((g, gi) => {
      const labels = labelText(i.groupBy, g.values, fam.extra);
      for (const p of [...(series[gi] ?? [])].sort((a, b) => a.tsMs - b.tsMs)) out.push(`${fam.name}${labels} ${fam.pick(p)} ${decimal(p.tsMs / 1000, 3)}`);
    });
  }
  out.push('# EOF');
  return out.join('\n') + '\n';
}

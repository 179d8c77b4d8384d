import { describe, expect, it } from 'vitest';
import type { Frame } from '@firn/profiles';
import type { StackProfile } from '@firn/reports';
import { costCsv, costOpenMetrics, costPrometheus } from './cost-formats';
import { costMicros, costReport, microsToAmount, nsToSeconds, priceMicros, type PeriodGroup } from './cost-report';

const CPU = 'parca_agent:samples:count:cpu:nanoseconds:delta';

function f(name: string): Frame {
  return { buildId: '', mappingFile: '/bin/app', address: 0n, functionName: name, fileName: `${name}.go`, line: 1, inlined: false };
}

function cell(values: string[], periodNs: bigint, stacks: Array<[Frame[], number]>): PeriodGroup {
  const profile: StackProfile = {
    profileType: CPU,
    stacks: stacks.map(([s]) => s),
    values: Float64Array.from(stacks.map(([, v]) => v)),
    total: stacks.reduce((a, [, v]) => a + v, 0),
  };
  return { values, periodNs, profile };
}

describe(costReport.name, () => {
  it('gives exact CPU time and money per group from known sample counts, periods and price', () => {
    const hz19 = 52_631_579n; // round(1e9 / 19)
    const hz100 = 10_000_000n;
    const cells = [
      // shop: 68 400 samples at 19 Hz (one agent, one hour at 19 Hz) + 36 000 at 100 Hz.
      cell(['shop'], hz19, [
        [[f('hash'), f('main')], 50_000],
        [[f('parse'), f('main')], 18_400],
      ]),
      cell(['shop'], hz100, [[[f('hash'), f('main')], 36_000]]),
      cell(['db'], hz19, [[[f('scan'), f('main')], 19]]),
    ];
    const r = costReport(cells, 'count', 0.04, 5);
    const shopNs = 68_400n * hz19 + 36_000n * hz100;
    expect(r.groups.map((g) => [g.values, g.samples, g.cpuNs])).toEqual([
      [['shop'], 104_400n, shopNs],
      [['db'], 19n, 19n * hz19],
    ]);
    // 0.04 per core-hour: micro-units = round(cpuNs × 40 000 / 3.6e12), computed in integers.
    expect(r.groups[0].costMicros).toBe((shopNs * 40_000n + 1_800_000_000_000n) / 3_600_000_000_000n);
    expect(r.groups[0].costMicros).toBe(44_000n); // 3600.0000036 s + 360 s = 1.1 core-hours → 0.044000
    expect(microsToAmount(r.groups[0].costMicros)).toBe(0.044);
    expect(r.groups[1].costMicros).toBe(11n); // 1.000000001 s → 0.0000111… → 11 µ
    expect(r.totalCostMicros).toBe(44_011n);
    expect(nsToSeconds(r.totalCpuNs)).toBeCloseTo(Number(shopNs + 19n * hz19) / 1e9, 9);
    expect(r.groups[0].topFunctions.map((t) => [t.functionName, t.selfCpuNs, t.totalCpuNs])).toEqual([
      ['hash', 50_000n * hz19 + 36_000n * hz100, 50_000n * hz19 + 36_000n * hz100],
      ['parse', 18_400n * hz19, 18_400n * hz19],
    ]);
  });

  it('takes nanosecond-valued CPU types as they are', () => {
    const r = costReport([cell([], 10_000_000n, [[[f('work')], 7_200_000_000_000]])], 'nanoseconds', 1.5, 3);
    expect(r.groups[0]).toMatchObject({ cpuNs: 7_200_000_000_000n, samples: 720_000n, costMicros: 3_000_000n });
  });

  it('refuses prices with more than six decimals and rounds half up', () => {
    expect(() => priceMicros(0.0000001)).toThrow(/at most 6 decimals/);
    expect(priceMicros(0.123456)).toBe(123_456n);
    expect(costMicros(1_800_000_000_000n, 1n)).toBe(1n); // exactly half a micro-unit
    expect(costMicros(1_799_999_999_999n, 1n)).toBe(0n);
  });

  it('renders CSV, Prometheus text and OpenMetrics series', () => {
    const r = costReport([cell(['shop', 'api,v2'], 1_000_000_000n, [[[f('a"b')], 3600]])], 'count', 2, 5);
    const input = { report: r, groupBy: ['namespace', 'k8s.service'], currency: 'EUR', rangeSeconds: 3600 };
    expect(costCsv(input)).toBe(
      'namespace,k8s.service,samples,cpu_seconds,cores,cost,currency,share,top_functions\nshop,"api,v2",3600,3600,1,2,EUR,1,"a""b=3600"\n',
    );
    const prom = costPrometheus(input);
    expect(prom).toContain('# TYPE firn_cost_cpu_seconds gauge\nfirn_cost_cpu_seconds{namespace="shop",k8s_service="api,v2"} 3600\n');
    expect(prom).toContain('firn_cost_amount{namespace="shop",k8s_service="api,v2",currency="EUR"} 2\n');
    const om = costOpenMetrics({
      ...input,
      series: [
        [
          { tsMs: 1_700_000_060_000, cpuSeconds: 1800, cost: 1 },
          { tsMs: 1_700_000_000_000, cpuSeconds: 1800, cost: 1 },
        ],
      ],
    });
    expect(om).toContain(
      'firn_cost_bucket_cpu_seconds{namespace="shop",k8s_service="api,v2"} 1800 1700000000\nfirn_cost_bucket_cpu_seconds{namespace="shop",k8s_service="api,v2"} 1800 1700000060\n',
    );
    expect(om.endsWith('# EOF\n')).toBe(true);
  });
});

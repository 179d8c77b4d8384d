import { FirnError } from '@firn/errors';
import type { Frame } from '@firn/profiles';
import type { StackProfile } from '@firn/reports';
import { cpuOf, functionKey, parsePeriod, type CpuValueKind } from '../cpu-time';

/** One (label values, sampling period) group of a grouped merge, as the query frontend returns it. */
export interface PeriodGroup {
  /** Values of the requested group_by labels, in request order ('' = absent). */
  values: string[];
  /** The rows' sampling period in nanoseconds (PERIOD_GROUP value). */
  periodNs: bigint;
  profile: StackProfile;
}

export interface FunctionCost {
  functionName: string;
  fileName: string;
  selfCpuNs: bigint;
  totalCpuNs: bigint;
  selfCostMicros: bigint;
}

export interface CostGroup {
  values: string[];
  samples: bigint;
  cpuNs: bigint;
  costMicros: bigint;
  topFunctions: FunctionCost[];
}

export interface CostReport {
  groups: CostGroup[];
  totalCpuNs: bigint;
  totalCostMicros: bigint;
  priceMicrosPerCoreHour: bigint;
}

const NS_PER_HOUR = 3_600_000_000_000n;

/** A price as exact micro-units; invalid_argument beyond 6 decimals (the limits file checks too). */
export function priceMicros(pricePerCoreHour: number): bigint {
  const m = Math.round(pricePerCoreHour * 1e6);
  if (!(pricePerCoreHour >= 0) || !Number.isSafeInteger(m) || Math.abs(m - pricePerCoreHour * 1e6) > 1e-6) {
    throw FirnError.invalidArgument(`price per core-hour must be a non-negative amount with at most 6 decimals, got ${pricePerCoreHour}`);
  }
  return BigInt(m);
}

/** Money for CPU time, in micro-units, rounded half up: cpuNs / 1 h × price. Exact (bigint). */
export function costMicros(cpuNs: bigint, price: bigint): bigint {
  return (cpuNs * price + NS_PER_HOUR / 2n) / NS_PER_HOUR;
}

/** Parses the label and period values of a grouped merge whose last group_by name is PERIOD_GROUP. */
export function periodGroups(
  groups: ReadonlyArray<{ labels: ReadonlyArray<readonly [string, string]>; profile: StackProfile }>,
  groupBy: readonly string[],
  periodName: string,
): PeriodGroup[] {
  return groups.map((g) => {
    const byName = new Map(g.labels.map(([n, v]) => [n, v]));
    return { values: groupBy.map((n) => byName.get(n) ?? ''), periodNs: parsePeriod(byName.get(periodName) ?? ''), profile: g.profile };
  });
}

/**
 * CPU time and money per label group: every (group, period) cell's value becomes exact CPU
 * nanoseconds (samples × period for count types), summed per group; money is computed once per
 * group from its exact CPU time, so amounts are exact in micro-units and the total is the sum of
 * the rounded group amounts. Each group lists its `topN` functions by self CPU (leaf frame),
 * with their total CPU (anywhere on the stack, counted once per stack).
 */
export function costReport(cells: readonly PeriodGroup[], kind: CpuValueKind, pricePerCoreHour: number, topN: number): CostReport {
  const price = priceMicros(pricePerCoreHour);
  const byGroup = new Map<string, { values: string[]; samples: bigint; cpuNs: bigint; fns: Map<string, { fn: Frame; self: bigint; total: bigint }> }>();
  for (const c of cells) {
    const key = c.values.join('\u0000');
    let g = byGroup.get(key);
    if (!g) {
      g = { values: c.values, samples: 0n, cpuNs: 0n, fns: new Map() };
      byGroup.set(key, g);
    }
    const p = c.profile;
    for (let s = 0; s < p.stacks.length; s++) {
      const v = p.values[s];
      if (!(v > 0)) continue;
      const { cpuNs, samples } = cpuOf(kind, v, c.periodNs);
      g.samples += samples;
      g.cpuNs += cpuNs;
      const stack = p.stacks[s];
      if (stack.length === 0) continue;
      const seen = new Set<string>();
      stack.forEach((f, i) => {
        const k = functionKey(f);
        let e = g.fns.get(k);
        if (!e) g.fns.set(k, (e = { fn: f, self: 0n, total: 0n }));
        if (i === 0) e.self += cpuNs;
        if (!seen.has(k)) {
          seen.add(k);
          e.total += cpuNs;
        }
      });
    }
  }
  const groups: CostGroup[] = [...byGroup.values()].map((g) => ({
    values: g.values,
    samples: g.samples,
    cpuNs: g.cpuNs,
    costMicros: costMicros(g.cpuNs, price),
    topFunctions: [...g.fns.entries()]
      .filter(([, e]) => e.self > 0n)
      .sort(([ka, a], [kb, b]) => (b.self > a.self ? 1 : b.self < a.self ? -1 : ka < kb ? -1 : 1))
      .slice(0, topN)
      .map(([k, e]) => ({ functionName: k, fileName: e.fn.fileName, selfCpuNs: e.self, totalCpuNs: e.total, selfCostMicros: costMicros(e.self, price) })),
  }));
  groups.sort((a, b) => (b.cpuNs > a.cpuNs ? 1 : b.cpuNs < a.cpuNs ? -1 : a.values.join('\u0000') < b.values.join('\u0000') ? -1 : 1));
  return {
    groups,
    totalCpuNs: groups.reduce((t, g) => t + g.cpuNs, 0n),
    totalCostMicros: groups.reduce((t, g) => t + g.costMicros, 0n),
    priceMicrosPerCoreHour: price,
  };
}

/** Seconds with nanosecond digits kept as far as a double allows (exact below 2^53 ns ≈ 104 days of CPU). */
export function nsToSeconds(ns: bigint): number {
  return Number(ns / 1_000_000_000n) + Number(ns % 1_000_000_000n) / 1e9;
}

/** Micro-units as a decimal amount (the double nearest the exact 6-decimal value). */
export function microsToAmount(m: bigint): number {
  return Number(m / 1_000_000n) + Number(m % 1_000_000n) / 1e6;
}

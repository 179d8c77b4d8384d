import type { Frame } from '@firn/profiles';
import { cpuOf, functionKey, type CpuValueKind } from '../cpu-time';
import type { PeriodGroup } from '../cost/cost-report';
import { benjaminiHochberg, binomialTwoSided, holm, median } from './stats';

export type Normalization = 'total' | 'median_ratio';
export type Correction = 'holm' | 'bh';

export interface RegressionOptions {
  /** Error rate of the correction (shared by the self and total families). Default 0.001. */
  alpha?: number;
  /** Smallest |relative change| reported. Default 0.02. */
  minRelativeChange?: number;
  /** Most entries per list. Default 20. */
  limit?: number;
  normalization?: Normalization;
  correction?: Correction;
  /** Length of the target range, seconds (for impact in cores). */
  targetRangeSeconds: number;
}

export interface MetricChange {
  baselineSamples: number;
  targetSamples: number;
  baselineShare: number;
  targetShare: number;
  relativeChange: number;
  pValue: number;
  adjustedPValue: number;
}

export interface FunctionChange {
  functionName: string;
  fileName: string;
  mappingFile: string;
  metric: 'self' | 'total';
  self: MetricChange;
  total: MetricChange;
  impactSamples: number;
  impactCpuSeconds: number;
  impactCores: number;
}

export interface RegressionReport {
  offenders: FunctionChange[];
  improvements: FunctionChange[];
  baselineTotalSamples: number;
  targetTotalSamples: number;
  baselineCpuSeconds: number;
  targetCpuSeconds: number;
  tests: number;
  dispersion: number;
  scale: number;
  method: string;
}

/** One side, reduced to sample counts per stack of function keys (leafmost first, deduplicated). */
interface Side {
  stacks: Array<{ fns: string[]; count: number }>;
  total: number;
  cpuNs: bigint;
  self: Map<string, number>;
  frames: Map<string, Frame>;
}

function sideOf(cells: readonly PeriodGroup[], kind: CpuValueKind): Side {
  const side: Side = { stacks: [], total: 0, cpuNs: 0n, self: new Map(), frames: new Map() };
  for (const c of cells) {
    const p = c.profile;
    for (let s = 0; s < p.stacks.length; s++) {
      if (!(p.values[s] > 0)) continue;
      const { cpuNs, samples } = cpuOf(kind, p.values[s], c.periodNs);
      const count = Number(samples);
      side.cpuNs += cpuNs;
      if (count === 0) continue;
      side.total += count;
      const fns: string[] = [];
      const seen = new Set<string>();
      for (const f of p.stacks[s]) {
        const k = functionKey(f);
        if (!side.frames.has(k)) side.frames.set(k, f);
        if (seen.has(k)) continue;
        seen.add(k);
        fns.push(k);
      }
      if (fns.length === 0) continue;
      side.self.set(fns[0], (side.self.get(fns[0]) ?? 0) + count);
      side.stacks.push({ fns, count });
    }
  }
  return side;
}

/** Σ count of stacks holding f, skipping stacks where an `explained` function sits below f. */
function totals(side: Side, explained: ReadonlySet<string>): Map<string, number> {
  const out = new Map<string, number>();
  for (const s of side.stacks) {
    let below = false;
    for (const f of s.fns) {
      if (!below) out.set(f, (out.get(f) ?? 0) + s.count);
      if (explained.has(f)) below = true;
    }
  }
  return out;
}

// Median of a χ²(1) variable: z² of Poisson noise has this median.
const CHI2_1_MEDIAN = 0.454936;

interface Test {
  fn: string;
  b: number;
  t: number;
  p: number;
  rel: number;
}

/**
 * Regression report between a baseline and a target, per function:
 *
 * 1. Each side is reduced to sample counts per stack (CPU time from the rows' sampling periods).
 * 2. Scale r = target/baseline: total samples (default) or the median ratio of functions' self
 *    counts (robust to one function's growth shrinking every other share).
 * 3. Self test per function: conditional on n = b + t, t ~ Binomial(n, r/(1+r)) if nothing
 *    changed (the ratio test of two Poisson counts). Profiles are burstier than Poisson, so the
 *    counts are divided by a dispersion factor φ = max(1, median z² / median χ²(1)) estimated
 *    from every function's self counts (robust to the few that really changed).
 * 4. Functions significant after the correction (Holm at alpha/2 per family by default, so any
 *    unchanged function is reported with probability ≤ alpha) AND changed by at least
 *    min_relative_change are offenders or improvements by self.
 * 5. Total test per function on the counts of stacks holding it, leaving out stacks where a
 *    function flagged in step 4 sits below it (that callee is the offender, not its callers);
 *    significant ones are reported by total.
 *
 * Impact: target samples over the scaled baseline (t − r·b), in CPU-seconds of the target.
 */
export function regressionReport(
  baselineCells: readonly PeriodGroup[],
  targetCells: readonly PeriodGroup[],
  kind: CpuValueKind,
  o: RegressionOptions,
): RegressionReport {
  const alpha = o.alpha && o.alpha > 0 && o.alpha < 1 ? o.alpha : 0.001;
  const minRel = o.minRelativeChange && o.minRelativeChange > 0 ? o.minRelativeChange : 0.02;
  const limit = o.limit && o.limit > 0 ? o.limit : 20;
  const correction = o.correction ?? 'holm';
  const familyAlpha = correction === 'holm' ? alpha / 2 : alpha;
  const base = sideOf(baselineCells, kind);
  const target = sideOf(targetCells, kind);
  const nsPerSample = target.total > 0 ? Number(target.cpuNs) / target.total : 0;
  const empty: RegressionReport = {
    offenders: [],
    improvements: [],
    baselineTotalSamples: base.total,
    targetTotalSamples: target.total,
    baselineCpuSeconds: Number(base.cpuNs) / 1e9,
    targetCpuSeconds: Number(target.cpuNs) / 1e9,
    tests: 0,
    dispersion: 1,
    scale: 1,
    method: '',
  };
  if (base.total === 0 || target.total === 0) return { ...empty, method: 'nothing to compare: a side has no samples' };

  const fns = [...new Set([...base.self.keys(), ...target.self.keys(), ...base.frames.keys(), ...target.frames.keys()])].sort();
  let scale = target.total / base.total;
  if (o.normalization === 'median_ratio') {
    const ratios = fns
      .map((f) => [base.self.get(f) ?? 0, target.self.get(f) ?? 0])
      .filter(([b, t]) => b >= 10 && t >= 10)
      .map(([b, t]) => Math.log(t / b));
    if (ratios.length >= 3) scale = Math.exp(median(ratios));
  }
  const p0 = scale / (1 + scale);
  const z2 = fns
    .map((f) => [base.self.get(f) ?? 0, target.self.get(f) ?? 0])
    .filter(([b, t]) => b + t >= 20)
    .map(([b, t]) => (t - (b + t) * p0) ** 2 / ((b + t) * p0 * (1 - p0)));
  const dispersion = z2.length >= 5 ? Math.max(1, median(z2) / CHI2_1_MEDIAN) : 1;
  const test = (fn: string, b: number, t: number): Test => ({
    fn,
    b,
    t,
    p: binomialTwoSided(t / dispersion, (b + t) / dispersion, p0),
    rel: b > 0 ? t / (scale * b) - 1 : t > 0 ? Infinity : 0,
  });
  const adjust = correction === 'holm' ? holm : benjaminiHochberg;

  const selfTests = fns.map((f) => test(f, base.self.get(f) ?? 0, target.self.get(f) ?? 0)).filter((x) => x.b + x.t > 0);
  const selfAdj = adjust(selfTests.map((x) => x.p));
  const flaggedSelf = new Set(selfTests.filter((x, i) => selfAdj[i] <= familyAlpha && Math.abs(x.rel) >= minRel).map((x) => x.fn));

  const bTot = totals(base, flaggedSelf);
  const tTot = totals(target, flaggedSelf);
  const totalTests = fns.map((f) => test(f, bTot.get(f) ?? 0, tTot.get(f) ?? 0)).filter((x) => x.b + x.t > 0);
  const totalAdj = adjust(totalTests.map((x) => x.p));
  // Plain totals (not residual) for the figures shown next to each function.
  const bAll = totals(base, new Set());
  const tAll = totals(target, new Set());

  const selfBy = new Map(selfTests.map((x, i) => [x.fn, { x, adj: selfAdj[i] }]));
  const totalBy = new Map(totalTests.map((x, i) => [x.fn, { x, adj: totalAdj[i] }]));
  const metric = (m: { x: Test; adj: number } | undefined, shownB: number, shownT: number): MetricChange => ({
    baselineSamples: shownB,
    targetSamples: shownT,
    baselineShare: shownB / base.total,
    targetShare: shownT / target.total,
    relativeChange: m ? m.x.rel : 0,
    pValue: m ? m.x.p : 1,
    adjustedPValue: m ? m.adj : 1,
  });

  const changes: FunctionChange[] = [];
  for (const f of fns) {
    const s = selfBy.get(f);
    const t = totalBy.get(f);
    let by: 'self' | 'total' | undefined;
    let delta = 0;
    if (flaggedSelf.has(f) && s) {
      by = 'self';
      delta = s.x.t - scale * s.x.b;
    } else if (t && t.adj <= familyAlpha && Math.abs(t.x.rel) >= minRel) {
      by = 'total';
      delta = t.x.t - scale * t.x.b;
    }
    if (!by) continue;
    const frame = target.frames.get(f) ?? base.frames.get(f);
    const cpu = (delta * nsPerSample) / 1e9;
    changes.push({
      functionName: f,
      fileName: frame?.fileName ?? '',
      mappingFile: frame?.mappingFile ?? '',
      metric: by,
      self: metric(s, base.self.get(f) ?? 0, target.self.get(f) ?? 0),
      total: metric(t, bAll.get(f) ?? 0, tAll.get(f) ?? 0),
      impactSamples: delta,
      impactCpuSeconds: cpu,
      impactCores: o.targetRangeSeconds > 0 ? cpu / o.targetRangeSeconds : 0,
    });
  }
  const corr = correction === 'holm' ? `Holm–Bonferroni, alpha ${alpha} split over the self and total families` : `Benjamini–Hochberg FDR ${alpha} per family`;
  return {
    ...empty,
    offenders: changes
      .filter((c) => c.impactSamples > 0)
      .sort((a, b) => b.impactSamples - a.impactSamples)
      .slice(0, limit),
    improvements: changes
      .filter((c) => c.impactSamples < 0)
      .sort((a, b) => a.impactSamples - b.impactSamples)
      .slice(0, limit),
    tests: selfTests.length + totalTests.length,
    dispersion,
    scale,
    method:
      `conditional binomial test of each function's self and total samples (ratio of two Poisson counts), ` +
      `scale ${o.normalization === 'median_ratio' ? 'median ratio of self counts' : 'total samples'} = ${scale.toPrecision(6)}, ` +
      `dispersion ${dispersion.toPrecision(4)}, ${corr}, minimum relative change ${minRel}`,
  };
}

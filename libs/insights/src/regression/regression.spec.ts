import { describe, expect, it } from 'vitest';
import type { Frame } from '@firn/profiles';
import type { StackProfile } from '@firn/reports';
import { mulberry32 } from '@firn/testing';
import type { PeriodGroup } from '../cost/cost-report';
import { regressionReport } from './regression';

const CPU = 'parca_agent:samples:count:cpu:nanoseconds:delta';
const PERIOD = 52_631_579n; // 19 Hz

function fn(name: string): Frame {
  return { buildId: 'b', mappingFile: '/srv/app', address: 0n, functionName: name, fileName: `${name}.c`, line: 1, inlined: false };
}

/** Poisson(λ): Knuth below 30, a rounded normal above (exact enough for counts this large). */
function poisson(rnd: () => number, lambda: number): number {
  if (lambda < 30) {
    const l = Math.exp(-lambda);
    let k = 0;
    let p = 1;
    do {
      k++;
      p *= rnd();
    } while (p > l);
    return k - 1;
  }
  const u = Math.max(rnd(), 1e-12);
  const z = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rnd());
  return Math.max(0, Math.round(lambda + Math.sqrt(lambda) * z));
}

interface Workload {
  stacks: Frame[][];
  weights: number[];
}

/**
 * A call tree of 200 functions: `main` → 8 services → handlers → leaves, stacks of depth 3-7,
 * with Zipf-like weights, so most CPU sits in a few leaves and every function has callers.
 */
function workload(seed: number): Workload {
  const rnd = mulberry32(seed);
  const names = Array.from({ length: 200 }, (_, i) => `fn_${String(i).padStart(3, '0')}`);
  const stacks: Frame[][] = [];
  const weights: number[] = [];
  for (let s = 0; s < 600; s++) {
    const depth = 3 + Math.floor(rnd() * 5);
    const path = [fn('main'), fn(names[Math.floor(rnd() * 8)])];
    while (path.length < depth) path.push(fn(names[8 + Math.floor(rnd() * 192)]));
    stacks.push(path.reverse()); // leaf first
    weights.push(1 / (1 + s) ** 0.9);
  }
  const sum = weights.reduce((a, b) => a + b, 0);
  return { stacks, weights: weights.map((w) => w / sum) };
}

/** One side: Poisson counts per stack around `total`, stacks whose leaf is `bump` scaled by `factor`. */
function side(w: Workload, rnd: () => number, total: number, bump?: string, factor = 1): PeriodGroup[] {
  const values = new Float64Array(w.stacks.length);
  w.stacks.forEach((s, i) => {
    values[i] = poisson(rnd, total * w.weights[i] * (s[0].functionName === bump ? factor : 1));
  });
  const profile: StackProfile = { profileType: CPU, stacks: w.stacks, values, total: values.reduce((a, b) => a + b, 0) };
  return [{ values: [], periodNs: PERIOD, profile }];
}

/** Leaf functions holding 1-8 % of the samples: a regression there is worth finding. */
function candidates(w: Workload): string[] {
  const share = new Map<string, number>();
  w.stacks.forEach((s, i) => share.set(s[0].functionName, (share.get(s[0].functionName) ?? 0) + w.weights[i]));
  return [...share]
    .filter(([, v]) => v >= 0.01 && v <= 0.08)
    .map(([k]) => k)
    .sort();
}

describe(regressionReport.name, () => {
  it('names exactly the function with an injected +10 % and nothing else, over 24 seeds', () => {
    for (let seed = 1; seed <= 24; seed++) {
      const w = workload(seed);
      const rnd = mulberry32(seed * 7919);
      const pool = candidates(w);
      const bumped = pool[Math.floor(rnd() * pool.length)];
      // The target also carries 30 % more traffic overall: normalization has to absorb it.
      const report = regressionReport(side(w, rnd, 1_000_000), side(w, rnd, 1_300_000, bumped, 1.1), 'count', { targetRangeSeconds: 3600 });
      expect(
        report.offenders.map((o) => o.functionName),
        `seed ${seed}: ${report.method}`,
      ).toEqual([bumped]);
      expect(report.improvements, `seed ${seed}`).toEqual([]);
      const o = report.offenders[0];
      expect(o.metric).toBe('self');
      expect(o.self.relativeChange).toBeGreaterThan(0.05);
      expect(o.self.relativeChange).toBeLessThan(0.15);
      expect(o.impactCpuSeconds).toBeCloseTo((o.impactSamples * Number(PERIOD)) / 1e9, 6);
    }
  });

  it('reports nothing when both sides are pure noise, over 24 seeds, with either normalization', () => {
    for (let seed = 101; seed <= 124; seed++) {
      const w = workload(seed);
      const rnd = mulberry32(seed);
      const a = side(w, rnd, 800_000);
      const b = side(w, rnd, 1_000_000);
      for (const normalization of ['total', 'median_ratio'] as const) {
        const r = regressionReport(a, b, 'count', { targetRangeSeconds: 60, normalization });
        expect(
          [...r.offenders, ...r.improvements].map((c) => c.functionName),
          `seed ${seed} ${normalization} ${JSON.stringify([...r.offenders, ...r.improvements])} ${r.method}`,
        ).toEqual([]);
        expect(r.dispersion).toBeLessThan(1.5);
      }
    }
  });

  it('finds an improvement and a brand-new function, and reports a callee rather than its callers', () => {
    const w = workload(5);
    const rnd = mulberry32(5);
    const pool = candidates(w);
    const [slower, faster] = [pool[0], pool[1]];
    const base = side(w, rnd, 1_000_000);
    const t = side(w, rnd, 1_000_000, slower, 1.25)[0];
    // `faster` halves; a new leaf under main appears with 20 000 samples.
    const stacks = [...t.profile.stacks, [fn('brand_new'), fn('main')]];
    const values = Float64Array.from([...t.profile.values.map((v, i) => (w.stacks[i][0].functionName === faster ? Math.round(v / 2) : v)), 20_000]);
    const target: PeriodGroup[] = [{ ...t, profile: { ...t.profile, stacks, values, total: values.reduce((x, y) => x + y, 0) } }];
    const r = regressionReport(base, target, 'count', { targetRangeSeconds: 60 });
    expect(r.offenders.map((o) => o.functionName).sort()).toEqual(['brand_new', slower].sort());
    expect(r.offenders.find((o) => o.functionName === 'brand_new')?.self.relativeChange).toBe(Infinity);
    expect(r.improvements.map((o) => o.functionName)).toEqual([faster]);
    // main's total grew too, but only through the flagged callees: it is not reported.
    expect([...r.offenders, ...r.improvements].some((c) => c.functionName === 'main')).toBe(false);
  });

  it('reports by total a function whose many small callees all grew', () => {
    const rnd = mulberry32(77);
    const mid = [fn('mid'), fn('main')];
    const leaves = Array.from({ length: 20 }, (_, i) => [fn(`tiny_${i}`), ...mid]);
    const other = Array.from({ length: 400 }, (_, i) => [fn(`other_${i}`), fn('main')]);
    const stacks = [...leaves, ...other];
    const mk = (f: number): PeriodGroup[] => {
      const values = Float64Array.from(stacks, (s) => poisson(rnd, s[1].functionName === 'mid' ? 2000 * f : 2000));
      return [{ values: [], periodNs: PERIOD, profile: { profileType: CPU, stacks, values, total: values.reduce((a, b) => a + b, 0) } }];
    };
    // Each tiny_i grows 8 %: ~160 samples on 2000, not significant alone after the correction;
    // together they make mid's total grow by 8 % of 40 000 samples.
    const r = regressionReport(mk(1), mk(1.08), 'count', { targetRangeSeconds: 60 });
    expect(
      r.offenders.map((o) => [o.functionName, o.metric]),
      JSON.stringify(r.offenders),
    ).toEqual([['mid', 'total']]);
    expect(r.improvements).toEqual([]);
  });
});

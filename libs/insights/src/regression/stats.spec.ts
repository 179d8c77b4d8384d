import { describe, expect, it } from 'vitest';
import { benjaminiHochberg, binomialTwoSided, erfc, holm, incompleteBeta, logGamma, median } from './stats';

/** Exact two-sided binomial p-value by summing the pmf (small n only). */
function bruteBinomial(k: number, n: number, p: number): number {
  const pmf = (i: number) => Math.exp(logGamma(n + 1) - logGamma(i + 1) - logGamma(n - i + 1) + i * Math.log(p) + (n - i) * Math.log1p(-p));
  let lower = 0;
  let upper = 0;
  for (let i = 0; i <= n; i++) {
    if (i <= k) lower += pmf(i);
    if (i >= k) upper += pmf(i);
  }
  return Math.min(1, 2 * Math.min(lower, upper));
}

describe('regression statistics', () => {
  it('computes ln Γ to 12 digits', () => {
    expect(logGamma(1)).toBeCloseTo(0, 12);
    expect(logGamma(5)).toBeCloseTo(Math.log(24), 12);
    expect(logGamma(0.5)).toBeCloseTo(Math.log(Math.sqrt(Math.PI)), 12);
    expect(logGamma(171)).toBeCloseTo(706.5730622457874, 9);
  });

  it('matches the binomial sum through the incomplete beta function', () => {
    for (const [k, n, p] of [
      [60, 100, 0.5],
      [3, 40, 0.3],
      [0, 25, 0.2],
      [25, 25, 0.9],
      [480, 1000, 0.45],
    ]) {
      expect(binomialTwoSided(k, n, p)).toBeCloseTo(bruteBinomial(k, n, p), 10);
    }
    expect(binomialTwoSided(60, 100, 0.5)).toBeCloseTo(0.05688793364, 9);
    expect(incompleteBeta(0.5, 2, 2)).toBeCloseTo(0.5, 12);
  });

  it('takes non-integer counts and huge counts', () => {
    const a = binomialTwoSided(30.5, 60.25, 0.5);
    expect(a).toBeGreaterThan(0.8);
    expect(a).toBeLessThanOrEqual(1);
    // 1e8 trials, 3 sigma away: about 0.0027 (normal approximation branch).
    const n = 1e8;
    const sd = Math.sqrt(n * 0.25);
    expect(binomialTwoSided(n / 2 + 3 * sd + 0.5, n, 0.5)).toBeCloseTo(0.0027, 4);
    expect(erfc(0)).toBeCloseTo(1, 7);
  });

  it('adjusts p-values with Holm and Benjamini–Hochberg', () => {
    expect(holm([0.01, 0.04, 0.03, 0.5])).toEqual([0.04, 0.09, 0.09, 0.5]);
    const bh = benjaminiHochberg([0.01, 0.04, 0.03, 0.5]);
    expect(bh.map((x) => Number(x.toFixed(6)))).toEqual([0.04, 0.053333, 0.053333, 0.5]);
    expect(median([3, 1, 2, 10])).toBe(2.5);
  });
});

import type { Rng } from '@firn/testing';

export { mulberry32, type Rng } from '@firn/testing';

/**
 * Derives an independent stream seed from a base seed and a path of integers (e.g. agent,
 * window), so any slice of the dataset can be generated without generating what precedes it.
 */
export function deriveSeed(seed: number, ...path: number[]): number {
  let h = Math.imul((seed >>> 0) ^ 0x9e3779b9, 0x85ebca6b);
  for (const p of path) {
    h = Math.imul(h ^ (p >>> 0) ^ (h >>> 15), 0xc2b2ae35);
    h = Math.imul(h ^ (h >>> 13), 0x27d4eb2f);
  }
  return (h ^ (h >>> 16)) >>> 0;
}

export function randInt(rng: Rng, lo: number, hiExclusive: number): number {
  return lo + Math.floor(rng() * (hiExclusive - lo));
}

/** Standard normal (Box-Muller). */
export function gaussian(rng: Rng): number {
  const u = 1 - rng();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rng());
}

/** Fisher-Yates in place; works for arrays and typed arrays. */
export function shuffle<A extends { length: number; [i: number]: unknown }>(rng: Rng, items: A): A {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    const t = items[i];
    items[i] = items[j];
    items[j] = t;
  }
  return items;
}

/** Cumulative Zipf(s) weights over ranks 1..n, normalised to end at 1. */
export function zipfCdf(n: number, s: number): Float64Array {
  const cdf = new Float64Array(n);
  let sum = 0;
  for (let k = 1; k <= n; k++) {
    sum += 1 / Math.pow(k, s);
    cdf[k - 1] = sum;
  }
  for (let i = 0; i < n; i++) cdf[i] /= sum;
  cdf[n - 1] = 1;
  return cdf;
}

/** Index i with cdf[i-1] <= u < cdf[i] (binary search). */
export function sampleCdf(cdf: Float64Array, u: number): number {
  let lo = 0;
  let hi = cdf.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (cdf[mid] > u) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

// Small, dependency-free statistics for the regression report: the binomial tail through the
// regularized incomplete beta function (which also takes non-integer counts, as dispersion
// scaling produces), a normal tail for very large counts, and multiple-comparison corrections.

const LANCZOS = [
  0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059, 12.507343278686905, -0.13857109526572012,
  9.9843695780195716e-6, 1.5056327351493116e-7,
];

/** ln Γ(x) for x > 0 (Lanczos, g = 7; ~15 significant digits). */
export function logGamma(x: number): number {
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x);
  const z = x - 1;
  let a = LANCZOS[0];
  const t = z + 7.5;
  for (let i = 1; i < 9; i++) a += LANCZOS[i] / (z + i);
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(a);
}

/** Continued fraction of the incomplete beta function (modified Lentz); undefined if it does not converge. */
function betaContinuedFraction(a: number, b: number, x: number): number | undefined {
  const TINY = 1e-300;
  const qab = a + b;
  const qap = a + 1;
  const qam = a - 1;
  let c = 1;
  let d = 1 - (qab * x) / qap;
  if (Math.abs(d) < TINY) d = TINY;
  d = 1 / d;
  let h = d;
  for (let m = 1; m <= 20_000; m++) {
    const m2 = 2 * m;
    let aa = (m * (b - m) * x) / ((qam + m2) * (a + m2));
    d = 1 + aa * d;
    if (Math.abs(d) < TINY) d = TINY;
    c = 1 + aa / c;
    if (Math.abs(c) < TINY) c = TINY;
    d = 1 / d;
    h *= d * c;
    aa = (-(a + m) * (qab + m) * x) / ((a + m2) * (qap + m2));
    d = 1 + aa * d;
    if (Math.abs(d) < TINY) d = TINY;
    c = 1 + aa / c;
    if (Math.abs(c) < TINY) c = TINY;
    d = 1 / d;
    const del = d * c;
    h *= del;
    if (Math.abs(del - 1) < 1e-14) return h;
  }
  return undefined;
}

/** Regularized incomplete beta I_x(a, b), a, b > 0, 0 ≤ x ≤ 1; undefined if it does not converge. */
export function incompleteBeta(x: number, a: number, b: number): number | undefined {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  const lnFront = logGamma(a + b) - logGamma(a) - logGamma(b) + a * Math.log(x) + b * Math.log1p(-x);
  const front = Math.exp(lnFront);
  if (x < (a + 1) / (a + b + 2)) {
    const cf = betaContinuedFraction(a, b, x);
    return cf === undefined ? undefined : (front * cf) / a;
  }
  const cf = betaContinuedFraction(b, a, 1 - x);
  return cf === undefined ? undefined : 1 - (front * cf) / b;
}

/** Complementary error function (Chebyshev fit, relative error < 1.2e-7 everywhere). */
export function erfc(x: number): number {
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  const r =
    t *
    Math.exp(
      -z * z -
        1.26551223 +
        t *
          (1.00002368 +
            t *
              (0.37409196 +
                t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
    );
  return x >= 0 ? r : 2 - r;
}

/** Two-sided p-value of a standard normal score. */
export function normalTwoSided(z: number): number {
  return Math.min(1, erfc(Math.abs(z) / Math.SQRT2));
}

/**
 * Two-sided p-value of k successes in n trials with success probability p (k and n may be
 * non-integer: counts scaled for overdispersion): twice the smaller tail, capped at 1. Exact
 * (incomplete beta) up to n·p·(1−p) = 10 000, the normal approximation with continuity
 * correction beyond (or if the continued fraction fails to converge).
 */
export function binomialTwoSided(k: number, n: number, p: number): number {
  if (n <= 0) return 1;
  if (p <= 0) return k > 0 ? 0 : 1;
  if (p >= 1) return k < n ? 0 : 1;
  const v = n * p * (1 - p);
  if (v <= 10_000) {
    // P(X ≥ k) = I_p(k, n − k + 1); P(X ≤ k) = I_{1−p}(n − k, k + 1).
    const upper = k <= 0 ? 1 : incompleteBeta(p, k, n - k + 1);
    const lower = k >= n ? 1 : incompleteBeta(1 - p, n - k, k + 1);
    if (upper !== undefined && lower !== undefined) return Math.min(1, 2 * Math.min(upper, lower));
  }
  const d = Math.max(0, Math.abs(k - n * p) - 0.5);
  return normalTwoSided(d / Math.sqrt(v));
}

/** Holm–Bonferroni adjusted p-values (same order as the input). */
export function holm(p: readonly number[]): number[] {
  const m = p.length;
  const order = p.map((_, i) => i).sort((a, b) => p[a] - p[b]);
  const out = new Array<number>(m);
  let running = 0;
  order.forEach((i, rank) => {
    running = Math.max(running, Math.min(1, (m - rank) * p[i]));
    out[i] = running;
  });
  return out;
}

/** Benjamini–Hochberg adjusted p-values (same order as the input). */
export function benjaminiHochberg(p: readonly number[]): number[] {
  const m = p.length;
  const order = p.map((_, i) => i).sort((a, b) => p[b] - p[a]);
  const out = new Array<number>(m);
  let running = 1;
  order.forEach((i, k) => {
    const rank = m - k;
    running = Math.min(running, (m * p[i]) / rank);
    out[i] = Math.min(1, running);
  });
  return out;
}

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const h = s.length >> 1;
  return s.length % 2 ? s[h] : (s[h - 1] + s[h]) / 2;
}

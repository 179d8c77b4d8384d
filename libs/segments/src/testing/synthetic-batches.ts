import type { Frame, SampleBatch } from '@firn/profiles';

// Deterministic synthetic data for tests and the benchmark (not exported from the library).

import { mulberry32 } from '@firn/testing';

/** Seeded data: same seed ⇒ same batches. */
export const seededRandom = mulberry32;

/** Builds a SampleBatch from plain rows (dictionaries are derived; stacks compared by identity). */
export function batchOf(
  rows: Array<{ pt: string; labels: Array<[string, string]>; stack: Frame[]; value: number; ts: number; dur?: number; period?: number }>,
): SampleBatch {
  const profileTypes: string[] = [];
  const series: Array<Array<[string, string]>> = [];
  const stacks: Frame[][] = [];
  const ptIdx = new Map<string, number>();
  const seIdx = new Map<string, number>();
  const stIdx = new Map<Frame[], number>();
  const n = rows.length;
  const b: SampleBatch = {
    profileTypes,
    series,
    stacks,
    profileType: new Uint32Array(n),
    seriesIdx: new Uint32Array(n),
    stack: new Uint32Array(n),
    value: new Float64Array(n),
    timestampMs: new Float64Array(n),
    durationNs: new Float64Array(n),
    periodNs: new Float64Array(n),
    length: n,
  };
  rows.forEach((r, i) => {
    const sk = JSON.stringify(r.labels);
    if (!ptIdx.has(r.pt)) ptIdx.set(r.pt, profileTypes.push(r.pt) - 1);
    if (!seIdx.has(sk)) seIdx.set(sk, series.push(r.labels) - 1);
    if (!stIdx.has(r.stack)) stIdx.set(r.stack, stacks.push(r.stack) - 1);
    b.profileType[i] = ptIdx.get(r.pt) ?? 0;
    b.seriesIdx[i] = seIdx.get(sk) ?? 0;
    b.stack[i] = stIdx.get(r.stack) ?? 0;
    b.value[i] = r.value;
    b.timestampMs[i] = r.ts;
    b.durationNs[i] = r.dur ?? 10_000_000_000;
    b.periodNs[i] = r.period ?? 52_631_578;
  });
  return b;
}

export interface FleetOptions {
  seed: number;
  agents: number;
  podsPerAgent: number;
  distinctStacks: number;
  /** Samples each pod takes per 10 s window (fleet-1h: 19 Hz × 2 CPUs × 10 s / 8 pods ≈ 47). */
  samplesPerPodWindow: number;
  windows: number;
  startMs: number;
}

export const CPU_PROFILE_TYPE = 'parca_agent:samples:count:cpu:nanoseconds:delta';

/**
 * fleet-1h-like batches: one batch per (agent, 10 s window); 40 binaries, 5000 functions, stacks
 * of depth 8-64 sharing prefixes, Zipf(1.1) stack choice over a pod-specific permutation.
 */
export function fleetBatches(o: FleetOptions): SampleBatch[] {
  const rnd = seededRandom(o.seed);
  const binaries = Array.from({ length: 40 }, (_, i) => ({
    buildId: (0x1000 + i).toString(16).padStart(40, 'a'),
    mappingFile: `/usr/lib/app/bin-${i}.so`,
  }));
  const functions = Array.from({ length: 5000 }, (_, i) => ({
    bin: binaries[i % 40],
    name: `pkg${i % 97}.Type${i % 31}.method${i}`,
    file: `src/pkg${i % 97}/file${i % 211}.go`,
    base: BigInt(0x400000 + i * 0x140),
  }));
  const frameOf = (fi: number, depthSalt: number): Frame => {
    const f = functions[fi];
    return {
      buildId: f.bin.buildId,
      mappingFile: f.bin.mappingFile,
      address: f.base + BigInt(depthSalt % 64) * 4n,
      functionName: f.name,
      fileName: f.file,
      line: 10 + (fi % 500),
      inlined: false,
    };
  };
  // Prefix sharing: each stack extends a random earlier stack's prefix (call-tree like).
  const stacksRootFirst: number[][] = [];
  for (let s = 0; s < o.distinctStacks; s++) {
    const depth = 8 + Math.floor(rnd() * rnd() * 57);
    const parent = s > 0 && rnd() < 0.9 ? stacksRootFirst[Math.floor(rnd() * s)] : [];
    const keep = Math.min(parent.length, Math.floor(depth * (0.5 + rnd() * 0.4)));
    const fns = parent.slice(0, keep);
    while (fns.length < depth) fns.push(Math.floor(rnd() * functions.length));
    stacksRootFirst.push(fns);
  }
  const stacks: Frame[][] = stacksRootFirst.map((fns) => fns.map((fi, d) => frameOf(fi, d)).reverse());

  const zipf = zipfSampler(o.distinctStacks, 1.1, rnd);
  const pods = Array.from({ length: o.agents * o.podsPerAgent }, (_, p) => {
    const agent = Math.floor(p / o.podsPerAgent);
    const perm = Array.from({ length: o.distinctStacks }, (_, i) => i);
    for (let i = perm.length - 1; i > 0; i--) {
      const j = Math.floor(rnd() * (i + 1));
      [perm[i], perm[j]] = [perm[j], perm[i]];
    }
    const labels: Array<[string, string]> = [
      ['container', `c-${p % 5}`],
      ['namespace', `ns-${p % 10}`],
      ['node', `node-${String(agent).padStart(3, '0')}`],
      ['pod', `deploy-${p % 37}-${((p * 2654435761) >>> 0).toString(16).slice(0, 5)}`],
    ];
    return { agent, perm, labels };
  });

  const batches: SampleBatch[] = [];
  for (let w = 0; w < o.windows; w++) {
    for (let a = 0; a < o.agents; a++) {
      const rows: Parameters<typeof batchOf>[0] = [];
      for (let p = a * o.podsPerAgent; p < (a + 1) * o.podsPerAgent; p++) {
        const counts = new Map<number, number>();
        for (let k = 0; k < o.samplesPerPodWindow; k++) {
          const s = pods[p].perm[zipf()];
          counts.set(s, (counts.get(s) ?? 0) + 1);
        }
        for (const [s, c] of counts) {
          rows.push({ pt: CPU_PROFILE_TYPE, labels: pods[p].labels, stack: stacks[s], value: c, ts: o.startMs + w * 10_000 + Math.floor(rnd() * 10_000) });
        }
      }
      batches.push(batchOf(rows));
    }
  }
  return batches;
}

function zipfSampler(n: number, s: number, rnd: () => number): () => number {
  const cdf = new Float64Array(n);
  let acc = 0;
  for (let k = 0; k < n; k++) cdf[k] = acc += 1 / Math.pow(k + 1, s);
  for (let k = 0; k < n; k++) cdf[k] /= acc;
  return () => {
    const u = rnd();
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cdf[mid] < u) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
}

// fleet-1h: the standard benchmark dataset (/work/shared/bench/FLEET-1H.md, docs/benchmarks.md).
// Deterministic: the same seed and options give the same batches, whatever slice is generated.
import { SampleBatchBuilder, type SampleBatch } from '@firn/profiles';
import { FLEET_APP_BINARIES, FLEET_SHARED_LIBS, STACKS_PER_APP, fleetCatalog, type FleetCatalog } from './catalog';
import { deriveSeed, gaussian, mulberry32, randInt, sampleCdf, shuffle, zipfCdf, type Rng } from './prng';

export const FLEET_PROFILE_TYPE = 'parca_agent:samples:count:cpu:nanoseconds:delta';
export const FLEET_AGENTS = 100;
export const PODS_PER_AGENT = 8;
export const FLEET_NAMESPACES = 10;
export const SAMPLE_HZ = 19;
export const CPUS_PER_AGENT = 2;
/** 1e9 / 19 Hz, truncated as the agent reports it. */
export const FLEET_PERIOD_NS = Math.floor(1e9 / SAMPLE_HZ);
export const DEFAULT_WINDOW_SEC = 10;
export const DEFAULT_SEED = 1;
/** 2026-01-01T00:00:00Z: fixed so the bytes do not depend on when they were generated. */
export const DEFAULT_START_MS = Date.UTC(2026, 0, 1);
export const ZIPF_S = 1.1;
/** 19 Hz × 2 CPUs × 3600 s. */
export const SAMPLES_PER_AGENT_HOUR = SAMPLE_HZ * CPUS_PER_AGENT * 3600;

const DEPLOYMENT_WORDS_A = ['api', 'auth', 'billing', 'cart', 'checkout', 'search', 'catalog', 'media'];
const DEPLOYMENT_WORDS_B = ['gateway', 'worker', 'service', 'indexer', 'scheduler', 'cache', 'router', 'sync'];
const K8S_ALPHABET = 'bcdfghjklmnpqrstvwxz2456789';
/**
 * A pod's ranking drifts from its binary's by local swaps that widen with rank: the hot head is
 * shared (so a few stacks dominate the fleet), the tail is pod-specific.
 */
const POD_DRIFT_MAX = 32;
const DEPLOYMENT_POPULARITY_S = 1.0;

export interface FleetOptions {
  seed?: number;
  /** First N agents (node-000…), default 100. */
  agents?: number;
  /** Hours of data, default 1 (ignored when `windows` is set). */
  hours?: number;
  /** Flush interval, default 10 s. */
  windowSec?: number;
  /** Number of windows per agent (default hours × 3600 / windowSec). */
  windows?: number;
  startMs?: number;
  /** Add function names, files and lines to frames (default false: address-only, as the agent sends). */
  symbolize?: boolean;
}

interface ResolvedOptions {
  seed: number;
  agents: number;
  windowSec: number;
  windows: number;
  startMs: number;
  symbolize: boolean;
}

export interface FleetPod {
  deployment: string;
  namespace: string;
  pod: string;
  container: string;
  /** App binary (catalog index) the pod runs. */
  binary: number;
  /** Series labels, sorted by name. */
  labels: Array<[string, string]>;
  /** Pod-specific ranking of its binary's stacks: rank r → catalog stack id. */
  ranking: Uint32Array;
}

export interface FleetAgent {
  agent: number;
  node: string;
  pods: FleetPod[];
  /** Cumulative share of CPU samples per pod. */
  podCdf: Float64Array;
}

export interface FleetWindow {
  agent: number;
  window: number;
  batch: SampleBatch;
}

export function resolveFleetOptions(opts: FleetOptions = {}): ResolvedOptions {
  const windowSec = opts.windowSec ?? DEFAULT_WINDOW_SEC;
  const hours = opts.hours ?? 1;
  const windows = opts.windows ?? Math.round((hours * 3600) / windowSec);
  const agents = opts.agents ?? FLEET_AGENTS;
  if (!(Number.isInteger(windowSec) && windowSec > 0)) throw new Error(`windowSec must be a positive integer, got ${windowSec}`);
  if (!(Number.isInteger(windows) && windows > 0)) throw new Error(`windows must be a positive integer, got ${windows}`);
  if (!(Number.isInteger(agents) && agents > 0 && agents <= 1000)) throw new Error(`agents must be an integer in 1..1000, got ${agents}`);
  return { seed: opts.seed ?? DEFAULT_SEED, agents, windowSec, windows, startMs: opts.startMs ?? DEFAULT_START_MS, symbolize: opts.symbolize ?? false };
}

/** CPU samples one agent takes in one window: 19 Hz × 2 CPUs × windowSec (380 for 10 s). */
export function samplesPerAgentWindow(windowSec = DEFAULT_WINDOW_SEC): number {
  return SAMPLE_HZ * CPUS_PER_AGENT * windowSec;
}

/** Total sample count (sum of values) of the slice `opts` selects. */
export function fleetSampleCount(opts: FleetOptions = {}): number {
  const o = resolveFleetOptions(opts);
  return o.agents * o.windows * samplesPerAgentWindow(o.windowSec);
}

interface Deployment {
  name: string;
  namespace: string;
  container: string;
  binary: number;
  rsHash: string;
  ranking: Uint32Array;
}

function k8sId(rng: Rng, n: number): string {
  let s = '';
  for (let i = 0; i < n; i++) s += K8S_ALPHABET[Math.floor(rng() * K8S_ALPHABET.length)];
  return s;
}

const deploymentCache = new Map<number, { deployments: Deployment[]; cdf: Float64Array }>();

/**
 * 64 deployments over 10 namespaces, 2 per app binary (same code ⇒ same hot stacks); popularity
 * is skewed (Zipf 1.0), so a few binaries take much of the fleet's CPU.
 */
function fleetDeployments(seed: number, catalog: FleetCatalog): { deployments: Deployment[]; cdf: Float64Array } {
  const hit = deploymentCache.get(seed);
  if (hit) return hit;
  const rng = mulberry32(deriveSeed(seed, 0xde9));
  const deployments: Deployment[] = [];
  const appRanking = catalog.stacksByApp.map((ids) => shuffle(rng, Uint32Array.from(ids)));
  for (let d = 0; d < DEPLOYMENT_WORDS_A.length * DEPLOYMENT_WORDS_B.length; d++) {
    const a = DEPLOYMENT_WORDS_A[d % DEPLOYMENT_WORDS_A.length];
    const b = DEPLOYMENT_WORDS_B[Math.floor(d / DEPLOYMENT_WORDS_A.length)];
    const app = d % FLEET_APP_BINARIES;
    deployments.push({
      name: `${a}-${b}`,
      namespace: `ns-${d % FLEET_NAMESPACES}`,
      container: b,
      binary: FLEET_SHARED_LIBS + app,
      rsHash: k8sId(rng, 10),
      ranking: appRanking[app],
    });
  }
  const popularity = shuffle(
    rng,
    deployments.map((_, i) => i),
  );
  const weights = new Float64Array(deployments.length);
  popularity.forEach((d, rank) => (weights[d] = 1 / Math.pow(rank + 1, DEPLOYMENT_POPULARITY_S)));
  const cdf = cumulative(weights);
  const out = { deployments, cdf };
  deploymentCache.set(seed, out);
  return out;
}

function cumulative(weights: Float64Array): Float64Array {
  const cdf = new Float64Array(weights.length);
  let sum = 0;
  weights.forEach((w, i) => (cdf[i] = sum += w));
  for (let i = 0; i < cdf.length; i++) cdf[i] /= sum;
  cdf[cdf.length - 1] = 1;
  return cdf;
}

/** One agent's node name, pods (labels as the agent emits them) and CPU shares. */
export function fleetAgent(agent: number, opts: Pick<FleetOptions, 'seed' | 'symbolize'> = {}): FleetAgent {
  const seed = opts.seed ?? DEFAULT_SEED;
  const catalog = fleetCatalog(seed, opts.symbolize ?? false);
  const { deployments, cdf } = fleetDeployments(seed, catalog);
  const rng = mulberry32(deriveSeed(seed, 0xa9e, agent));
  const node = `node-${String(agent).padStart(3, '0')}`;
  const pods: FleetPod[] = [];
  const shares = new Float64Array(PODS_PER_AGENT);
  for (let p = 0; p < PODS_PER_AGENT; p++) {
    const dep = deployments[sampleCdf(cdf, rng())];
    const ranking = Uint32Array.from(dep.ranking);
    for (let i = 0; i < ranking.length; i++) {
      const j = i + randInt(rng, 0, Math.min(1 + (i >> 2), POD_DRIFT_MAX, ranking.length - i));
      const t = ranking[i];
      ranking[i] = ranking[j];
      ranking[j] = t;
    }
    const pod = `${dep.name}-${dep.rsHash}-${k8sId(rng, 5)}`;
    pods.push({
      deployment: dep.name,
      namespace: dep.namespace,
      pod,
      container: dep.container,
      binary: dep.binary,
      labels: [
        ['container', dep.container],
        ['namespace', dep.namespace],
        ['node', node],
        ['pod', pod],
      ],
      ranking,
    });
    shares[p] = Math.exp(0.8 * gaussian(rng));
  }
  return { agent, node, pods, podCdf: cumulative(shares) };
}

let stackCdf: Float64Array | undefined;

/** One agent's flush for one window: its samples aggregated to (series, stack) → count rows. */
export function fleetWindow(agent: FleetAgent, window: number, opts: FleetOptions = {}): SampleBatch {
  const o = resolveFleetOptions(opts);
  const catalog = fleetCatalog(o.seed, o.symbolize);
  const cdf = (stackCdf ??= zipfCdf(STACKS_PER_APP, ZIPF_S));
  const rng = mulberry32(deriveSeed(o.seed, 0x5a3, agent.agent, window));
  const n = samplesPerAgentWindow(o.windowSec);
  // Per pod: stack id → count, in first-drawn order (deterministic row order).
  const counts = agent.pods.map(() => new Map<number, number>());
  for (let i = 0; i < n; i++) {
    const p = sampleCdf(agent.podCdf, rng());
    const stack = agent.pods[p].ranking[sampleCdf(cdf, rng())];
    counts[p].set(stack, (counts[p].get(stack) ?? 0) + 1);
  }
  const windowMs = o.windowSec * 1000;
  const start = o.startMs + window * windowMs;
  const b = new SampleBatchBuilder({ initialCapacity: n });
  const pt = b.addProfileType(FLEET_PROFILE_TYPE);
  agent.pods.forEach((pod, p) => {
    if (counts[p].size === 0) return;
    const series = b.addSeries(pod.labels);
    for (const [stack, count] of counts[p]) {
      b.addRow(pt, series, b.addStack(catalog.stacks[stack]), count, start + randInt(rng, 0, windowMs), windowMs * 1e6, FLEET_PERIOD_NS);
    }
  });
  return b.build();
}

/**
 * The dataset as agents flush it: window by window, every agent's batch for that window
 * (agents 0..agents-1, windows 0..windows-1).
 */
export function* fleetWindows(opts: FleetOptions = {}): Generator<FleetWindow> {
  const o = resolveFleetOptions(opts);
  const agents: FleetAgent[] = [];
  for (let a = 0; a < o.agents; a++) agents.push(fleetAgent(a, o));
  for (let w = 0; w < o.windows; w++) {
    for (const agent of agents) yield { agent: agent.agent, window: w, batch: fleetWindow(agent, w, o) };
  }
}

// Read-path benchmark over fleet-1h (docs/benchmarks.md, "Query (fleet-1h)"). Loads the dataset
// through the real write path (nats-server, gateway, ingester as separate processes, WriteArrow,
// local-dir storage), then times merged flame graphs (Parca's, and Pyroscope's as Grafana asks
// for them) and QueryRange against one querier and against two peer queriers, and the same
// aggregate in DuckDB over the same Parquet files.
// Exits 1 unless every total equals what was pushed.
//
//   node scripts/run-ts.cjs bench/query/query.bench.ts [--hours 1] [--runs 5] [--agents 100]
//     [--windows N] [--concurrency 8] [--seed 1] [--namespace ns-3] [--duckdb-threads N]
//     [--dir DIR (keep the loaded data; reuse it when it holds the same slice)]
//     [--phases cold,one,two,gateway (gateway: the queries through a gateway forwarding to one querier)] [--cpu-prof DIR] [--json FILE] [--write-docs] [--timeout-sec 3600]
//     [--no-snapshot (cold phase: skip the pass with a stack catalog snapshot, which writes one into --dir)]
//     [--cold-passes plain,snapshot,defaults (which cold passes to time)] [--cold-runs 1 (fresh queriers
//     per cold query; each figure is the median of the runs)]
//     [--compact 1|2 (then the same phases on blocks of that level: see below)]
//     [--queries 'whole range,label filter' (only the queries whose name holds one of these)]
// --cpu-prof DIR writes each querier's profile to DIR/<segments|blocks-lL>/<querier label>/.
//
// --compact L: after the level-0 phases, copies the dataset to <dir>/blocks-lL (kept and reused
// like the dataset), runs the compactor app on the copy until no segment below level L is left in
// the manifest (L2 = the compactor's defaults: hourly blocks with 10 s buckets; L1 = 5-minute
// blocks, exact timestamps, L2 held off), then runs DuckDB and the same phases on the blocks.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { ManifestLog } from '@firn/manifest';
import { parseSelector } from '@firn/profiles';
import { catalogSnapshotKey, planSegments, type SegmentMeta } from '@firn/query';
import { tenantFromTrustedSource } from '@firn/tenancy';
import { freePort } from '@firn/testing';
import { DEFAULT_SEED, FLEET_AGENTS, FLEET_PROFILE_TYPE, resolveFleetOptions } from '../fleet/fleet-1h';
import { waitForDrained } from '../ingest/cluster';
import { percentile } from '../ingest/load';
import { cpuSeconds, peakRssBytes, resetPeakRss, threadCpuSeconds } from '../ingest/proc-stats';
import { machineNotes } from '../ingest/report';
import { blocksDir, compactDataset, MAX_COMPACT_LEVEL, prepareBlocksDir } from './compact';
import { DuckBench, totalPerStackSql } from './duck';
import { loadFleet, type LoadedFleet } from './load-fleet';
import { mergeFlamegraph, pyroscopeFlamegraph, queryClients, queryRange, type QueryClients } from './parca-queries';
import { reportSection, upsertQuerySection, type DatasetFacts, type PhaseStats, type QueryCost, type QueryReport, type QueryRow, type Timing } from './report';
import { startStack, type AppProcess, type Stack } from './stack';
import { intArg } from '../cli';

const ROOT = resolve(__dirname, '..', '..');
const DOCS = resolve(ROOT, 'docs/benchmarks.md');
const TENANT = tenantFromTrustedSource('bench-query');
const MARKER = 'fleet.json';
const INTERNAL_TOKEN = 'bench-query-internal-token-0123456789';
const RANGE_POINTS = 60;
/** max_nodes of Grafana's flame graph panel (its Pyroscope data source's default). */
const GRAFANA_MAX_NODES = 16384;

const { values: args } = parseArgs({
  options: {
    hours: { type: 'string', default: '1' },
    windows: { type: 'string' },
    agents: { type: 'string', default: String(FLEET_AGENTS) },
    runs: { type: 'string', default: '5' },
    concurrency: { type: 'string', default: '8' },
    seed: { type: 'string', default: String(DEFAULT_SEED) },
    namespace: { type: 'string', default: 'ns-3' },
    'duckdb-threads': { type: 'string' },
    dir: { type: 'string' },
    phases: { type: 'string', default: 'cold,one,two' },
    'cpu-prof': { type: 'string' },
    json: { type: 'string' },
    'write-docs': { type: 'boolean', default: false },
    'timeout-sec': { type: 'string', default: '3600' },
    'no-snapshot': { type: 'boolean', default: false },
    'cold-passes': { type: 'string', default: 'plain,snapshot,defaults' },
    'cold-runs': { type: 'string', default: '1' },
    compact: { type: 'string' },
    queries: { type: 'string' },
  },
  strict: true,
});

const hours = Number(args.hours);
if (!(hours > 0)) throw new Error(`--hours must be a positive number, got ${args.hours}`);
const fleet = resolveFleetOptions({
  seed: intArg('seed', args.seed, 0),
  agents: intArg('agents', args.agents, 1),
  hours,
  windows: args.windows !== undefined ? intArg('windows', args.windows, 1) : undefined,
});
const runs = intArg('runs', args.runs, 1);
const concurrency = intArg('concurrency', args.concurrency, 1);
const duckThreads = args['duckdb-threads'] !== undefined ? intArg('duckdb-threads', args['duckdb-threads'], 1) : undefined;
const phases = (args.phases ?? '').split(',').filter(Boolean);
const PHASES = ['cold', 'one', 'two', 'gateway'];
if (phases.length === 0 || phases.some((p) => !PHASES.includes(p))) throw new Error(`--phases must list ${PHASES.join(', ')}, got ${args.phases}`);
const COLD_PASSES = ['plain', 'snapshot', 'defaults'];
const coldPasses = (args['cold-passes'] ?? '').split(',').filter(Boolean);
if (coldPasses.some((p) => !COLD_PASSES.includes(p))) throw new Error(`--cold-passes must list ${COLD_PASSES.join(', ')}, got ${args['cold-passes']}`);
const coldRuns = intArg('cold-runs', args['cold-runs'], 1);
const compactLevel = args.compact !== undefined ? intArg('compact', args.compact, 1) : undefined;
if (compactLevel !== undefined && compactLevel > MAX_COMPACT_LEVEL) throw new Error(`--compact must be 1 or ${MAX_COMPACT_LEVEL}, got ${args.compact}`);
const timeoutMs = intArg('timeout-sec', args['timeout-sec'], 10) * 1000;
/** --queries: only the queries whose name holds one of these (comma-separated) strings. */
const queryFilter = (args.queries ?? '').split(',').filter(Boolean);
const deadline = Date.now() + timeoutMs;
const startMs = fleet.startMs;
const endMs = fleet.startMs + fleet.windows * fleet.windowSec * 1000;
// The command to rerun, without the flags that only say where this run's data and output go.
const OUTPUT_FLAGS = new Set(['--json', '--dir', '--cpu-prof']);
const rerunArgs = process.argv
  .slice(2)
  .filter((a, i, all) => a !== '--write-docs' && !OUTPUT_FLAGS.has(a) && !OUTPUT_FLAGS.has(all[i - 1]) && !/^--(json|dir|cpu-prof)=/.test(a));
const command = ['node scripts/run-ts.cjs bench/query/query.bench.ts', ...rerunArgs].join(' ');

function log(msg: string): void {
  process.stderr.write(`[query.bench ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
}

interface Marker {
  seed: number;
  agents: number;
  windows: number;
  windowSec: number;
  startMs: number;
  loaded: LoadedFleet;
  drainWallSec: number;
  /** Requests in flight during the load. */
  concurrency?: number;
}

function sameSlice(m: Marker): boolean {
  return m.seed === fleet.seed && m.agents === fleet.agents && m.windows === fleet.windows && m.windowSec === fleet.windowSec && m.startMs === fleet.startMs;
}

async function timed<T>(n: number, fn: () => Promise<T>, pid?: number): Promise<{ timing: Timing; results: T[]; cpuSec: number[] }> {
  const samples: number[] = [];
  const results: T[] = [];
  const cpuSec: number[] = [];
  for (let i = 0; i < n; i++) {
    const c0 = pid === undefined ? 0 : threadCpuSeconds(pid);
    const t0 = performance.now();
    results.push(await fn());
    samples.push(performance.now() - t0);
    if (pid !== undefined) cpuSec.push(threadCpuSeconds(pid) - c0);
  }
  return {
    timing: { runs: n, p50: percentile(samples, 0.5), p99: percentile(samples, 0.99), min: Math.min(...samples), max: Math.max(...samples) },
    results,
    cpuSec,
  };
}

function rssBytes(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : NaN;
}

async function loadDataset(stack: Stack): Promise<Marker> {
  log(`loading fleet-1h: ${fleet.agents} agents × ${fleet.windows} windows through gateway + ingester (${concurrency} in flight)`);
  const gateway = await stack.startApp('gateway');
  const ingester = await stack.startApp('ingester', { env: { FIRN_INGESTER_ID: 'bench-query-ingester' } });
  try {
    const t0 = performance.now();
    const loaded = await loadFleet({
      gatewayBase: gateway.base,
      token: stack.token,
      fleet,
      concurrency,
      deadlineMs: deadline,
      onProgress: (sent, total) => log(`  pushed ${sent}/${total} (${((performance.now() - t0) / 1000).toFixed(0)} s)`),
    });
    log(
      `pushed ${loaded.requests} requests (${loaded.samples} samples, ${loaded.rows} rows) in ${loaded.pushWallSec.toFixed(0)} s; waiting for the ingest log to drain`,
    );
    await waitForDrained(stack.bus, Math.max(1000, deadline - Date.now()));
    const drainWallSec = (performance.now() - t0) / 1000;
    log(`drained after ${drainWallSec.toFixed(0)} s`);
    for (const [name, app] of [
      ['gateway', gateway],
      ['ingester', ingester],
    ] as const) {
      const warnings = app.proc
        .logTail(4 * 1024 * 1024)
        .split('\n')
        .filter((l) => /"level":(4|5|6)0/.test(l));
      if (warnings.length > 0) log(`${name} logged ${warnings.length} warning/error line(s), e.g. ${warnings[0].slice(0, 300)}`);
    }
    return {
      seed: fleet.seed,
      agents: fleet.agents,
      windows: fleet.windows,
      windowSec: fleet.windowSec,
      startMs: fleet.startMs,
      loaded,
      drainWallSec,
      concurrency,
    };
  } finally {
    // The write path is done: free its CPU and memory before anything is timed.
    await gateway.proc.stop();
    await ingester.proc.stop();
  }
}

interface Plan {
  all: SegmentMeta[];
  filtered: SegmentMeta[];
  rows: number;
  samples: number;
  bytesOnDisk: number;
  stacksBytes: number;
}

async function plan(stack: Stack, selectorAll: string, selectorNs: string): Promise<Plan> {
  const manifest = await ManifestLog.open({ bus: stack.bus, store: stack.store });
  try {
    await manifest.syncToLatest();
    const sel = (s: string): SegmentMeta[] => {
      const p = parseSelector(s);
      return planSegments(manifest.state, TENANT, { startMs, endMs, profileType: FLEET_PROFILE_TYPE, matchers: p.matchers });
    };
    const all = sel(selectorAll);
    const filtered = sel(selectorNs);
    let rows = 0;
    let samples = 0;
    let bytesOnDisk = 0;
    let stacksBytes = 0;
    for (const seg of manifest.validSegments(TENANT)) {
      rows += Number(seg.meta.rows);
      samples += Number(seg.meta.samples);
      const size = (f: string): number => statSync(join(stack.dirs.objects, seg.meta.objectKey, f)).size;
      const stacks = size('stacks.parquet');
      stacksBytes += stacks;
      bytesOnDisk += size('samples.parquet') + stacks;
    }
    return { all, filtered, rows, samples, bytesOnDisk, stacksBytes };
  } finally {
    await manifest.close();
  }
}

interface QuerySpec {
  row: QueryRow;
  run(client: QueryClients): Promise<number>;
}

/** Runs every query once (retrying until the querier's manifest view has caught up), then `runs` times. */
async function measurePhase(
  name: string,
  queriers: AppProcess[],
  token: string,
  specs: QuerySpec[],
  store: (row: QueryRow, t: Timing, total: number, cpuSec: number[]) => void,
  /** Whose main-thread CPU each run measures (default: the querier, when there is one). */
  cpuPid: number | undefined = queriers.length === 1 ? queriers[0].pid : undefined,
): Promise<PhaseStats> {
  const pids = queriers.map((q) => q.pid);
  const idleRss = pids.map(rssBytes);
  const rssReset = pids.every((p) => resetPeakRss(p));
  const cpu0 = pids.map(cpuSeconds);
  const client = queryClients(queriers[0].base, token);
  for (const spec of specs) {
    let total = await spec.run(client);
    for (let i = 0; total !== spec.row.expected && i < 40; i++) {
      await new Promise((r) => setTimeout(r, 250));
      total = await spec.run(client);
    }
    log(`${name}: ${spec.row.name}: warm-up total ${total} (expected ${spec.row.expected})`);
    const { timing, results, cpuSec } = await timed(runs, () => spec.run(client), cpuPid);
    const bad = results.find((t) => t !== spec.row.expected);
    store(spec.row, timing, bad ?? results[0], cpuSec);
    log(`${name}: ${spec.row.name}: p50 ${timing.p50.toFixed(0)} ms, p99 ${timing.p99.toFixed(0)} ms`);
  }
  return { name, idleRss, peakRss: pids.map(peakRssBytes), cpuSec: pids.map((p, i) => cpuSeconds(p) - cpu0[i]), rssReset };
}

interface Measured {
  plan: Plan;
  rows: QueryRow[];
  phases: PhaseStats[];
  duckThreads: number;
  loadAvg: string;
  loadAvgAfter: string;
  /** Size of the stack catalog snapshot the cold phase's fresh queriers loaded. */
  snapshotBytes?: number;
}

const loadNow = (): string =>
  loadavg()
    .map((x) => x.toFixed(2))
    .join(' ');

/**
 * Plans, then times DuckDB and the querier phases over whatever the manifest of `stack` holds
 * (level-0 segments or compacted blocks), checking every total against what was pushed. `stage`
 * prefixes the log lines and names the `--cpu-prof` sub-directories.
 */
async function measure(stack: Stack, marker: Marker, stage: string): Promise<Measured> {
  const say = (msg: string): void => log(`[${stage}] ${msg}`);
  const expectedAll = marker.loaded.samples;
  const expectedNs = marker.loaded.samplesByNamespace[args.namespace ?? ''] ?? 0;
  const selectorAll = `${FLEET_PROFILE_TYPE}{}`;
  const selectorNs = `${FLEET_PROFILE_TYPE}{namespace="${args.namespace}"}`;
  const p = await plan(stack, selectorAll, selectorNs);
  say(
    `plan: ${p.all.length} segments for the whole range, ${p.filtered.length} with the namespace filter; ${p.rows} rows, ${p.samples} samples, ${(p.bytesOnDisk / 1e6).toFixed(1)} MB on disk`,
  );
  if (p.samples !== expectedAll) throw new Error(`the manifest lists ${p.samples} samples, ${expectedAll} were pushed`);

  // The second half of the range, from a time that is no window boundary, as "the last N minutes"
  // asks: it cuts a block (or one level-0 segment). What was pushed is not tallied per time, so
  // its expected total is DuckDB's over the same files.
  const halfMs = startMs + Math.floor((endMs - startMs) / 2) + 1_234;
  const halfSegments = p.all.filter((s) => Number(s.maxTimeUnixNano / 1_000_000n) >= halfMs).length;
  const rows: QueryRow[] = [
    { name: 'merged flame graph, whole range', selector: selectorAll, segments: p.all.length, expected: expectedAll, verified: true },
    { name: 'merged flame graph, label filter', selector: selectorNs, segments: p.filtered.length, expected: expectedNs, verified: true },
    { name: `QueryRange sum by namespace, ${RANGE_POINTS} points`, selector: selectorAll, segments: p.all.length, expected: expectedAll, verified: true },
    { name: 'merged flame graph, second half (expected: DuckDB)', selector: selectorAll, segments: halfSegments, expected: NaN, verified: true },
    {
      name: `Pyroscope flame graph (Grafana), label filter, ${GRAFANA_MAX_NODES} nodes`,
      selector: selectorNs,
      segments: p.filtered.length,
      expected: expectedNs,
      verified: true,
    },
    {
      name: `Pyroscope flame graph (Grafana), whole range, ${GRAFANA_MAX_NODES} nodes`,
      selector: selectorAll,
      segments: p.all.length,
      expected: expectedAll,
      verified: true,
    },
  ];
  const [flameAll, flameNs, range, flameHalf, grafanaNs, grafanaAll] = rows;
  const nsLabels = `{namespace="${args.namespace}"}`;
  const mismatch = (row: QueryRow, what: string, got: number): void => {
    if (got === row.expected) return;
    row.verified = false;
    row.note = [row.note, `${what} returned ${got}`].filter(Boolean).join('; ');
  };

  // DuckDB first, alone on the machine, over the files of every valid segment in the range.
  const duck = await DuckBench.open(duckThreads);
  const duckThreadsUsed = duck.threads;
  try {
    const dirs = p.all.map((s) => join(stack.dirs.objects, s.objectKey));
    for (const [row, labels, from] of [
      [flameAll, undefined, startMs],
      [flameNs, { namespace: args.namespace ?? '' }, startMs],
      [flameHalf, undefined, halfMs],
    ] as const) {
      const sql = totalPerStackSql(dirs, { profileType: FLEET_PROFILE_TYPE, startMs: from, endMs, labels });
      await duck.totalPerStack(sql);
      const { timing, results } = await timed(runs, () => duck.totalPerStack(sql));
      if (row === flameHalf) row.expected = results[0].total;
      row.duck = timing;
      row.duckTotal = results[0].total;
      row.duckStacks = results[0].stacks;
      for (const r of results) mismatch(row, 'DuckDB', r.total);
      say(`DuckDB: ${row.name}: p50 ${timing.p50.toFixed(0)} ms, p99 ${timing.p99.toFixed(0)} ms (${results[0].stacks} stacks, total ${results[0].total})`);
    }
    // Grafana's queries sum what the Parca ones over the same series sum.
    for (const [row, same] of [
      [grafanaNs, flameNs],
      [grafanaAll, flameAll],
    ] as const) {
      Object.assign(row, { duck: same.duck, duckTotal: same.duckTotal, duckStacks: same.duckStacks });
      mismatch(row, 'DuckDB', same.duckTotal ?? NaN);
    }
  } finally {
    duck.close();
  }

  const allSpecs: QuerySpec[] = [
    { row: flameAll, run: async (c) => rootOf(await mergeFlamegraph(c.parca, selectorAll, startMs, endMs)) },
    { row: flameNs, run: async (c) => rootOf(await mergeFlamegraph(c.parca, selectorNs, startMs, endMs)) },
    { row: range, run: async (c) => (await queryRange(c.parca, selectorAll, startMs, endMs, RANGE_POINTS, ['namespace'])).total },
    { row: flameHalf, run: async (c) => rootOf(await mergeFlamegraph(c.parca, selectorAll, halfMs, endMs)) },
    { row: grafanaNs, run: async (c) => (await pyroscopeFlamegraph(c.pyroscope, FLEET_PROFILE_TYPE, nsLabels, startMs, endMs, GRAFANA_MAX_NODES)).total },
    { row: grafanaAll, run: async (c) => (await pyroscopeFlamegraph(c.pyroscope, FLEET_PROFILE_TYPE, '{}', startMs, endMs, GRAFANA_MAX_NODES)).total },
  ];
  const specs = queryFilter.length === 0 ? allSpecs : allSpecs.filter((q) => queryFilter.some((f) => q.row.name.includes(f)));
  if (specs.length === 0) throw new Error(`--queries ${args.queries} matches none of: ${allSpecs.map((q) => q.row.name).join('; ')}`);
  const loadBefore = loadNow();
  const phaseStats: PhaseStats[] = [];
  // Catalog snapshots stay off except where the cold phase measures them, so the phases measure
  // what they did before snapshots existed and a kept dir is not written to.
  // The series preload and the warm-up query too: only the cold phase's last pass turns them on.
  const queryEnv = {
    FIRN_QUERY_TIMEOUT_MS: String(Math.max(60_000, deadline - Date.now())),
    FIRN_STACK_CATALOG_SNAPSHOTS: 'false',
    FIRN_QUERIER_SERIES_PRELOAD: '0',
    FIRN_QUERIER_WARM_UP: 'false',
  };
  let snapshotBytes: number | undefined;
  const profArgs = (label: string): string[] => {
    if (!args['cpu-prof']) return [];
    const out = resolve(args['cpu-prof'], stage, label);
    mkdirSync(out, { recursive: true });
    return ['--cpu-prof', `--cpu-prof-dir=${out}`];
  };

  if (phases.includes('cold')) {
    // One querier process per query: its first query pays the empty stack catalog, JIT and wasm
    // start-up. It waits 2 s after the querier is ready for its manifest view to catch up (a
    // warm-up query would fill the very caches this measures), then times only the query.
    const coldOnce = async (spec: QuerySpec, env: Record<string, string>, label: string): Promise<QueryCost> => {
      const q = await stack.startApp('querier', { label, env, nodeArgs: profArgs(label) });
      try {
        const readyCpuSec = cpuSeconds(q.pid);
        await new Promise((r) => setTimeout(r, 2000));
        const client = queryClients(q.base, stack.token);
        const c0 = threadCpuSeconds(q.pid);
        const t0 = performance.now();
        const total = await spec.run(client);
        const cost = { wallMs: performance.now() - t0, cpuSec: threadCpuSeconds(q.pid) - c0, total, readyCpuSec };
        say(
          `${label}: ${spec.row.name}: ${cost.wallMs.toFixed(0)} ms, querier CPU ${cost.cpuSec.toFixed(3)} s (${readyCpuSec.toFixed(2)} s until ready), total ${total}`,
        );
        mismatch(spec.row, label, total);
        return cost;
      } finally {
        await q.proc.stop();
      }
    };
    // With --cold-runs N, each figure is the median of N fresh queriers (a single run is noisy).
    const coldQuery = async (spec: QuerySpec, env: Record<string, string>, label: string): Promise<QueryCost> => {
      const costs: QueryCost[] = [];
      for (let i = 0; i < coldRuns; i++) costs.push(await coldOnce(spec, env, label));
      const mid = (f: (c: QueryCost) => number) => percentile(costs.map(f), 0.5);
      return { wallMs: mid((c) => c.wallMs), cpuSec: mid((c) => c.cpuSec), total: costs[0].total, readyCpuSec: mid((c) => c.readyCpuSec ?? 0) };
    };
    if (coldPasses.includes('plain')) {
      say('phase cold: a fresh querier per query');
      for (const spec of specs) spec.row.cold = await coldQuery(spec, queryEnv, 'querier-cold');
    }
    let snapEnv: Record<string, string> | undefined;
    if (!args['no-snapshot'] && (coldPasses.includes('snapshot') || coldPasses.includes('defaults'))) {
      // A querier with snapshots on answers every query once and stops (shutdown writes the
      // tenant's stack catalog snapshot); then each query runs in a fresh querier that loads it.
      snapEnv = { ...queryEnv, FIRN_STACK_CATALOG_SNAPSHOTS: 'true' };
      await stack.store.delete(catalogSnapshotKey(TENANT));
      const writer = await stack.startApp('querier', { label: 'querier-snapshot-writer', env: snapEnv });
      try {
        const client = queryClients(writer.base, stack.token);
        for (const spec of specs) mismatch(spec.row, 'snapshot writer', await spec.run(client));
      } finally {
        await writer.proc.stop();
      }
      snapshotBytes = (await stack.store.head(catalogSnapshotKey(TENANT)))?.size;
      if (coldPasses.includes('snapshot')) {
        say(`phase cold with a stack catalog snapshot (${snapshotBytes ?? 'no'} bytes): a fresh querier per query`);
        for (const spec of specs) spec.row.coldSnapshot = await coldQuery(spec, snapEnv, 'querier-cold-snapshot');
      }
    }
    if (coldPasses.includes('defaults')) {
      // The querier's defaults before ready: the last hour's series tables read into the cache and
      // the warm-up queries (with the snapshot, when measured).
      say('phase cold with the series preload and the warm-up query before ready: a fresh querier per query');
      const defaultsEnv = { ...(snapEnv ?? queryEnv), FIRN_QUERIER_SERIES_PRELOAD: '1h', FIRN_QUERIER_WARM_UP: 'true' };
      for (const spec of specs) spec.row.coldDefaults = await coldQuery(spec, defaultsEnv, 'querier-cold-defaults');
    }
  }
  if (phases.includes('one')) {
    say('phase one: one querier');
    const q = await stack.startApp('querier', { label: 'querier-solo', env: queryEnv, nodeArgs: profArgs('querier-solo') });
    try {
      phaseStats.push(
        await measurePhase(`${stage}: 1 querier`, [q], stack.token, specs, (row, t, total, cpuSec) => {
          row.one = t;
          row.warmCpuSec = percentile(cpuSec, 0.5);
          row.firnTotal = total;
          mismatch(row, '1 querier', total);
        }),
      );
    } finally {
      await q.proc.stop();
    }
  }
  if (phases.includes('two')) {
    say('phase two: two peer queriers');
    const [p1, p2] = [await freePort(), await freePort()];
    const peerEnv = (other: number): Record<string, string> => ({
      ...queryEnv,
      FIRN_QUERIER_PEERS: `http://127.0.0.1:${other}`,
      FIRN_INTERNAL_TOKEN: INTERNAL_TOKEN,
    });
    const [qa, qb] = await Promise.all([
      stack.startApp('querier', { label: 'querier-a', port: p1, env: peerEnv(p2), nodeArgs: profArgs('querier-a') }),
      stack.startApp('querier', { label: 'querier-b', port: p2, env: peerEnv(p1), nodeArgs: profArgs('querier-b') }),
    ]);
    try {
      phaseStats.push(
        await measurePhase(`${stage}: 2 queriers (peers, query sent to the first)`, [qa, qb], stack.token, specs, (row, t, total) => {
          row.two = t;
          row.firnTotal2 = total;
          mismatch(row, '2 queriers', total);
        }),
      );
    } finally {
      await Promise.all([qa.proc.stop(), qb.proc.stop()]);
    }
  }
  if (phases.includes('gateway')) {
    // What a user's query goes through: the gateway checks the token and forwards to a querier.
    say('phase gateway: the same queries sent to a gateway that forwards them to one querier');
    const q = await stack.startApp('querier', { label: 'querier-behind-gateway', env: { ...queryEnv, FIRN_INTERNAL_TOKEN: INTERNAL_TOKEN } });
    const gw = await stack.startApp('gateway', {
      label: 'gateway-queries',
      env: { FIRN_QUERIERS: q.base, FIRN_INTERNAL_TOKEN: INTERNAL_TOKEN },
      nodeArgs: profArgs('gateway-queries'),
    });
    try {
      phaseStats.push(
        await measurePhase(
          `${stage}: gateway → 1 querier`,
          [gw, q],
          stack.token,
          specs,
          (row, t, total, cpuSec) => {
            row.viaGateway = t;
            row.gatewayCpuSec = percentile(cpuSec, 0.5);
            mismatch(row, 'through the gateway', total);
          },
          gw.pid,
        ),
      );
    } finally {
      await Promise.all([gw.proc.stop(), q.proc.stop()]);
    }
  }
  return { plan: p, rows, phases: phaseStats, duckThreads: duckThreadsUsed, loadAvg: loadBefore, loadAvgAfter: loadNow(), snapshotBytes };
}

function datasetFacts(m: Measured, marker: Marker, reused: boolean, load?: DatasetFacts['load']): DatasetFacts {
  return {
    agents: fleet.agents,
    windows: fleet.windows,
    windowSec: fleet.windowSec,
    seed: fleet.seed,
    hours: (fleet.windows * fleet.windowSec) / 3600,
    requests: marker.loaded.requests,
    rowsStored: m.plan.rows,
    samplesStored: m.plan.samples,
    samplesPushed: marker.loaded.samples,
    segments: m.plan.all.length,
    bytesOnDisk: m.plan.bytesOnDisk,
    stacksBytes: m.plan.stacksBytes,
    load,
    reused,
  };
}

async function main(): Promise<void> {
  const workDir = args.dir ? resolve(args.dir) : mkdtempSync(join(tmpdir(), 'firn-bench-query-'));
  mkdirSync(workDir, { recursive: true });
  const markerPath = join(workDir, MARKER);
  let marker: Marker | undefined;
  if (existsSync(markerPath)) {
    marker = JSON.parse(readFileSync(markerPath, 'utf8')) as Marker;
    if (!sameSlice(marker))
      throw new Error(`${workDir} holds another slice (${marker.agents} agents × ${marker.windows} windows, seed ${marker.seed}); use another --dir`);
    log(`reusing the dataset kept in ${workDir}`);
  } else if (existsSync(join(workDir, 'data'))) {
    throw new Error(`${workDir} has data but no ${MARKER} (an interrupted load?); remove it or use another --dir`);
  }
  const reused = marker !== undefined;

  // The stack of the data being measured: the level-0 dataset first, then the blocks' copy.
  let active = await startStack(workDir, TENANT);
  const timer = setTimeout(() => {
    log(`timed out after ${timeoutMs / 1000} s; stopping`);
    void active.stop().finally(() => process.exit(1));
  }, timeoutMs);
  const stopOnSignal = (): void => void active.stop().finally(() => process.exit(130));
  process.once('SIGINT', stopOnSignal);
  process.once('SIGTERM', stopOnSignal);
  let report: QueryReport | undefined;
  try {
    if (!marker) {
      marker = await loadDataset(active);
      writeFileSync(markerPath, JSON.stringify(marker, null, 2));
    }
    const segments = await measure(active, marker, 'segments');
    report = {
      command,
      runs,
      machine: { ...machineNotes(), loadAvg: segments.loadAvg, loadAvgAfter: segments.loadAvgAfter },
      duckThreads: segments.duckThreads,
      dataset: datasetFacts(segments, marker, reused, {
        pushWallSec: marker.loaded.pushWallSec,
        drainWallSec: marker.drainWallSec,
        concurrency: marker.concurrency ?? concurrency,
      }),
      queries: segments.rows,
      phases: segments.phases,
      snapshotBytes: segments.snapshotBytes,
    };

    if (compactLevel !== undefined) {
      // Compaction rewrites the manifest and objects: it runs on a copy, made with nothing running.
      await active.stop();
      const dir = blocksDir(workDir, compactLevel);
      if (!reused) rmSync(dir, { recursive: true, force: true });
      const kept = prepareBlocksDir(workDir, dir, log);
      if (kept) log(`reusing the L${compactLevel} blocks kept in ${dir}`);
      active = await startStack(dir, TENANT);
      const compaction = kept ?? (await compactDataset({ stack: active, dir, tenant: TENANT, level: compactLevel, deadlineMs: deadline, log }));
      const blocks = await measure(active, marker, `blocks-l${compactLevel}`);
      report.blocks = {
        compaction,
        dataset: datasetFacts(blocks, marker, kept !== undefined),
        queries: blocks.rows,
        phases: blocks.phases,
        snapshotBytes: blocks.snapshotBytes,
        duckThreads: blocks.duckThreads,
        loadAvg: blocks.loadAvg,
        loadAvgAfter: blocks.loadAvgAfter,
      };
    }
  } finally {
    clearTimeout(timer);
    await active.stop();
    if (!args.dir) rmSync(workDir, { recursive: true, force: true });
  }

  const section = reportSection(report);
  process.stdout.write(`\n${section}\n`);
  if (args.json) writeFileSync(resolve(args.json), JSON.stringify(report, null, 2));
  if (args['write-docs']) {
    // docs/benchmarks.md is shared with the ingest benchmark: if it changed moments ago someone
    // may be editing it, so leave it alone and put the section next to this benchmark instead.
    const recentlyEdited = existsSync(DOCS) && Date.now() - statSync(DOCS).mtimeMs < 120_000;
    const target = recentlyEdited ? resolve(__dirname, 'RESULTS.md') : DOCS;
    upsertQuerySection(target, section);
    log(recentlyEdited ? `${DOCS} changed in the last 2 minutes; wrote ${target} instead` : `updated ${DOCS}`);
  }
  const failed = [...report.queries, ...(report.blocks?.queries ?? [])].filter((r) => !r.verified);
  if (failed.length > 0) throw new Error(`totals differ for: ${failed.map((r) => `${r.name} (${r.note ?? ''})`).join('; ')}`);
}

function rootOf(r: { total: number; rootCumulative: number }): number {
  // Both must agree: the response's total and the root node Grafana shows.
  return r.total === r.rootCumulative ? r.rootCumulative : NaN;
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    log(`FAILED: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    process.exit(1);
  },
);

// Backlog benchmark (issue #19, bounded memory): how one ingester works off a backlog of the ingest
// log. Starts nats-server, local storage, a gateway and an ingester as separate processes (as
// bench/ingest/ingest.bench.ts does), then:
//   1. steady: pushes a small slice of fleet-1h through WriteArrow with the ingester running, and
//      measures the ingester's rows per CPU-second while it keeps up;
//   2. backlog: stops the ingester (SIGTERM), pushes `--windows` windows of every agent (60 = ten
//      minutes of a 100-agent fleet) into the log, starts a fresh ingester and measures, until the
//      log is drained: its CPU, rows per CPU-second, RSS (sampled every 250 ms, and VmHWM), the
//      messages it saw again (redelivered while held, duplicates, the consumer's redelivery count),
//      how often it paused at its memory budget, and the segments it wrote.
// Fails (exit 1) unless both tenants' stored totals equal what was pushed.
//
//   node scripts/run-ts.cjs bench/ingest/backlog.bench.ts [--windows 60] [--agents 100] [--steady-windows 6]
//     [--concurrency 8] [--seed 1] [--ingester-env K=V,K=V] [--json FILE] [--timeout-sec 3600]
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { createClient } from '@connectrpc/connect';
import { createGrpcTransport } from '@connectrpc/connect-node';
import { INGEST_CONSUMER, INGEST_STREAM } from '@firn/ingest-log';
import { profilestoreV1alpha1 } from '@firn/proto';
import { metricValue } from '@firn/testing';
import { DEFAULT_SEED, FLEET_AGENTS } from '../fleet/fleet-1h';
import { ingestBacklog, startCluster, startFirnApp, waitForDrained, type AppProcess, type Cluster } from './cluster';
import { runClosedLoop } from './load';
import { prepareSlice, type PreparedSlice } from './payloads';
import { cpuSeconds, peakRssBytes, resetPeakRss, statusKb } from './proc-stats';
import { machineNotes } from './report';
import { diffTotals, storedSummary } from './verify';
import { bearer, intArg } from '../cli';

const { values: args } = parseArgs({
  options: {
    windows: { type: 'string', default: '60' },
    agents: { type: 'string', default: String(FLEET_AGENTS) },
    'steady-windows': { type: 'string', default: '6' },
    concurrency: { type: 'string', default: '8' },
    seed: { type: 'string', default: String(DEFAULT_SEED) },
    'ingester-env': { type: 'string', default: '' },
    json: { type: 'string' },
    'timeout-sec': { type: 'string', default: '3600' },
  },
  strict: true,
});

const windows = intArg('windows', args.windows, 1);
const agents = intArg('agents', args.agents, 1);
const steadyWindows = intArg('steady-windows', args['steady-windows'], 1);
const concurrency = intArg('concurrency', args.concurrency, 1);
const seed = intArg('seed', args.seed, 0);
const ingesterEnv = Object.fromEntries(
  (args['ingester-env'] ?? '')
    .split(',')
    .filter(Boolean)
    .map((kv) => {
      const i = kv.indexOf('=');
      if (i <= 0) throw new Error(`--ingester-env takes K=V pairs, got ${kv}`);
      return [kv.slice(0, i), kv.slice(i + 1)];
    }),
);
const deadline = Date.now() + intArg('timeout-sec', args['timeout-sec'], 10) * 1000;
const STEADY = 'bench-steady';
const BACKLOG = 'bench-backlog';

function log(msg: string): void {
  process.stderr.write(`[backlog.bench ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
}

async function push(cluster: Cluster, tenant: string, slice: PreparedSlice): Promise<void> {
  const c = createClient(
    profilestoreV1alpha1.ProfileStoreService,
    createGrpcTransport({ baseUrl: cluster.gateway.base, interceptors: [bearer(cluster.tokens[tenant])] }),
  );
  const res = await runClosedLoop(slice.windows.length, concurrency, async (i) => void (await c.writeArrow({ ipcBuffer: slice.windows[i].arrow })), deadline);
  if (res.errors > 0) throw new Error(`${tenant}: ${res.errors} request(s) failed; first: ${String(res.firstError)}`);
}

async function verify(cluster: Cluster, tenant: string, slice: PreparedSlice): Promise<{ segments: number; rows: number }> {
  const stored = await storedSummary(cluster.bus, cluster.store, tenant);
  const diff = diffTotals(slice.expected, stored.totals);
  if (diff.count > 0 || stored.samples !== slice.samples) {
    throw new Error(
      `${tenant}: stored ${stored.samples} samples of ${slice.samples} pushed; ${diff.count} totals differ, e.g.\n  ${diff.examples.join('\n  ')}`,
    );
  }
  return { segments: stored.segments, rows: stored.rows };
}

interface IngesterWindow {
  cpuSec: number;
  wallSec: number;
  rows: number;
  counters: Record<string, number>;
}

const COUNTERS = [
  'firn_ingester_segment_rows_total',
  'firn_ingester_segments_total{outcome="ok"}',
  'firn_ingester_segments_total{outcome="conflict"}',
  'firn_ingester_messages_total{outcome="buffered"}',
  'firn_ingester_messages_total{outcome="redelivered_while_held"}',
  'firn_ingester_messages_total{outcome="duplicate"}',
  'firn_ingester_budget_waits_total',
];

/** Ingester CPU and counters over `work` (which ends once the log is drained). */
async function measure(app: AppProcess, work: () => Promise<void>): Promise<IngesterWindow> {
  const counters = async (): Promise<Map<string, number>> => {
    const text = await (await fetch(`${app.base}/metrics`)).text();
    return new Map(COUNTERS.map((c) => [c, metricValue(text, c)]));
  };
  const before = await counters();
  const cpu0 = cpuSeconds(app.pid);
  const t0 = performance.now();
  await work();
  const cpuSec = cpuSeconds(app.pid) - cpu0;
  const wallSec = (performance.now() - t0) / 1000;
  const after = await counters();
  const delta = Object.fromEntries(COUNTERS.map((c) => [c, (after.get(c) ?? 0) - (before.get(c) ?? 0)]));
  return { cpuSec, wallSec, rows: delta['firn_ingester_segment_rows_total'], counters: delta };
}

const MEMORY_GAUGES = [
  'firn_ingester_held_bytes',
  'firn_ingester_nodejs_heap_size_total_bytes',
  'firn_ingester_nodejs_heap_size_used_bytes',
  'firn_ingester_nodejs_external_memory_bytes',
  'firn_ingester_parquet_wasm_memory_bytes',
];

const mib = (b: number): string => `${(b / 2 ** 20).toFixed(0)} MiB`;

async function main(): Promise<void> {
  log(`preparing fleet-1h: steady ${agents} agents × ${steadyWindows} windows, backlog ${agents} agents × ${windows} windows`);
  const steady = prepareSlice({ seed: seed + 1, agents, windows: steadyWindows }, { arrow: true, pprof: false });
  const backlog = prepareSlice({ seed, agents, windows }, { arrow: true, pprof: false });
  log(
    `prepared: backlog ${backlog.windows.length} requests, ${backlog.rows} rows, ${backlog.samples} samples, Arrow ${(backlog.arrowBytes / 1e6).toFixed(0)} MB`,
  );

  // No ingest rate limit: the backlog is pushed as fast as the gateway takes it (the limit is not what is measured).
  const cluster = await startCluster({ storage: 'local', tenants: [STEADY, BACKLOG], ingesterEnv, gatewayEnv: { FIRN_INGEST_RATE_BYTES: '0' } });
  let second: AppProcess | undefined;
  try {
    // Warm-up and steady rate, with the ingester keeping up.
    await push(cluster, STEADY, { ...steady, windows: steady.windows.slice(0, Math.min(100, steady.windows.length)) });
    await waitForDrained(cluster.bus, deadline - Date.now());
    const steadyRun = await measure(cluster.ingester, async () => {
      await push(cluster, STEADY, steady);
      await waitForDrained(cluster.bus, deadline - Date.now());
    });
    log(`steady: ${steadyRun.rows} rows in ${steadyRun.cpuSec.toFixed(1)} ingester CPU-s`);

    await cluster.ingester.proc.stop();
    log(`ingester stopped; pushing the backlog`);
    const t0 = performance.now();
    await push(cluster, BACKLOG, backlog);
    const backlogState = await ingestBacklog(cluster.bus);
    const stream = await cluster.bus.streamState(INGEST_STREAM);
    log(`backlog of ${backlogState.pending} messages pushed in ${((performance.now() - t0) / 1000).toFixed(0)} s; starting a fresh ingester`);

    // The fresh process starts consuming during bootstrap: its counters say what it did before
    // the measurement starts (rows are counted from its own metric, so nothing is double counted).
    second = await startFirnApp('ingester', { ...cluster.env, FIRN_INGESTER_ID: 'bench-ingester-2', ...ingesterEnv });
    const app = second;
    resetPeakRss(app.pid);
    let maxRss = 0;
    // Where the memory is: the process's own gauges, at their highest while draining.
    const maxGauge = new Map<string, number>(MEMORY_GAUGES.map((g) => [g, 0]));
    let scraping = false;
    const sampler = setInterval(() => {
      maxRss = Math.max(maxRss, statusKb(app.pid, 'VmRSS') * 1024);
      if (scraping) return;
      scraping = true;
      void fetch(`${app.base}/metrics`)
        .then(async (r) => {
          const text = await r.text();
          for (const g of MEMORY_GAUGES) maxGauge.set(g, Math.max(maxGauge.get(g) ?? 0, metricValue(text, g)));
        })
        .catch(() => undefined)
        .finally(() => (scraping = false));
    }, 250);
    const drain = await measure(app, () => waitForDrained(cluster.bus, deadline - Date.now()));
    clearInterval(sampler);
    const hwm = peakRssBytes(app.pid);
    const consumer = await cluster.bus.consumerState(INGEST_STREAM, INGEST_CONSUMER);
    const stored = await verify(cluster, BACKLOG, backlog);
    await verify(cluster, STEADY, steady);

    const steadyRate = steadyRun.rows / steadyRun.cpuSec;
    const drainRate = drain.rows / drain.cpuSec;
    const samplesPerRow = backlog.samples / backlog.rows;
    const c = drain.counters;
    const table = [
      '| backlog drain (one ingester) | measured |',
      '|---|---|',
      `| backlog | ${backlogState.pending.toLocaleString('en-US')} messages, ${(stream.bytes / 1e6).toFixed(0)} MB in the log, ${backlog.rows.toLocaleString('en-US')} rows / ${backlog.samples.toLocaleString('en-US')} samples (${windows} windows × ${agents} agents) |`,
      `| ingester settings | ${
        Object.keys(ingesterEnv).length
          ? Object.entries(ingesterEnv)
              .map(([k, v]) => `${k}=${v}`)
              .join(', ')
          : 'defaults'
      } |`,
      `| drained in (wall, after ready) | ${drain.wallSec.toFixed(1)} s |`,
      `| ingester CPU while draining | ${drain.cpuSec.toFixed(1)} s |`,
      `| rows per ingester CPU-s: draining / steady (same run) | ${(drainRate / 1000).toFixed(1)} k / ${(steadyRate / 1000).toFixed(1)} k = ${(drainRate / steadyRate).toFixed(2)}× |`,
      `| samples per ingester CPU-s while draining | ${((drainRate * samplesPerRow) / 1000).toFixed(1)} k |`,
      `| peak RSS while draining: VmHWM / max sampled VmRSS | ${mib(hwm)} / ${mib(maxRss)} |`,
      `| highest while draining: held writes (estimate) / V8 heap total / heap used / external (typed arrays, wasm) / parquet-wasm | ${MEMORY_GAUGES.map((g) => mib(maxGauge.get(g) ?? 0)).join(' / ')} |`,
      `| redelivered while held / duplicates / consumer redeliveries | ${c['firn_ingester_messages_total{outcome="redelivered_while_held"}']} / ${c['firn_ingester_messages_total{outcome="duplicate"}']} / ${consumer.redelivered} |`,
      `| paused at the memory budget | ${c['firn_ingester_budget_waits_total']} times |`,
      `| segments written / conflicts | ${c['firn_ingester_segments_total{outcome="ok"}']} / ${c['firn_ingester_segments_total{outcome="conflict"}']} (stored: ${stored.segments} segments, ${Math.round(stored.rows / stored.segments).toLocaleString('en-US')} rows each) |`,
      `| stored totals = pushed totals | yes (every series × stack, both tenants) |`,
    ].join('\n');
    const machine = machineNotes();
    process.stdout.write(
      `\n${table}\n\nmachine: nproc ${machine.nproc}, ${machine.cpuModel}, node ${machine.node}, ${machine.date}, commit ${machine.commit}\n`,
    );
    if (args.json) {
      writeFileSync(
        resolve(args.json),
        JSON.stringify(
          {
            windows,
            agents,
            ingesterEnv,
            backlog: backlogState,
            streamBytes: stream.bytes,
            steady: steadyRun,
            drain,
            hwm,
            maxRss,
            maxGauge: Object.fromEntries(maxGauge),
            consumer,
            stored,
            machine,
          },
          null,
          2,
        ),
      );
    }
  } finally {
    await second?.proc.stop().catch(() => undefined);
    await cluster.stop();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    log(`FAILED: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    process.exit(1);
  },
);

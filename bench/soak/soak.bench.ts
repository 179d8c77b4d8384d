// Soak benchmark (docs/benchmarks.md, "Soak"): fleet-1h's 100 agents at their real rate (one
// WriteArrow per agent every 10 s) for 30 minutes against a gateway, two ingesters, a querier and
// a compactor (each its own process, NATS JetStream, local storage), with a component restarted every 5
// minutes (gateway SIGTERM, ingester SIGKILL, NATS stop/start, gateway SIGKILL, ingester SIGTERM).
// Clients retry like the agent (same bytes, honouring Retry-After). Every 20 s it samples each
// process's RSS, JS heap, parquet-wasm memory and open file descriptors, and the ingest log's backlog; a query runs
// every 30 s. At the end it checks that every stored total equals what was sent exactly once,
// fits a line to each long-lived process's RSS and heap after warm-up, and fails (exit 1) on a
// loss, a double count, or growth.
//
//   node scripts/run-ts.cjs bench/soak/soak.bench.ts [--minutes 30] [--agents 100] [--restart-every-min 5] [--log-level warn] [--write-docs] [--samples-out FILE]
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { create } from '@bufbuild/protobuf';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import { Code, ConnectError, createClient, type Interceptor } from '@connectrpc/connect';
import { createGrpcTransport } from '@connectrpc/connect-node';
import { connectBus, type Bus } from '@firn/bus';
import { samplesToArrow, stackKey, type Frame } from '@firn/profiles';
import { profilestoreV1alpha1, queryV1alpha1 } from '@firn/proto';
import { seriesKeyOf } from '@firn/segments';
import { LocalDirStore } from '@firn/storage';
import { Scope, issueToken, writeTokenFile } from '@firn/tenancy';
import { freePort, makeTempDir, removeDir, startNats, type TestNats } from '@firn/testing';
import { FLEET_PROFILE_TYPE, fleetWindows } from '../fleet/fleet-1h';
import { ingestBacklog, startFirnApp, waitForDrained, type AppProcess } from '../ingest/cluster';
import { percentile } from '../ingest/load';
import { machineNotes, upsertDocSection } from '../ingest/report';
import { diffTotals, storedSummary } from '../ingest/verify';

const ROOT = resolve(__dirname, '..', '..');
const DOCS = resolve(ROOT, 'docs/benchmarks.md');
const TENANT = 'soak';
const WINDOW_SEC = 10;
const SAMPLE_EVERY_MS = 20_000;
const QUERY_EVERY_MS = 30_000;
/** Samples in each process's first minutes are warm-up (JIT, caches filling) and not fitted. */
const WARMUP_MS = 5 * 60_000;

const { values: args } = parseArgs({
  options: {
    minutes: { type: 'string', default: '30' },
    agents: { type: 'string', default: '100' },
    'restart-every-min': { type: 'string', default: '5' },
    'write-docs': { type: 'boolean', default: false },
    'log-level': { type: 'string', default: 'warn' },
    /** Every sample (per process and the backlog) as JSON, for a closer look after the run. */
    'samples-out': { type: 'string' },
  },
  strict: true,
});
const minutes = Number(args.minutes);
const agents = Number(args.agents);
const restartEveryMs = Number(args['restart-every-min']) * 60_000;
if (!(minutes > 0 && agents > 0 && restartEveryMs > 0)) throw new Error('--minutes, --agents and --restart-every-min must be positive');

interface Sample {
  atMs: number;
  component: string;
  pid: number;
  rssMb: number;
  heapMb: number;
  /** parquet-wasm's linear memory (outside the heap); NaN where the process has none. */
  wasmMb: number;
  fds: number;
}

function rssMb(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m?.[1] ?? NaN) / 1024;
}

function fdCount(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

/** The JS heap in use and parquet-wasm's memory, in MB, from the process's own /metrics. */
async function memoryMb(base: string, component: string): Promise<{ heapMb: number; wasmMb: number }> {
  const text = await (await fetch(`${base}/metrics`, { signal: AbortSignal.timeout(5000) })).text();
  const mb = (metric: string) => Number(new RegExp(`^firn_${component}_${metric} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN) / 2 ** 20;
  return { heapMb: mb('nodejs_heap_size_used_bytes'), wasmMb: mb('parquet_wasm_memory_bytes') };
}

/** Backlog median and max per quarter of the samples (taken at a fixed interval, so quarters of the run). */
function backlogText(backlog: number[]): string {
  if (backlog.length === 0) return 'not sampled';
  const parts: string[] = [];
  for (let q = 0; q < 4; q++) {
    const inQ = backlog.slice(Math.floor((q * backlog.length) / 4), Math.floor(((q + 1) * backlog.length) / 4));
    if (inQ.length > 0) parts.push(`Q${q + 1} median ${percentile(inQ, 0.5).toFixed(0)}, max ${Math.max(...inQ)}`);
  }
  return parts.join('; ');
}

/** Medians of the first and the last quarter of evenly spaced samples. */
function firstAndLastQuarter(xs: number[]): [number, number] {
  const q = Math.ceil(xs.length / 4);
  return [percentile(xs.slice(0, q), 0.5), percentile(xs.slice(-q), 0.5)];
}

/** Least-squares slope of y over x (x in hours): MB per hour. */
function slopePerHour(points: Array<{ atMs: number; v: number }>): number {
  const xs = points.map((p) => p.atMs / 3600_000);
  const n = xs.length;
  if (n < 3) return NaN;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = points.reduce((a, p) => a + p.v, 0) / n;
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    num += (xs[i] - mx) * (points[i].v - my);
    den += (xs[i] - mx) ** 2;
  }
  return num / den;
}

async function main(): Promise<void> {
  const dir = makeTempDir('bench-soak');
  const natsDir = join(dir, 'nats');
  const dataDir = join(dir, 'data');
  let nats: TestNats = await startNats({ dataDir: natsDir });
  const issued = issueToken(TENANT, [Scope.WriteProfiles, Scope.ReadProfiles]);
  await writeTokenFile(join(dir, 'tokens.json'), [issued.record]);
  const env = {
    FIRN_NATS_URL: nats.url,
    FIRN_STORAGE: 'local',
    FIRN_DATA_DIR: dataDir,
    FIRN_TOKENS_FILE: join(dir, 'tokens.json'),
    FIRN_LOG_LEVEL: args['log-level'] ?? 'warn',
    FIRN_INGESTER_ACK_WAIT_MS: '10000',
  };
  const gatewayPort = await freePort();
  const apps: Record<string, AppProcess> = {
    gateway: await startFirnApp('gateway', env, [], gatewayPort),
    'ingester-a': await startFirnApp('ingester', { ...env, FIRN_INGESTER_ID: 'soak-a' }),
    'ingester-b': await startFirnApp('ingester', { ...env, FIRN_INGESTER_ID: 'soak-b' }),
    querier: await startFirnApp('querier', { ...env, FIRN_SYMBOL_CACHE: 'memory' }),
    compactor: await startFirnApp('compactor', env),
  };
  const componentOf = (name: string): string => name.replace(/-[ab]$/, '');
  const started: Record<string, number> = Object.fromEntries(Object.keys(apps).map((k) => [k, Date.now()]));
  const bus: Bus = await connectBus({ servers: [nats.url], name: 'firn-soak' });
  const store = new LocalDirStore({ dir: join(dataDir, 'objects') });
  const gatewayBase = `http://127.0.0.1:${gatewayPort}`;
  const bearer: Interceptor = (next) => (req) => {
    req.header.set('authorization', `Bearer ${issued.token}`);
    return next(req);
  };
  const auth = { interceptors: [bearer] };
  const writer = createClient(profilestoreV1alpha1.ProfileStoreService, createGrpcTransport({ baseUrl: gatewayBase, ...auth }));

  const samples: Sample[] = [];
  /** The ingest log's backlog (pending + unacked) at each sampling: what tells a growing buffer from a leak. */
  const backlog: number[] = [];
  const latencies: number[] = [];
  const events: string[] = [];
  const refusals = new Map<string, number>();
  let retries = 0;
  let withoutRetryAfter = 0;
  let queries = 0;
  let queryFailures = 0;
  let sent = 0;
  const expected = new Map<string, number>();
  const stackKeys = new Map<Frame[], string>();
  const t0 = Date.now();
  const endAt = t0 + minutes * 60_000;
  const log = (msg: string): void => {
    const line = `[${((Date.now() - t0) / 60_000).toFixed(1)} min] ${msg}`;
    events.push(line);
    console.log(line);
  };

  async function send(ipcBuffer: Uint8Array): Promise<void> {
    const start = performance.now();
    for (let attempt = 1; ; attempt++) {
      try {
        await writer.writeArrow({ ipcBuffer }, { timeoutMs: 15_000 });
        latencies.push(performance.now() - start);
        return;
      } catch (err) {
        const e = ConnectError.from(err);
        if (e.code === Code.InvalidArgument || e.code === Code.PermissionDenied || e.code === Code.Unauthenticated) throw e;
        const ra = e.metadata.get('retry-after');
        const kind = `${Code[e.code]}${ra === null ? '' : ' (Retry-After)'}`;
        refusals.set(kind, (refusals.get(kind) ?? 0) + 1);
        if (
          ra === null &&
          (e.code === Code.Unavailable || e.code === Code.ResourceExhausted) &&
          !/fetch failed|ECONNREFUSED|stream|socket|GOAWAY|closed/i.test(e.rawMessage)
        )
          withoutRetryAfter++;
        retries++;
        if (attempt > 500) throw new Error(`not accepted after 500 attempts: ${e.message}`);
        await sleep(Math.min(2000, ra === null ? 250 * attempt : Number(ra) * 1000) * (0.5 + Math.random() / 2));
      }
    }
  }

  // The load: every agent's window, at the window's real time, spread over its 10 s.
  const windows = Math.ceil((minutes * 60) / WINDOW_SEC);
  const inflight = new Set<Promise<void>>();
  const load = (async () => {
    for (const { agent, window, batch } of fleetWindows({ agents, windows, windowSec: WINDOW_SEC, startMs: t0 })) {
      const at = t0 + window * WINDOW_SEC * 1000 + (agent * WINDOW_SEC * 1000) / agents;
      if (at > Date.now()) await sleep(at - Date.now());
      const seriesKeys = batch.series.map((s) => seriesKeyOf(s));
      for (let i = 0; i < batch.length; i++) {
        const frames = batch.stacks[batch.stack[i]];
        let sk = stackKeys.get(frames);
        if (sk === undefined) {
          sk = stackKey(frames);
          stackKeys.set(frames, sk);
        }
        const key = `${FLEET_PROFILE_TYPE}|${seriesKeys[batch.seriesIdx[i]]}|${sk}`;
        expected.set(key, (expected.get(key) ?? 0) + batch.value[i]);
      }
      const p = send(samplesToArrow(batch)).then(() => void sent++);
      inflight.add(p);
      void p.finally(() => inflight.delete(p));
    }
    await Promise.all(inflight);
  })();

  // Restarts, one component every restartEveryMs, in this order.
  const plan: Array<[string, () => Promise<void>]> = [
    ['gateway SIGTERM + restart', async () => restartApp('gateway', 'SIGTERM')],
    ['ingester-a SIGKILL + restart', async () => restartApp('ingester-a', 'SIGKILL')],
    [
      'NATS stopped 5 s + restarted',
      async () => {
        const port = nats.port;
        await nats.stop();
        await sleep(5000);
        nats = await startNats({ dataDir: natsDir, port });
      },
    ],
    ['gateway SIGKILL + restart', async () => restartApp('gateway', 'SIGKILL')],
    ['ingester-a SIGTERM + restart', async () => restartApp('ingester-a', 'SIGTERM')],
  ];
  async function restartApp(name: string, signal: NodeJS.Signals): Promise<void> {
    const old = apps[name];
    process.kill(old.pid, signal);
    await old.proc.exited;
    await old.proc.stop();
    const kind = name === 'gateway' ? 'gateway' : name.startsWith('ingester') ? 'ingester' : 'querier';
    apps[name] = await startFirnApp(
      kind,
      name.startsWith('ingester') ? { ...env, FIRN_INGESTER_ID: `soak-${name.slice(-1)}-${Date.now()}` } : env,
      [],
      name === 'gateway' ? gatewayPort : undefined,
    );
    started[name] = Date.now();
  }
  const restarts = (async () => {
    for (let i = 0; Date.now() + restartEveryMs < endAt; i++) {
      await sleep(restartEveryMs);
      const [what, run] = plan[i % plan.length];
      log(`${what}…`);
      const before = Date.now();
      await run();
      log(`${what} done in ${((Date.now() - before) / 1000).toFixed(1)} s`);
    }
  })();

  // Sampling and queries until the load is sent.
  const querierClient = () => createClient(queryV1alpha1.QueryService, createGrpcTransport({ baseUrl: apps['querier'].base, ...auth }));
  let lastQuery = 0;
  let loadDone = false;
  void load.then(() => (loadDone = true));
  while (!loadDone) {
    const now = Date.now();
    for (const [name, app] of Object.entries(apps)) {
      try {
        samples.push({
          atMs: now,
          component: name,
          pid: app.pid,
          rssMb: rssMb(app.pid),
          ...(await memoryMb(app.base, componentOf(name))),
          fds: fdCount(app.pid),
        });
      } catch {
        // restarting right now
      }
    }
    try {
      samples.push({ atMs: now, component: 'nats-server', pid: nats.pid, rssMb: rssMb(nats.pid), heapMb: NaN, wasmMb: NaN, fds: fdCount(nats.pid) });
      const { pending, unacked } = await ingestBacklog(bus);
      backlog.push(pending + unacked);
    } catch {
      // restarting
    }
    if (now - lastQuery >= QUERY_EVERY_MS) {
      lastQuery = now;
      queries++;
      try {
        await querierClient().query(
          create(queryV1alpha1.QueryRequestSchema, {
            mode: queryV1alpha1.QueryRequest_Mode.MERGE,
            options: {
              case: 'merge',
              value: create(queryV1alpha1.MergeProfileSchema, {
                query: `${FLEET_PROFILE_TYPE}{}`,
                start: timestampFromMs(now - 5 * 60_000),
                end: timestampFromMs(now),
              }),
            },
            reportType: queryV1alpha1.QueryRequest_ReportType.TOP,
          }),
          { timeoutMs: 20_000 },
        );
      } catch (err) {
        queryFailures++;
        log(`query failed: ${String(err).slice(0, 200)}`);
      }
    }
    await Promise.race([sleep(SAMPLE_EVERY_MS), load]);
  }
  await load;
  await restarts;
  log(`load sent: ${sent} requests; draining`);
  await waitForDrained(bus, 600_000);
  const stored = await storedSummary(bus, store, TENANT);
  const diff = diffTotals(expected, stored.totals);

  // Growth: per long-lived process (one pid), the fit over samples after its warm-up.
  const byPid = new Map<number, Sample[]>();
  for (const s of samples) byPid.set(s.pid, [...(byPid.get(s.pid) ?? []), s]);
  const rows: string[] = [];
  let growthProblems = 0;
  for (const [pid, list] of byPid) {
    const first = list[0];
    const steady = list.filter((s) => s.atMs - first.atMs >= WARMUP_MS);
    const lifeMin = (list[list.length - 1].atMs - first.atMs) / 60_000;
    if (steady.length < 10) continue;
    const rss = slopePerHour(steady.map((s) => ({ atMs: s.atMs, v: s.rssMb })));
    const heap = slopePerHour(steady.filter((s) => Number.isFinite(s.heapMb)).map((s) => ({ atMs: s.atMs, v: s.heapMb })));
    const fds = steady.map((s) => s.fds);
    const [rssFirst, rssLast] = firstAndLastQuarter(steady.map((s) => s.rssMb));
    const wasm = steady.map((s) => s.wasmMb).filter(Number.isFinite);
    const wasmText =
      wasm.length > 0
        ? firstAndLastQuarter(wasm)
            .map((v) => v.toFixed(0))
            .join(' → ')
        : '—';
    // Growth = the last quarter's median RSS over the first's by more than 15 % and 30 MB.
    const grows = rssLast > rssFirst * 1.15 && rssLast - rssFirst > 30;
    if (grows) growthProblems++;
    rows.push(
      `| ${first.component} (pid ${pid}) | ${lifeMin.toFixed(0)} | ${rssFirst.toFixed(0)} → ${rssLast.toFixed(0)} | ${rss.toFixed(1)} | ${Number.isFinite(heap) ? heap.toFixed(1) : '—'} | ${wasmText} | ${Math.min(...fds)}–${Math.max(...fds)} | ${grows ? '❌ grows' : '✅ flat'} |`,
    );
  }
  const machine = machineNotes();
  const refusalText = [...refusals].map(([k, v]) => `${k}: ${v}`).join(', ') || 'none';
  const section = [
    `### Soak: ${minutes} min, ${agents} agents at the fleet rate, a restart every ${restartEveryMs / 60_000} min`,
    '',
    `Run ${machine.date} on ${machine.nproc} CPUs (${machine.cpuModel}), ${machine.memGiB} GiB, Node ${machine.node}, commit ${machine.commit}; load average at the end ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}.`,
    `Rerun: \`node scripts/run-ts.cjs bench/soak/soak.bench.ts --minutes ${minutes} --agents ${agents} --restart-every-min ${restartEveryMs / 60_000}\`.`,
    '',
    `- Requests: ${sent} WriteArrow (${(sent / (minutes * 60)).toFixed(1)}/s), ${retries} retries (${refusalText}); refusals of a live gateway without Retry-After: ${withoutRetryAfter}.`,
    `- Ack latency (first attempt to acceptance, retries included): p50 ${percentile(latencies, 0.5).toFixed(0)} ms, p99 ${percentile(latencies, 0.99).toFixed(0)} ms.`,
    `- Restarts: ${events
      .filter((e) => e.includes('done in'))
      .map((e) => e.replace(/^\[(\S+) min\] /, '$1 min: '))
      .join('; ')}.`,
    `- Queries during the run: ${queries}, failed: ${queryFailures}.`,
    `- Ingest log backlog (messages not yet pulled + pulled but unacked, sampled every ${SAMPLE_EVERY_MS / 1000} s): ${backlogText(backlog)}.`,
    `- Stored: ${stored.segments} segments, ${stored.rows} rows, ${stored.samples} samples; totals ${diff.count === 0 ? '**exactly equal** to what was sent (nothing lost, nothing counted twice)' : `**differ in ${diff.count} keys**: ${diff.examples.join('; ')}`}.`,
    '',
    `Per process, from ${WARMUP_MS / 60_000} min after its start (samples every ${SAMPLE_EVERY_MS / 1000} s): RSS median of the first and last quarter, least-squares slopes, parquet-wasm's WebAssembly memory (outside the JS heap; it never shrinks), open file descriptors.`,
    '',
    '| process | minutes | RSS MB (first → last quarter) | RSS slope MB/h | heap slope MB/h | parquet-wasm MB (first → last quarter) | open fds | |',
    '|---|---|---|---|---|---|---|---|',
    ...rows,
  ].join('\n');
  console.log(`\n${section}\n`);
  if (args['write-docs']) upsertDocSection(DOCS, 'soak', section);
  if (args['samples-out']) writeFileSync(args['samples-out'], JSON.stringify({ samples, backlog, events }, null, 1));

  await bus.close();
  await store.close();
  for (const app of Object.values(apps)) await app.proc.stop();
  await nats.stop();
  removeDir(dir);
  if (diff.count > 0 || growthProblems > 0) process.exit(1);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});

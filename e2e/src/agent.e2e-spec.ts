import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { create } from '@bufbuild/protobuf';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import { createClient } from '@connectrpc/connect';
import { createGrpcTransport } from '@connectrpc/connect-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { debuginfoV1alpha1, queryV1alpha1 } from '@firn/proto';
import { Scope, issueToken, writeTokenFile } from '@firn/tenancy';
import {
  bpfUnavailable,
  freePort,
  spawnServer,
  startNats,
  startRedis,
  startS3Server,
  type S3Server,
  type ServerProcess,
  type TestNats,
  type TestRedis,
} from '@firn/testing';
import { ROOT, startApp, type RunningApp } from './support/apps';
import { waitUntil } from './support/poll';
import { CPU_TYPE as CPU_PROFILE_TYPE } from './support/profiles-data';
import { bearer, makeTokens, s3Env } from './support/write-path';

const Q = queryV1alpha1;
const FREQ = 199;
const OUTAGE_MS = 30_000;

/**
 * 75 % of its CPU time in hot75, 25 % in cold25, by thread CPU-time budgets (immune to load).
 * Each cycle's length is random (5-15 ms of CPU, same 3:1 split): a fixed 10 ms cycle can phase-
 * lock with the sampling timer and the scheduler on a loaded machine and bias the measured split.
 * spin() is shared, so the split is hot75 vs cold25 cumulative. -O0: gcc 12 drops the frame of a
 * leaf like spin() at -O1 even with -mno-omit-leaf-frame-pointer, and frame-pointer unwinding
 * then skips its caller.
 */
const HOTCOLD_C = `
#include <time.h>
static double cpu_ms(void) { struct timespec t; clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t); return t.tv_sec * 1e3 + t.tv_nsec / 1e6; }
volatile unsigned long sink;
__attribute__((noinline)) void spin(void) { for (int i = 0; i < 20000; i++) sink = sink * 2654435761u + i; }
__attribute__((noinline)) void hot75(double ms) { double end = cpu_ms() + ms; while (cpu_ms() < end) spin(); }
__attribute__((noinline)) void cold25(double ms) { double end = cpu_ms() + ms; while (cpu_ms() < end) spin(); }
static unsigned seed = 12345;
static double jitter(void) { seed = seed * 1103515245u + 12345u; return 0.5 + ((seed >> 16) & 0x7fff) / 32767.0; }
int main(void) { for (;;) { double k = jitter(); hot75(7.5 * k); cold25(2.5 * k); } }
`;

const JS_WORKLOAD = `
function firnJsHotLoop(n) { let x = 0; for (let i = 0; i < n; i++) x = (x * 31 + i) % 1000003; return x; }
let s = 0; for (;;) s += firnJsHotLoop(1e6);
`;

/** Compiles HOTCOLD_C (-O0, frame pointers, debug info, a GNU build id) to `path`. */
async function compileHotcold(path: string): Promise<void> {
  await writeFile(`${path}.c`, HOTCOLD_C);
  execFileSync('gcc', ['-O0', '-g', '-fno-omit-frame-pointer', '-mno-omit-leaf-frame-pointer', '-Wl,--build-id', '-o', path, `${path}.c`]);
}

/** Cumulative samples per function name in a merged TOP report (and the mapping file of each). */
async function topReport(
  querierBase: string,
  token: string,
  selector: string,
  fromMs: number,
  toMs: number,
): Promise<{ byName: Map<string, number>; mappingOf: Map<string, string> }> {
  const q = createClient(Q.QueryService, createGrpcTransport({ baseUrl: querierBase, interceptors: [bearer(token)] }));
  const res = await q.query(
    create(Q.QueryRequestSchema, {
      mode: Q.QueryRequest_Mode.MERGE,
      options: {
        case: 'merge',
        value: create(Q.MergeProfileSchema, { query: `${CPU_PROFILE_TYPE}${selector}`, start: timestampFromMs(fromMs), end: timestampFromMs(toMs) }),
      },
      reportType: Q.QueryRequest_ReportType.TOP,
    }),
  );
  const byName = new Map<string, number>();
  const mappingOf = new Map<string, string>();
  for (const n of (res.report.value as queryV1alpha1.Top).list) {
    const name = n.meta?.function?.name ?? '';
    if (!name) continue;
    byName.set(name, (byName.get(name) ?? 0) + Number(n.cumulative));
    mappingOf.set(name, n.meta?.mapping?.file ?? '');
  }
  return { byName, mappingOf };
}

const unavailable = bpfUnavailable();
if (unavailable) console.warn(`agent e2e skipped: BPF unavailable here: ${unavailable}`);

/**
 * The eBPF agent end to end: a real gateway, ingester and querier (NATS + S3), the agent as its own
 * root process sampling the whole host, and two workloads with known profiles.
 */
describe.skipIf(unavailable !== undefined)('agent (eBPF) end to end', () => {
  let nats: TestNats;
  let s3: S3Server;
  let dir: string;
  let tokens: Record<string, string>;
  let env: Record<string, string>;
  let gateway: RunningApp;
  let others: RunningApp[] = [];
  let agent: ServerProcess;
  let agentMetricsPort: number;
  let hotcold: ChildProcess;
  let js: ChildProcess;
  let hotcoldPath: string;
  const startedMs = Date.now();
  /** hotcold's samples per second as measured in the first test (the host is shared). */
  let samplesPerSec = 0;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'firn-e2e-agent-'));
    hotcoldPath = join(dir, 'hotcold');
    await compileHotcold(hotcoldPath);
    [nats, s3] = await Promise.all([startNats(), startS3Server()]);
    tokens = await makeTokens(join(dir, 'tokens.json'), ['acme']);
    env = {
      FIRN_NATS_URL: nats.url,
      ...s3Env(s3),
      FIRN_TOKENS_FILE: join(dir, 'tokens.json'),
      FIRN_INGESTER_FLUSH_MAX_AGE_MS: '300',
      FIRN_SYMBOL_CACHE: 'memory',
    };
    [gateway, ...others] = await Promise.all([startApp('gateway', { env }), startApp('ingester', { env }), startApp('querier', { env })]);

    hotcold = spawn(hotcoldPath, [], { stdio: 'ignore' });
    js = spawn(process.execPath, ['--perf-basic-prof', '-e', JS_WORKLOAD], { stdio: 'ignore', cwd: dir });
    agentMetricsPort = await freePort();
    agent = await spawnServer({
      name: 'agent',
      command: process.execPath,
      args: [resolve(ROOT, 'scripts/run-ts.cjs'), resolve(ROOT, 'apps/agent/src/main.ts')],
      env: {
        FIRN_AGENT_GATEWAY_URL: gateway.base,
        FIRN_AGENT_TOKEN: tokens.acme,
        FIRN_AGENT_INTERVAL_MS: '2000',
        FIRN_AGENT_FREQUENCY_HZ: String(FREQ),
        FIRN_AGENT_NODE_NAME: 'e2e-node',
        FIRN_AGENT_LOCAL_SYMBOLS: 'true',
        FIRN_AGENT_METRICS_PORT: String(agentMetricsPort),
        FIRN_LOG_LEVEL: 'info',
      },
      ready: async () => (await fetch(`http://127.0.0.1:${agentMetricsPort}/healthz`)).status === 200,
      readyTimeoutMs: 60_000,
      stopTimeoutMs: 15_000,
    });
  }, 120_000);

  afterAll(async () => {
    hotcold?.kill('SIGKILL');
    js?.kill('SIGKILL');
    await agent?.stop();
    await Promise.all([gateway?.stop(), ...others.map((a) => a.stop())]);
    await Promise.all([nats?.stop(), s3?.stop()]);
    if (js?.pid) await rm(`/tmp/perf-${js.pid}.map`, { force: true });
    if (dir) await rm(dir, { recursive: true, force: true });
  }, 60_000);

  const querier = () => createClient(Q.QueryService, createGrpcTransport({ baseUrl: others[1].base, interceptors: [bearer(tokens.acme)] }));

  const top = async (selector: string, fromMs: number, toMs: number) => (await topReport(others[1].base, tokens.acme, selector, fromMs, toMs)).byName;
  const waitFor = <T>(what: string, fn: () => Promise<T | undefined>, timeoutMs: number) =>
    waitUntil(what, fn, timeoutMs, () => `agent log:\n${agent.logTail(4000)}`);

  it('measures a 75/25 CPU split between two C functions within ±3 points, with pid/comm/executable labels', async () => {
    const sel = `{pid="${hotcold.pid}"}`;
    const shares = await waitFor(
      'enough hot75/cold25 samples',
      async () => {
        const t = await top(sel, startedMs - 60_000, Date.now() + 60_000);
        const hot = t.get('hot75') ?? 0;
        const cold = t.get('cold25') ?? 0;
        // 4000 samples: the binomial spread of the share is ~0.7 points, so ±3 is > 4 sigma.
        return hot + cold >= 4000 ? { hot, cold } : undefined;
      },
      120_000,
    );
    samplesPerSec = (shares.hot + shares.cold) / ((Date.now() - startedMs) / 1000);
    const hotShare = (100 * shares.hot) / (shares.hot + shares.cold);
    console.log(`hot75 ${shares.hot} / cold25 ${shares.cold} samples: ${hotShare.toFixed(1)} % hot`);
    expect(hotShare, `hot75 ${shares.hot} vs cold25 ${shares.cold}`).toBeGreaterThan(72);
    expect(hotShare).toBeLessThan(78);

    const q = querier();
    const values = async (labelName: string) => (await q.values({ labelName, profileType: CPU_PROFILE_TYPE })).labelValues;
    expect(await values('pid')).toContain(String(hotcold.pid));
    expect(await values('comm')).toContain('hotcold');
    expect(await values('executable')).toContain(hotcoldPath);
    expect(await values('node')).toEqual(['e2e-node']);
    const byComm = await top(`{comm="hotcold", executable="${hotcoldPath}"}`, startedMs - 60_000, Date.now() + 60_000);
    expect(byComm.get('hot75')).toBeGreaterThan(0);
  }, 180_000);

  it('names JavaScript functions of a node --perf-basic-prof process', async () => {
    const names = await waitFor(
      'JS function names',
      async () => {
        const t = await top(`{pid="${js.pid}"}`, startedMs - 60_000, Date.now() + 60_000);
        const hit = [...t.keys()].filter((n) => n.includes('firnJsHotLoop'));
        return hit.length ? hit : undefined;
      },
      60_000,
    );
    expect(names.some((n) => n.includes('firnJsHotLoop'))).toBe(true);
  }, 90_000);

  it('buffers while the gateway is down for 30 s and delivers that window once it is back', async () => {
    const port = gateway.port;
    await gateway.signal('SIGKILL');
    const downFrom = Date.now();
    await sleep(OUTAGE_MS);
    const downTo = Date.now();
    expect(agent.logTail(20_000)).toMatch(/will retry/);
    const health = await fetch(`http://127.0.0.1:${agentMetricsPort}/healthz`);
    expect(health.status).toBe(200);
    gateway = await startApp('gateway', { env, port });

    // Windows that started inside the outage: only the buffer can have delivered them.
    const from = downFrom + 2500;
    const to = downTo - 2500;
    const got = await waitFor(
      'samples from the outage window',
      async () => {
        const t = await top(`{pid="${hotcold.pid}"}`, from, to);
        const n = (t.get('hot75') ?? 0) + (t.get('cold25') ?? 0);
        // At least half the rate seen before the outage (the host is shared with other tests).
        return n >= 0.5 * samplesPerSec * ((to - from) / 1000) ? n : undefined;
      },
      60_000,
    );
    expect(got).toBeGreaterThan(0);
    expect(samplesPerSec).toBeGreaterThan(0);
    const metrics = await (await fetch(`http://127.0.0.1:${agentMetricsPort}/metrics`)).text();
    expect(Number(/^firn_agent_send_errors_total (\d+)/m.exec(metrics)?.[1])).toBeGreaterThan(0);
    expect(Number(/^firn_agent_lost_samples_total\{reason="buffer_full"\} (\d+)/m.exec(metrics)?.[1] ?? '0')).toBe(0);
  }, 150_000);
});

/**
 * Symbolization on the server, as in production: the built agent (dist/agent/firn-agent) sends
 * address-only user frames (no --local-symbols) and uploads the test binary's debug info through
 * the gateway's DebuginfoService (--debuginfo-upload); the symbolizer resolves the addresses from
 * that upload into Redis and the querier names hot75/cold25. Kernel frames keep the names the
 * agent gave them from kallsyms. A relabel rule keeps only the two workloads, so the agent does
 * not upload every binary on the host.
 */
describe.skipIf(unavailable !== undefined)('agent (eBPF) with server-side symbolization', () => {
  let nats: TestNats;
  let s3: S3Server;
  let redis: TestRedis;
  let dir: string;
  let token: string;
  const apps: RunningApp[] = [];
  let gateway: RunningApp;
  let querierApp: RunningApp;
  let symbolizer: RunningApp;
  let agent: ServerProcess;
  let agentMetricsPort: number;
  let hotcold: ChildProcess;
  let syscalls: ChildProcess;
  let hotcoldPath: string;
  let buildId: string;
  const startedMs = Date.now();

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'firn-e2e-agent-sym-'));
    // comm is cut to 15 characters: 'hotcoldsrv' stays whole.
    hotcoldPath = join(dir, 'hotcoldsrv');
    await compileHotcold(hotcoldPath);
    buildId = /Build ID: ([0-9a-f]+)/.exec(execFileSync('readelf', ['-n', hotcoldPath], { encoding: 'utf8' }))?.[1] ?? '';
    expect(buildId).toMatch(/^[0-9a-f]{40}$/);
    execFileSync(process.execPath, [resolve(ROOT, 'scripts/build-agent.cjs')], { stdio: 'ignore' });

    [nats, s3, redis] = await Promise.all([startNats(), startS3Server(), startRedis()]);
    const issued = issueToken('acme', [Scope.WriteProfiles, Scope.ReadProfiles, Scope.WriteDebuginfo]);
    token = issued.token;
    await writeTokenFile(join(dir, 'tokens.json'), [issued.record]);
    const env = {
      FIRN_NATS_URL: nats.url,
      ...s3Env(s3),
      FIRN_TOKENS_FILE: join(dir, 'tokens.json'),
      FIRN_INGESTER_FLUSH_MAX_AGE_MS: '300',
      FIRN_SYMBOL_CACHE: 'redis',
      FIRN_REDIS_URL: redis.url,
      FIRN_SYMBOLIZER_CACHE_DIR: join(dir, 'symbolizer-cache'),
    };
    [gateway, querierApp, symbolizer] = await Promise.all([startApp('gateway', { env }), startApp('querier', { env }), startApp('symbolizer', { env })]);
    apps.push(gateway, querierApp, symbolizer, await startApp('ingester', { env }));

    hotcold = spawn(hotcoldPath, [], { stdio: 'ignore' });
    // Mostly in the kernel (read of /dev/zero, write to /dev/null): stacks with kernel frames.
    syscalls = spawn('dd', ['if=/dev/zero', 'of=/dev/null', 'bs=1'], { stdio: 'ignore' });
    const relabelFile = join(dir, 'relabel.yaml');
    await writeFile(relabelFile, "relabel_configs:\n  - {action: keep, source_labels: [comm], regex: 'hotcoldsrv|dd'}\n");
    agentMetricsPort = await freePort();
    agent = await spawnServer({
      name: 'agent-built',
      command: resolve(ROOT, 'dist/agent/firn-agent'),
      args: [],
      env: {
        FIRN_NODE: process.execPath,
        FIRN_AGENT_GATEWAY_URL: gateway.base,
        FIRN_AGENT_TOKEN: token,
        FIRN_AGENT_INTERVAL_MS: '2000',
        FIRN_AGENT_FREQUENCY_HZ: String(FREQ),
        FIRN_AGENT_NODE_NAME: 'e2e-node',
        FIRN_AGENT_LOCAL_SYMBOLS: 'false',
        FIRN_AGENT_DEBUGINFO_UPLOAD: 'true',
        FIRN_AGENT_RELABEL_CONFIG_FILE: relabelFile,
        FIRN_AGENT_METRICS_PORT: String(agentMetricsPort),
        FIRN_LOG_LEVEL: 'info',
      },
      ready: async () => (await fetch(`http://127.0.0.1:${agentMetricsPort}/healthz`)).status === 200,
      readyTimeoutMs: 60_000,
      stopTimeoutMs: 15_000,
    });
  }, 180_000);

  afterAll(async () => {
    hotcold?.kill('SIGKILL');
    syscalls?.kill('SIGKILL');
    await agent?.stop();
    await Promise.all(apps.map((a) => a.stop()));
    await Promise.all([nats?.stop(), s3?.stop(), redis?.stop()]);
    if (dir) await rm(dir, { recursive: true, force: true });
  }, 60_000);

  const waitFor = <T>(what: string, fn: () => Promise<T | undefined>, timeoutMs: number) =>
    waitUntil(what, fn, timeoutMs, () => `agent log:\n${agent.logTail(4000)}`);
  const report = (selector: string) => topReport(querierApp.base, token, selector, startedMs - 60_000, Date.now() + 60_000);

  it("uploads the binary's debug info through the DebuginfoService", async () => {
    await waitFor(
      'the agent to upload debuginfo',
      async () => (agent.logTail(200_000).includes(buildId) && /uploaded debuginfo/.test(agent.logTail(200_000)) ? true : undefined),
      90_000,
    );
    const client = createClient(debuginfoV1alpha1.DebuginfoService, createGrpcTransport({ baseUrl: gateway.base, interceptors: [bearer(token)] }));
    const answer = await client.shouldInitiateUpload({ buildId, hash: 'any' });
    expect(answer.shouldInitiateUpload, answer.reason).toBe(false);
  }, 120_000);

  it('names hot75/cold25 on the server and measures the 75/25 split within ±3 points', async () => {
    const shares = await waitFor(
      'server-symbolized hot75/cold25 samples',
      async () => {
        const { byName } = await report(`{pid="${hotcold.pid}"}`);
        const hot = byName.get('hot75') ?? 0;
        const cold = byName.get('cold25') ?? 0;
        return hot + cold >= 4000 ? { hot, cold } : undefined;
      },
      150_000,
    );
    const hotShare = (100 * shares.hot) / (shares.hot + shares.cold);
    console.log(`server-symbolized: hot75 ${shares.hot} / cold25 ${shares.cold} samples: ${hotShare.toFixed(1)} % hot`);
    expect(hotShare, `hot75 ${shares.hot} vs cold25 ${shares.cold}`).toBeGreaterThan(72);
    expect(hotShare).toBeLessThan(78);
    const { mappingOf } = await report(`{pid="${hotcold.pid}"}`);
    expect(mappingOf.get('hot75')).toBe(hotcoldPath);
    // The names came from the symbolizer: the agent sent none (no --local-symbols).
    const m = await (await fetch(`${symbolizer.base}/metrics`)).text();
    expect(m).toMatch(/firn_symbolizer_addresses_total\{[^}]*outcome="resolved"[^}]*\} [1-9]/);
  }, 180_000);

  it('keeps kernel frames named by the agent from kallsyms', async () => {
    const kernelNames = await waitFor(
      'kernel frames of the syscall loop',
      async () => {
        const { byName, mappingOf } = await report(`{pid="${syscalls.pid}"}`);
        const names = [...byName.keys()].filter((n) => mappingOf.get(n) === '[kernel.kallsyms]');
        return names.length > 0 ? names : undefined;
      },
      60_000,
    );
    expect(
      kernelNames.some((n) => /read|write|syscall|entry/i.test(n)),
      kernelNames.join(', '),
    ).toBe(true);
  }, 90_000);
});

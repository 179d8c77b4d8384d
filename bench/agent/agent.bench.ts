// The agent's cost on a busy host, next to `perf record -F 19 -a -g` on the same workload.
//   sudo node scripts/run-ts.cjs bench/agent/agent.bench.ts [seconds=30] [--ts]
// The agent runs as built by scripts/build-agent.cjs (dist/agent/firn-agent, plain JS, V8 flags);
// --ts runs it through scripts/run-ts.cjs instead (SWC at run time, default V8 flags), as in dev.
// FIRN_BENCH_CPU_PROF=<dir> writes the agent's V8 CPU profile there (open in Chrome DevTools);
// FIRN_BENCH_NODE_ARGS adds node flags to the built agent (e.g. --max-semi-space-size=16).
// Both cores are kept busy by a stress loop per CPU (a deep call chain, so stacks are realistic).
// The agent ships to a real all-in-one (its CPU is not counted). Prints CPU % of the host
// (utime+stime over wall time × CPUs) and peak RSS for both profilers.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { cpus, loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { Scope, issueToken, writeTokenFile } from '@firn/tenancy';
import { freePort, makeTempDir, removeDir, spawnServer } from '@firn/testing';
import { cpuSeconds, peakRssBytes } from '../ingest/proc-stats';

const ROOT = resolve(__dirname, '..', '..');
const args = process.argv.slice(2);
const seconds = Number(args.find((a) => /^\d+$/.test(a)) ?? 30);
const viaTs = args.includes('--ts');
const cpuProfDir = process.env.FIRN_BENCH_CPU_PROF;
const ncpu = cpus().length;

const STRESS = `
function f(d, n) { if (d > 0) return f(d - 1, n) + 1; let x = 0; for (let i = 0; i < n; i++) x = (x * 31 + i) % 1000003; return x; }
let s = 0; for (;;) s += f(20 + (s % 7), 2e5);
`;

interface Figures {
  cpuPct: number;
  peakRssMiB: number;
  rssMiB: number;
}

function rssBytes(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : 0;
}

async function measure(pid: number, durationS: number): Promise<Figures> {
  const c0 = cpuSeconds(pid);
  const t0 = performance.now();
  await sleep(durationS * 1000);
  const c1 = cpuSeconds(pid);
  const wall = (performance.now() - t0) / 1000;
  return { cpuPct: (100 * (c1 - c0)) / (wall * ncpu), peakRssMiB: peakRssBytes(pid) / 2 ** 20, rssMiB: rssBytes(pid) / 2 ** 20 };
}

async function main(): Promise<void> {
  const dir = makeTempDir('firn-bench-agent-');
  const stress: ChildProcess[] = Array.from({ length: ncpu }, () => spawn(process.execPath, ['-e', STRESS], { stdio: 'ignore' }));
  const issued = issueToken('bench', [Scope.WriteProfiles, Scope.ReadProfiles]);
  await writeTokenFile(join(dir, 'tokens.json'), [issued.record]);
  const aioPort = await freePort();
  const aio = await spawnServer({
    name: 'all-in-one',
    command: process.execPath,
    args: [resolve(ROOT, 'scripts/run-ts.cjs'), resolve(ROOT, 'apps/all-in-one/src/main.ts'), '--data-dir', join(dir, 'data'), '--tokens-file', join(dir, 'tokens.json')],
    env: { FIRN_HOST: '127.0.0.1', FIRN_PORT: String(aioPort), FIRN_LOG_LEVEL: 'warn' },
    ready: async () => (await fetch(`http://127.0.0.1:${aioPort}/readyz`)).status === 200,
    readyTimeoutMs: 60_000,
  });
  const metricsPort = await freePort();
  if (!viaTs) execFileSync(process.execPath, [resolve(ROOT, 'scripts/build-agent.cjs')], { stdio: 'inherit' });
  const agent = await spawnServer({
    name: 'agent',
    command: viaTs ? process.execPath : resolve(ROOT, 'dist/agent/firn-agent'),
    args: viaTs ? [resolve(ROOT, 'scripts/run-ts.cjs'), resolve(ROOT, 'apps/agent/src/main.ts')] : [],
    env: {
      FIRN_NODE: process.execPath,
      FIRN_AGENT_GATEWAY_URL: `http://127.0.0.1:${aioPort}`,
      FIRN_AGENT_TOKEN: issued.token,
      FIRN_AGENT_METRICS_PORT: String(metricsPort),
      FIRN_LOG_LEVEL: 'warn',
      FIRN_NODE_ARGS: [cpuProfDir ? `--cpu-prof --cpu-prof-dir=${cpuProfDir}` : '', process.env.FIRN_BENCH_NODE_ARGS ?? ''].join(' ').trim(),
    },
    ready: async () => (await fetch(`http://127.0.0.1:${metricsPort}/healthz`)).status === 200,
    readyTimeoutMs: 60_000,
  });
  try {
    // Past start-up and the first two drains (first-time build-id reads, lazy module loads, JIT
    // warm-up): the figures are the steady state.
    const drainsDone = async () => Number(/^firn_agent_drain_duration_seconds_count (\S+)/m.exec(await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text())?.[1] ?? 0);
    for (let i = 0; i < 120 && (await drainsDone()) < 2; i++) await sleep(1000);
    await sleep(1000);
    const a = await measure(agent.pid, seconds);
    const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    const sent = /^firn_agent_bytes_sent_total (\S+)/m.exec(metrics)?.[1];
    const drains = /^firn_agent_drain_duration_seconds_sum (\S+)/m.exec(metrics)?.[1];
    const drainCount = /^firn_agent_drain_duration_seconds_count (\S+)/m.exec(metrics)?.[1];
    await agent.stop();

    const perfData = join(dir, 'perf.data');
    const perf = spawn('perf', ['record', '-F', '19', '-a', '-g', '-o', perfData, '--', 'sleep', String(seconds + 2)], { stdio: 'ignore' });
    await sleep(1000);
    const p = await measure(perf.pid as number, seconds);
    await new Promise((r) => perf.once('exit', r));

    console.log(`host: ${ncpu} CPUs, all busy; ${seconds} s per profiler; 19 Hz; load average ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
    console.log(`agent run ${viaTs ? 'through scripts/run-ts.cjs (SWC at run time)' : 'as dist/agent/firn-agent (built JS)'}`);
    console.log(`firn agent : CPU ${a.cpuPct.toFixed(2)} % of host, RSS ${a.rssMiB.toFixed(0)} MiB (peak ${a.peakRssMiB.toFixed(0)} MiB, incl. start-up), bytes sent ${sent}, mean drain ${(Number(drains) / Number(drainCount) * 1000).toFixed(1)} ms over ${drainCount} drains`);
    console.log(`perf record: CPU ${p.cpuPct.toFixed(2)} % of host, RSS ${p.rssMiB.toFixed(0)} MiB (peak ${p.peakRssMiB.toFixed(0)} MiB; while recording; excludes its exit-time build-id pass)`);
    await rm(perfData, { force: true });
  } finally {
    for (const s of stress) s.kill('SIGKILL');
    await agent.stop();
    await aio.stop();
    removeDir(dir);
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});

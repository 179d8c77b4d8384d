// The agent's cost on a busy host, with .eh_frame unwinding on and off, next to perf on the same
// workload (`perf record -F 19 -a -g` and `--call-graph dwarf`).
//   sudo node scripts/run-ts.cjs bench/agent/agent.bench.ts [seconds=30] [--ts] [--only=tables,fp,perf-fp,perf-dwarf]
// The agent runs as built by scripts/build-agent.cjs (dist/agent/firn-agent, plain JS, V8 flags);
// --ts runs it through scripts/run-ts.cjs instead (SWC at run time, default V8 flags), as in dev.
// FIRN_BENCH_CPU_PROF=<dir> writes the agent's V8 CPU profile there (open in Chrome DevTools);
// FIRN_BENCH_NODE_ARGS adds node flags to the built agent (e.g. --max-semi-space-size=16).
// Both cores are kept busy: a Node loop with a deep call chain (JIT code, frame pointers) and a C
// program built with -O2 -fomit-frame-pointer (a deep call chain through qsort: only unwind
// tables see its callers). The agent ships to a real all-in-one (its CPU is not counted). Prints
// CPU % of the host (utime+stime over wall time × CPUs) and RSS of each profiler; for the agent
// also the BPF program's own time (kernel.bpf_stats_enabled, switched on for the run: the program
// runs in the sampled task's context, so no process's CPU time shows it), the unwinding outcome,
// and the BPF map memory: fixed maps, and the unwind table of each binary of the workload.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { cpus, loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { readFileSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { Scope, issueToken, writeTokenFile } from '@firn/tenancy';
import { freePort, makeTempDir, removeDir, spawnServer } from '@firn/testing';
import { cpuSeconds, peakRssBytes } from '../ingest/proc-stats';

const ROOT = resolve(__dirname, '..', '..');
const args = process.argv.slice(2);
const seconds = Number(args.find((a) => /^\d+$/.test(a)) ?? 30);
const viaTs = args.includes('--ts');
const only = new Set((args.find((a) => a.startsWith('--only='))?.slice(7) ?? 'fp,tables,perf-fp,perf-dwarf').split(','));
const cpuProfDir = process.env.FIRN_BENCH_CPU_PROF;
const ncpu = cpus().length;

const STRESS = `
function f(d, n) { if (d > 0) return f(d - 1, n) + 1; let x = 0; for (let i = 0; i < n; i++) x = (x * 31 + i) % 1000003; return x; }
let s = 0; for (;;) s += f(20 + (s % 7), 2e5);
`;

/** A deep native call chain without frame pointers, partly through glibc's qsort. */
const NATIVE = `
#include <stdlib.h>
volatile unsigned long sink;
__attribute__((noinline)) void spin(int n) { for (int i = 0; i < n; i++) sink = sink * 2654435761u + i; }
__attribute__((noinline)) int cmp(const void *a, const void *b) { spin(3000); return *(const int *)a - *(const int *)b; }
__attribute__((noinline)) void rec(int d) { if (d == 0) { int v[32]; for (int i = 0; i < 32; i++) v[i] = (i * 7) % 32; qsort(v, 32, sizeof v[0], cmp); spin(200000); } else { rec(d - 1); sink++; } }
int main(void) { for (unsigned i = 0;; i++) rec(10 + i % 20); }
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

async function measure(pid: number, durationS: number): Promise<Figures & { wallS: number }> {
  const c0 = cpuSeconds(pid);
  const t0 = performance.now();
  await sleep(durationS * 1000);
  const c1 = cpuSeconds(pid);
  const wall = (performance.now() - t0) / 1000;
  return { cpuPct: (100 * (c1 - c0)) / (wall * ncpu), peakRssMiB: peakRssBytes(pid) / 2 ** 20, rssMiB: rssBytes(pid) / 2 ** 20, wallS: wall };
}

interface BpfProg {
  id: number;
  name: string;
  run_time_ns?: number;
  run_cnt?: number;
  map_ids?: number[];
}

function bpfProgs(): BpfProg[] {
  return JSON.parse(execFileSync('bpftool', ['prog', 'show', '-j'], { encoding: 'utf8', maxBuffer: 64 << 20 })) as BpfProg[];
}

function bpfMaps(): Array<{ id: number; name: string; type: string; bytes_memlock?: number; max_entries: number }> {
  return JSON.parse(execFileSync('bpftool', ['map', 'show', '-j'], { encoding: 'utf8', maxBuffer: 64 << 20 }));
}

const metric = (text: string, re: RegExp) => Number(re.exec(text)?.[1] ?? 0);
const fmtMiB = (b: number) => `${(b / 2 ** 20).toFixed(1)} MiB`;

async function runAgent(opts: { unwind: 'tables' | 'frame-pointers'; aioPort: number; token: string }): Promise<string> {
  const metricsPort = await freePort();
  const before = new Set(bpfProgs().map((p) => p.id));
  const agent = await spawnServer({
    name: `agent-${opts.unwind}`,
    command: viaTs ? process.execPath : resolve(ROOT, 'dist/agent/firn-agent'),
    args: viaTs ? [resolve(ROOT, 'scripts/run-ts.cjs'), resolve(ROOT, 'apps/agent/src/main.ts')] : [],
    env: {
      FIRN_NODE: process.execPath,
      FIRN_AGENT_GATEWAY_URL: `http://127.0.0.1:${opts.aioPort}`,
      FIRN_AGENT_TOKEN: opts.token,
      FIRN_AGENT_METRICS_PORT: String(metricsPort),
      FIRN_AGENT_UNWIND: opts.unwind,
      FIRN_LOG_LEVEL: 'warn',
      FIRN_NODE_ARGS: [cpuProfDir ? `--cpu-prof --cpu-prof-dir=${cpuProfDir}` : '', process.env.FIRN_BENCH_NODE_ARGS ?? ''].join(' ').trim(),
    },
    ready: async () => (await fetch(`http://127.0.0.1:${metricsPort}/healthz`)).status === 200,
    readyTimeoutMs: 120_000,
  });
  try {
    const scrape = async () => (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    // Past start-up, the first two drains and (with tables) the first table builds: the figures
    // are the steady state.
    for (let i = 0; i < 180 && metric(await scrape(), /^firn_agent_drain_duration_seconds_count (\S+)/m) < 2; i++) await sleep(1000);
    await sleep(opts.unwind === 'tables' ? 15_000 : 1000);
    const prog = bpfProgs().find((p) => p.name === 'firn_sample' && !before.has(p.id));
    const p0 = prog ? bpfProgs().find((p) => p.id === prog.id) : undefined;
    const m0 = await scrape();
    const a = await measure(agent.pid, seconds);
    const p1 = prog ? bpfProgs().find((p) => p.id === prog.id) : undefined;
    const m = await scrape();
    const d = (re: RegExp) => metric(m, re) - metric(m0, re);
    const runNs = (p1?.run_time_ns ?? 0) - (p0?.run_time_ns ?? 0);
    const runs = (p1?.run_cnt ?? 0) - (p0?.run_cnt ?? 0);
    const drains = d(/^firn_agent_drain_duration_seconds_sum (\S+)/m);
    const drainCount = d(/^firn_agent_drain_duration_seconds_count (\S+)/m);
    const lines = [
      `firn agent --unwind=${opts.unwind}: CPU ${a.cpuPct.toFixed(2)} % of host, RSS ${a.rssMiB.toFixed(0)} MiB (peak ${a.peakRssMiB.toFixed(0)} MiB, incl. start-up), ` +
        `bytes sent ${d(/^firn_agent_bytes_sent_total (\S+)/m)}, mean drain ${((1000 * drains) / Math.max(1, drainCount)).toFixed(1)} ms over ${drainCount} drains`,
      `  BPF program: ${runs} runs, ${(runNs / Math.max(1, runs) / 1000).toFixed(1)} µs each, ${((100 * runNs) / 1e9 / (a.wallS * ncpu)).toFixed(3)} % of host`,
    ];
    const table = d(/^firn_agent_unwind_frames_total\{method="table"\} (\S+)/m);
    const fp = d(/^firn_agent_unwind_frames_total\{method="frame_pointer"\} (\S+)/m);
    const complete = d(/^firn_agent_user_stacks_total\{outcome="complete"\} (\S+)/m);
    const truncated = d(/^firn_agent_user_stacks_total\{outcome="truncated"\} (\S+)/m);
    lines.push(
      `  user frames: ${table} by table, ${fp} by frame pointer; user stacks complete ${((100 * complete) / Math.max(1, complete + truncated)).toFixed(1)} % of ${complete + truncated}`,
    );
    if (opts.unwind === 'tables') {
      lines.push(
        `  unwind tables: ${metric(m, /^firn_agent_unwind_tables\{state="ready"\} (\S+)/m)} ready (${fmtMiB(metric(m, /^firn_agent_unwind_table_bytes (\S+)/m))}), ` +
          `${metric(m, /^firn_agent_unwind_tables\{state="pending"\} (\S+)/m)} pending (never needed), ${metric(m, /^firn_agent_unwind_processes (\S+)/m)} processes, ` +
          `${metric(m, /^firn_agent_unwind_mapping_entries (\S+)/m)} trie entries`,
      );
    }
    if (prog) {
      const maps = bpfMaps().filter((x) => prog.map_ids?.includes(x.id));
      const fixed = maps.reduce((s, x) => s + (x.bytes_memlock ?? 0), 0);
      lines.push(
        `  BPF maps of the program (bytes_memlock, excluding the per-file tables): ${fmtMiB(fixed)}: ${maps.map((x) => `${x.name} ${fmtMiB(x.bytes_memlock ?? 0)}`).join(', ')}`,
      );
    }
    return lines.join('\n');
  } finally {
    await agent.stop();
  }
}

async function runPerf(callGraph: string[], label: string, dir: string): Promise<string> {
  const perfData = join(dir, 'perf.data');
  const perf = spawn('perf', ['record', '-F', '19', '-a', ...callGraph, '-o', perfData, '--', 'sleep', String(seconds + 2)], { stdio: 'ignore' });
  await sleep(1000);
  const p = await measure(perf.pid as number, seconds);
  await new Promise((r) => perf.once('exit', r));
  await rm(perfData, { force: true });
  return `perf record -F 19 -a ${label}: CPU ${p.cpuPct.toFixed(2)} % of host, RSS ${p.rssMiB.toFixed(0)} MiB (peak ${p.peakRssMiB.toFixed(0)} MiB; while recording; excludes its exit-time build-id pass and the stack copies the kernel makes in the sampled tasks)`;
}

/**
 * The kernel memory of each workload binary's unwind table, from tools/unwind/eh-frame-coverage.ts
 * (a separate process: benchmarks are scope:server and may not import the agent's libraries).
 */
function tableSizes(pids: number[]): string {
  const files = new Set<string>();
  for (const pid of pids) {
    for (const line of readFileSync(`/proc/${pid}/maps`, 'utf8').split('\n')) {
      const path = line.split(/\s+/).slice(5).join(' ');
      if (/ r-xp /.test(line) && path.startsWith('/')) files.add(path);
    }
  }
  const out = execFileSync(process.execPath, [resolve(ROOT, 'scripts/run-ts.cjs'), resolve(ROOT, 'tools/unwind/eh-frame-coverage.ts'), '--files', ...files], {
    encoding: 'utf8',
  });
  return out.trim().split('\n').join('\n  ');
}

async function main(): Promise<void> {
  const dir = makeTempDir('firn-bench-agent-');
  writeFileSync(join(dir, 'native.c'), NATIVE);
  execFileSync('gcc', ['-O2', '-fomit-frame-pointer', '-o', join(dir, 'native'), join(dir, 'native.c')]);
  const stress: ChildProcess[] = [
    spawn(process.execPath, ['-e', STRESS], { stdio: 'ignore' }),
    ...Array.from({ length: Math.max(1, ncpu - 1) }, () => spawn(join(dir, 'native'), [], { stdio: 'ignore' })),
  ];
  const statsBefore = readFileSync('/proc/sys/kernel/bpf_stats_enabled', 'utf8').trim();
  writeFileSync('/proc/sys/kernel/bpf_stats_enabled', '1');
  const issued = issueToken('bench', [Scope.WriteProfiles, Scope.ReadProfiles]);
  await writeTokenFile(join(dir, 'tokens.json'), [issued.record]);
  const aioPort = await freePort();
  const aio = await spawnServer({
    name: 'all-in-one',
    command: process.execPath,
    args: [
      resolve(ROOT, 'scripts/run-ts.cjs'),
      resolve(ROOT, 'apps/all-in-one/src/main.ts'),
      '--data-dir',
      join(dir, 'data'),
      '--tokens-file',
      join(dir, 'tokens.json'),
    ],
    env: { FIRN_HOST: '127.0.0.1', FIRN_PORT: String(aioPort), FIRN_LOG_LEVEL: 'warn' },
    ready: async () => (await fetch(`http://127.0.0.1:${aioPort}/readyz`)).status === 200,
    readyTimeoutMs: 120_000,
  });
  if (!viaTs) execFileSync(process.execPath, [resolve(ROOT, 'scripts/build-agent.cjs')], { stdio: 'inherit' });
  const results: string[] = [];
  try {
    if (only.has('fp')) results.push(await runAgent({ unwind: 'frame-pointers', aioPort, token: issued.token }));
    if (only.has('tables')) results.push(await runAgent({ unwind: 'tables', aioPort, token: issued.token }));
    if (only.has('perf-fp')) results.push(await runPerf(['-g'], '-g (frame pointers)', dir));
    if (only.has('perf-dwarf')) results.push(await runPerf(['--call-graph', 'dwarf'], '--call-graph dwarf', dir));
    console.log(
      `host: ${ncpu} CPUs, all busy (1 Node loop, ${ncpu - 1} C -O2 -fomit-frame-pointer); ${seconds} s per profiler; 19 Hz; load average ${loadavg()
        .map((l) => l.toFixed(1))
        .join(' ')}`,
    );
    console.log(`agent run ${viaTs ? 'through scripts/run-ts.cjs (SWC at run time)' : 'as dist/agent/firn-agent (built JS)'}`);
    for (const r of results) console.log(r);
    console.log(`unwind tables of the workload's binaries (kernel memory):\n  ${tableSizes(stress.map((s) => s.pid as number))}`);
  } finally {
    for (const s of stress) s.kill('SIGKILL');
    writeFileSync('/proc/sys/kernel/bpf_stats_enabled', statsBefore);
    await aio.stop();
    removeDir(dir);
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});

// Per-process resource figures from Linux /proc, for processes this benchmark started.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';

let clockTicks: number | undefined;

function ticksPerSecond(): number {
  if (clockTicks === undefined) {
    try {
      clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clockTicks = 100;
    }
  }
  return clockTicks;
}

/** utime + stime of all the process's threads, in seconds (/proc/<pid>/stat fields 14 and 15). */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) may contain spaces; fields after it are space-separated.
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = Number(rest[11]);
  const stime = Number(rest[12]);
  return (utime + stime) / ticksPerSecond();
}

/**
 * On-CPU time of the process's live threads, in seconds, to the nanosecond (Σ of the first field
 * of /proc/<pid>/task/<tid>/schedstat): for spans of a few milliseconds, where cpuSeconds' clock
 * ticks (10 ms) are too coarse. Threads that exited within the span are not counted.
 */
export function threadCpuSeconds(pid: number): number {
  let ns = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
    } catch {
      // The thread exited between the listing and the read.
    }
  }
  return ns / 1e9;
}

export function statusKb(pid: number, field: string): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status);
  if (!m) throw new Error(`/proc/${pid}/status has no ${field}`);
  return Number(m[1]);
}

/** Peak resident set size so far (VmHWM), bytes. */
export function peakRssBytes(pid: number): number {
  return statusKb(pid, 'VmHWM') * 1024;
}

/**
 * Resets VmHWM to the current RSS (Linux ≥ 4.0, "5" → /proc/<pid>/clear_refs), so each phase
 * reports its own peak. Returns false where the kernel or permissions do not allow it.
 */
export function resetPeakRss(pid: number): boolean {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

export interface CpuSnapshot {
  wallMs: number;
  byPid: Map<number, number>;
  self: NodeJS.CpuUsage;
}

export function snapshotCpu(pids: number[]): CpuSnapshot {
  return { wallMs: performance.now(), byPid: new Map(pids.map((p) => [p, cpuSeconds(p)])), self: process.cpuUsage() };
}

/** CPU seconds each pid used between two snapshots, plus this process's own. */
export function cpuBetween(a: CpuSnapshot, b: CpuSnapshot): { wallSec: number; byPid: Map<number, number>; selfSec: number } {
  const byPid = new Map<number, number>();
  for (const [pid, v] of b.byPid) byPid.set(pid, v - (a.byPid.get(pid) ?? 0));
  const self = (b.self.user - a.self.user + b.self.system - a.self.system) / 1e6;
  return { wallSec: (b.wallMs - a.wallMs) / 1000, byPid, selfSec: self };
}

/** Counter values from a Prometheus text endpoint whose names start with `prefix` (series → value). */
export async function scrapeCounters(url: string, prefix: string): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  const res = await fetch(url);
  if (!res.ok) return out;
  for (const line of (await res.text()).split('\n')) {
    if (!line.startsWith(prefix)) continue;
    const sp = line.lastIndexOf(' ');
    out.set(line.slice(0, sp), Number(line.slice(sp + 1)));
  }
  return out;
}

/** `after - before` per series, dropping zeros, as "name{labels}=n" in name order. */
export function counterDelta(before: Map<string, number>, after: Map<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of [...after].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const d = v - (before.get(k) ?? 0);
    if (d !== 0) out[k] = d;
  }
  return out;
}

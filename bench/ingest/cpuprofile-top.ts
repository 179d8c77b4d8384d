// Summarises a V8 .cpuprofile (node --cpu-prof): top functions by self time and by inclusive
// time, with source locations relative to the repo.
//   node scripts/run-ts.cjs bench/ingest/cpuprofile-top.ts <file.cpuprofile> [top=25] [--after-idle-ms N]
//     [--timeline] [--from-s A] [--to-s B]
// --after-idle-ms N counts only the samples after the first N ms in a row of idle: for a querier
// that idles between start-up and its first query (query.bench's cold phase), just that query.
// --timeline prints the busy (non-idle) ms of each second of the profile, to find a phase (e.g.
// ingest.bench's measured push after its warm-up); --from-s/--to-s then count only that span.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const ROOT = resolve(__dirname, '..', '..');
const { values: opts, positionals } = parseArgs({
  options: { 'after-idle-ms': { type: 'string' }, timeline: { type: 'boolean' }, 'from-s': { type: 'string' }, 'to-s': { type: 'string' } },
  allowPositionals: true,
});
const [file, topArg] = positionals;
if (!file) {
  console.error('usage: cpuprofile-top.ts <file.cpuprofile> [top] [--after-idle-ms N] [--timeline] [--from-s A] [--to-s B]');
  process.exit(2);
}
const top = Number(topArg ?? 25);
const prof = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;

function label(n: ProfileNode): string {
  const url = n.callFrame.url.replace(/^file:\/\//, '').replace(`${ROOT}/`, '');
  const short = url.includes('node_modules/') ? url.slice(url.lastIndexOf('node_modules/') + 13) : url;
  return `${n.callFrame.functionName || '(anonymous)'} ${short ? `${short}:${n.callFrame.lineNumber + 1}` : ''}`.trim();
}

const byId = new Map(prof.nodes.map((n) => [n.id, n]));
const parent = new Map<number, number>();
for (const n of prof.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
/** Index of the first sample after `ms` of idle in a row (0 without the option, or when there is none). */
function firstSampleAfterIdle(ms: number | undefined): number {
  if (ms === undefined) return 0;
  let idleUs = 0;
  for (let i = 0; i < prof.samples.length; i++) {
    if (byId.get(prof.samples[i])?.callFrame.functionName !== '(idle)') {
      if (idleUs >= ms * 1000) return i;
      idleUs = 0;
    } else idleUs += prof.timeDeltas[i] ?? 0;
  }
  console.error(`no ${ms} ms of idle in a row followed by work; counting every sample`);
  return 0;
}
const from = firstSampleAfterIdle(opts['after-idle-ms'] === undefined ? undefined : Number(opts['after-idle-ms']));
const fromUs = Number(opts['from-s'] ?? 0) * 1e6;
const toUs = opts['to-s'] === undefined ? Infinity : Number(opts['to-s']) * 1e6;
const selfUs = new Map<number, number>();
/** Busy µs per whole second since the profile started. */
const busyPerSecond: number[] = [];
let atUs = 0;
for (let i = 0; i < prof.samples.length; i++) {
  const us = prof.timeDeltas[i] ?? 0;
  atUs += us;
  if (byId.get(prof.samples[i])?.callFrame.functionName !== '(idle)') {
    const sec = Math.floor(atUs / 1e6);
    busyPerSecond[sec] = (busyPerSecond[sec] ?? 0) + us;
  }
  if (i >= from && atUs >= fromUs && atUs < toUs) selfUs.set(prof.samples[i], (selfUs.get(prof.samples[i]) ?? 0) + us);
}
if (opts.timeline) {
  console.log('busy ms per second of the profile:');
  for (let sec = 0; sec < busyPerSecond.length; sec++)
    console.log(`${String(sec).padStart(4)} s  ${((busyPerSecond[sec] ?? 0) / 1000).toFixed(0).padStart(5)} ms`);
}
const total = [...selfUs.values()].reduce((a, b) => a + b, 0);

const self = new Map<string, number>();
const inclusive = new Map<string, number>();
for (const [id, us] of selfUs) {
  const node = byId.get(id) as ProfileNode;
  self.set(label(node), (self.get(label(node)) ?? 0) + us);
  // Count each function once per sample even when it recurses.
  const seen = new Set<string>();
  for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
    const l = label(byId.get(cur) as ProfileNode);
    if (seen.has(l)) continue;
    seen.add(l);
    inclusive.set(l, (inclusive.get(l) ?? 0) + us);
  }
}

function print(title: string, m: Map<string, number>): void {
  console.log(`\n${title} (of ${(total / 1e6).toFixed(1)} s sampled)`);
  for (const [l, us] of [...m].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    console.log(`${((us / total) * 100).toFixed(1).padStart(5)}%  ${(us / 1e6).toFixed(2).padStart(7)} s  ${l}`);
  }
}
print('self time', self);
print('inclusive time', inclusive);

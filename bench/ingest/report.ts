// Turns measured phases into the markdown that docs/benchmarks.md carries.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, totalmem } from 'node:os';

export type PhaseFormat = 'arrow' | 'pprof';

export interface PhaseResult {
  format: PhaseFormat;
  tenant: string;
  requests: number;
  rows: number;
  samples: number;
  payloadBytes: number;
  pushWallSec: number;
  drainWallSec: number;
  latencyMs: { p50: number; p99: number; max: number };
  cpuSec: { gateway: number; ingester: number; nats: number; client: number };
  peakRssBytes: { gateway: number; ingester: number };
  stored: { segments: number; rows: number; samples: number; bytes: number; strayObjects: number; strayBytes: number };
  verified: boolean;
  /** CPU seconds that only decoding the same payloads costs (bench/ingest/floor.ts), measured in the same run. */
  floorCpuSec?: number;
  /** Arrow only: CPU seconds of Firn's own reader on the same payloads, the gateway's check and the ingester's decode (floor.ts). */
  readersCpuSec?: { check: number; decode: number };
  /**
   * With --rounds N > 1: gateway and ingester CPU of every round, in order (each round pushes the
   * same requests to a tenant of its own). The other figures are those of the median round.
   */
  roundsCpuSec?: Array<{ gateway: number; ingester: number }>;
}

/** Ack latency with requests sent on a timer at the fleet's real rate (open loop). */
export interface PacedResult {
  format: PhaseFormat;
  ratePerSec: number;
  requests: number;
  samples: number;
  latencyMs: { p50: number; p99: number; max: number };
  /**
   * CPU from the first request until the log is drained: what the fleet's real rate costs, where
   * the flush age (not size) cuts segments, so each holds only a few seconds of requests.
   */
  cpuSec: { gateway: number; ingester: number };
  /** Segments the ingester wrote meanwhile. */
  segments: number;
}

export interface RunConfig {
  command: string;
  agents: number;
  windows: number;
  windowSec: number;
  concurrency: number;
  storage: 'local' | 's3';
  transport: 'grpc' | 'connect';
  seed: number;
  warmupWindows: number;
  pacedRequests: number;
  /** Measured rounds per format; the median one (by gateway + ingester CPU) is reported. */
  rounds: number;
}

export interface MachineNotes {
  date: string;
  nproc: number;
  cpuModel: string;
  memGiB: number;
  free: string;
  node: string;
  commit: string;
}

export const TARGETS = {
  arrowSamplesPerCoreSec: 1_000_000,
  pprofGzipBytesPerCoreSec: 8 * 1e6,
  ackP50Ms: 50,
  /** Whole write path CPU as a multiple of only decoding the payloads (issue #19's aim). */
  floorMultiple: 2,
} as const;

function sh(cmd: string, args: string[]): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return '(unavailable)';
  }
}

export function machineNotes(): MachineNotes {
  return {
    date: new Date().toISOString(),
    nproc: availableParallelism(),
    cpuModel: cpus()[0]?.model ?? 'unknown',
    memGiB: Math.round(totalmem() / 2 ** 30),
    free: sh('free', ['-g']),
    node: process.version,
    commit: sh('git', ['rev-parse', '--short', 'HEAD']),
  };
}

const LABEL: Record<PhaseFormat, string> = { arrow: 'WriteArrow', pprof: 'WriteRaw (gzip pprof)' };

const n0 = (v: number): string => Math.round(v).toLocaleString('en-US');
const n1 = (v: number): string => v.toFixed(1);
const n2 = (v: number): string => v.toFixed(2);
const mb = (bytes: number): string => (bytes / 1e6).toFixed(1);
const perSec = (v: number, sec: number): number => (sec > 0 ? v / sec : NaN);
const mega = (v: number): string => (v >= 1e6 ? `${(v / 1e6).toFixed(2)} M` : `${(v / 1e3).toFixed(1)} k`);

function verdict(measured: number, target: number, higherIsBetter: boolean): string {
  const ok = higherIsBetter ? measured >= target : measured <= target;
  const ratio = higherIsBetter ? measured / target : target / measured;
  return ok ? `✅ meets (${n2(ratio)}×)` : `❌ ${Math.round(ratio * 100)}% of target`;
}

export function phaseTable(phases: PhaseResult[]): string {
  const rows: Array<[string, (p: PhaseResult) => string]> = [
    ['requests (agent flushes)', (p) => n0(p.requests)],
    ['samples / rows pushed', (p) => `${n0(p.samples)} / ${n0(p.rows)}`],
    ['payload at the gateway', (p) => `${mb(p.payloadBytes)} MB (${n0(p.payloadBytes / p.requests)} B/request)`],
    ['ack latency p50 / p99 / max', (p) => `${n1(p.latencyMs.p50)} / ${n1(p.latencyMs.p99)} / ${n1(p.latencyMs.max)} ms`],
    ['push: requests/s', (p) => n0(perSec(p.requests, p.pushWallSec))],
    ['push: samples/s (wall)', (p) => mega(perSec(p.samples, p.pushWallSec))],
    ['push: payload MB/s (wall)', (p) => n2(perSec(p.payloadBytes, p.pushWallSec) / 1e6)],
    ['push wall / until drained', (p) => `${n1(p.pushWallSec)} s / ${n1(p.drainWallSec)} s`],
    ['gateway CPU', (p) => `${n1(p.cpuSec.gateway)} s`],
    ['gateway: samples per CPU-s', (p) => mega(perSec(p.samples, p.cpuSec.gateway))],
    ['gateway: payload MB per CPU-s', (p) => n2(perSec(p.payloadBytes, p.cpuSec.gateway) / 1e6)],
    ['ingester CPU', (p) => `${n1(p.cpuSec.ingester)} s`],
    ['ingester: samples per CPU-s', (p) => mega(perSec(p.samples, p.cpuSec.ingester))],
    ['ingester: rows per CPU-s', (p) => mega(perSec(p.rows, p.cpuSec.ingester))],
    ['ingester: payload MB per CPU-s', (p) => n2(perSec(p.payloadBytes, p.cpuSec.ingester) / 1e6)],
    ['gateway + ingester: samples per CPU-s', (p) => mega(perSec(p.samples, p.cpuSec.gateway + p.cpuSec.ingester))],
    ['gateway + ingester: payload MB per CPU-s', (p) => n2(perSec(p.payloadBytes, p.cpuSec.gateway + p.cpuSec.ingester) / 1e6)],
    [
      'floor: decode only (same payloads, maintained libraries)',
      (p) => (p.floorCpuSec === undefined ? '—' : `${n2(p.floorCpuSec)} CPU-s (${mega(perSec(p.samples, p.floorCpuSec))} samples/CPU-s)`),
    ],
    [
      'rounds: gateway + ingester CPU each (median reported)',
      (p) => (p.roundsCpuSec === undefined ? '—' : p.roundsCpuSec.map((r) => n1(r.gateway + r.ingester)).join(', ') + ' s'),
    ],
    ['gateway + ingester ÷ floor', (p) => (p.floorCpuSec === undefined ? '—' : `${n1((p.cpuSec.gateway + p.cpuSec.ingester) / p.floorCpuSec)}×`)],
    [
      "Firn's Arrow reader alone: gateway check / ingester decode",
      (p) =>
        p.readersCpuSec === undefined
          ? '—'
          : `${n2(p.readersCpuSec.check)} / ${n2(p.readersCpuSec.decode)} CPU-s` +
            (p.floorCpuSec === undefined ? '' : ` (${n1(p.readersCpuSec.check / p.floorCpuSec)}× / ${n1(p.readersCpuSec.decode / p.floorCpuSec)}× the floor)`),
    ],
    ['nats-server CPU / bench client CPU', (p) => `${n1(p.cpuSec.nats)} s / ${n1(p.cpuSec.client)} s`],
    [
      'segments (valid) / stray objects',
      (p) => `${n0(p.stored.segments)} / ${n0(p.stored.strayObjects)}${p.stored.strayObjects > 0 ? ` (${mb(p.stored.strayBytes)} MB)` : ''}`,
    ],
    ['stored rows / samples', (p) => `${n0(p.stored.rows)} / ${n0(p.stored.samples)}`],
    ['stored bytes (samples + stacks Parquet)', (p) => `${mb(p.stored.bytes)} MB`],
    ['stored bytes per sample / per row', (p) => `${n2(p.stored.bytes / p.stored.samples)} / ${n2(p.stored.bytes / p.stored.rows)} B`],
    ['peak RSS gateway / ingester', (p) => `${n0(p.peakRssBytes.gateway / 2 ** 20)} / ${n0(p.peakRssBytes.ingester / 2 ** 20)} MiB`],
    ['stored totals = pushed totals', (p) => (p.verified ? 'yes (every series × stack)' : '**NO**')],
  ];
  const head = `| metric | ${phases.map((p) => LABEL[p.format]).join(' | ')} |\n|---|${phases.map(() => '---').join('|')}|`;
  return [head, ...rows.map(([name, f]) => `| ${name} | ${phases.map(f).join(' | ')} |`)].join('\n');
}

export function targetTable(phases: PhaseResult[], paced: PacedResult[] = []): string {
  const arrow = phases.find((p) => p.format === 'arrow');
  const pprof = phases.find((p) => p.format === 'pprof');
  const lines = ['| target | where the work happens | measured | vs target |', '|---|---|---|---|'];
  if (arrow) {
    const ing = perSec(arrow.samples, arrow.cpuSec.ingester);
    const both = perSec(arrow.samples, arrow.cpuSec.gateway + arrow.cpuSec.ingester);
    lines.push(
      `| ≥ 1 M Arrow samples/s per ingester core | ingester CPU, WriteArrow phase (Arrow decode, merge, Parquet, manifest) | ${mega(ing)} samples/CPU-s | ${verdict(ing, TARGETS.arrowSamplesPerCoreSec, true)} |`,
    );
    lines.push(
      `| (same, whole write path) | gateway + ingester CPU (adds the gateway's Arrow validate (+ re-encode if truncated) + JetStream append) | ${mega(both)} samples/CPU-s | ${verdict(both, TARGETS.arrowSamplesPerCoreSec, true)} |`,
    );
  }
  if (pprof) {
    const gw = perSec(pprof.payloadBytes, pprof.cpuSec.gateway);
    const both = perSec(pprof.payloadBytes, pprof.cpuSec.gateway + pprof.cpuSec.ingester);
    lines.push(
      `| ≥ 8 MB/s gzip pprof per core | gateway CPU, WriteRaw phase (gunzip + pprof decode + Arrow encode + append) | ${n2(gw / 1e6)} MB/CPU-s | ${verdict(gw, TARGETS.pprofGzipBytesPerCoreSec, true)} |`,
    );
    lines.push(`| (same, whole write path) | gateway + ingester CPU | ${n2(both / 1e6)} MB/CPU-s | ${verdict(both, TARGETS.pprofGzipBytesPerCoreSec, true)} |`);
  }
  for (const p of phases) {
    if (p.floorCpuSec === undefined) continue;
    const multiple = (p.cpuSec.gateway + p.cpuSec.ingester) / p.floorCpuSec;
    lines.push(
      `| whole path ≤ ${TARGETS.floorMultiple}× the decode floor (${LABEL[p.format]}) | gateway + ingester CPU ÷ CPU of only decoding the same payloads (${p.format === 'pprof' ? 'gunzip + @bufbuild/protobuf' : 'apache-arrow tableFromIPC'}) | ${n1(multiple)}× | ${verdict(multiple, TARGETS.floorMultiple, false)} |`,
    );
  }
  for (const p of paced) {
    lines.push(
      `| ack p50 ≤ 50 ms (${LABEL[p.format]}, fleet rate ${n1(p.ratePerSec)} req/s) | gateway → JetStream ack | ${n1(p.latencyMs.p50)} ms (p99 ${n1(p.latencyMs.p99)}) | ${verdict(p.latencyMs.p50, TARGETS.ackP50Ms, false)} |`,
    );
    if (p.format !== 'arrow') continue;
    const ing = perSec(p.samples, p.cpuSec.ingester);
    const both = perSec(p.samples, p.cpuSec.gateway + p.cpuSec.ingester);
    lines.push(
      `| (Arrow samples/CPU-s at the fleet rate, ${p.segments} segments) | ingester / gateway + ingester CPU, first request until drained (idle time included) | ${mega(ing)} / ${mega(both)} samples/CPU-s | ${verdict(ing, TARGETS.arrowSamplesPerCoreSec, true)} / ${verdict(both, TARGETS.arrowSamplesPerCoreSec, true)} |`,
    );
  }
  for (const p of phases) {
    lines.push(
      `| ack p50 ≤ 50 ms (${LABEL[p.format]}, saturated) | gateway → JetStream ack | ${n1(p.latencyMs.p50)} ms (p99 ${n1(p.latencyMs.p99)}) | ${verdict(p.latencyMs.p50, TARGETS.ackP50Ms, false)} |`,
    );
  }
  return lines.join('\n');
}

export function runSection(name: string, cfg: RunConfig, machine: MachineNotes, phases: PhaseResult[], paced: PacedResult[]): string {
  return [
    `### Run \`${name}\``,
    '',
    `${cfg.agents} agents × ${cfg.windows} windows of ${cfg.windowSec} s (seed ${cfg.seed}), ${cfg.concurrency} requests in flight, ` +
      `${cfg.transport} transport, ${cfg.storage === 's3' ? 's3rver' : 'local-dir'} storage, one gateway + one ingester, ` +
      `${cfg.warmupWindows} warm-up windows sent to another tenant first` +
      (cfg.rounds > 1 ? `, ${cfg.rounds} measured rounds per format (the median one reported)` : '') +
      (paced.length > 0 ? `; latency at the fleet's real rate measured with ${cfg.pacedRequests} timed requests per format (open loop).` : '.'),
    '',
    '```sh',
    cfg.command,
    '```',
    '',
    `Machine: ${machine.nproc} CPUs (${machine.cpuModel}), ${machine.memGiB} GiB RAM, Node ${machine.node}, commit ${machine.commit}, ${machine.date}. ` +
      'Everything (client, gateway, ingester, nats-server) shares these CPUs.',
    '',
    '```',
    machine.free,
    '```',
    '',
    targetTable(phases, paced),
    '',
    phaseTable(phases),
    '',
  ].join('\n');
}

/** Replaces (or appends) the block between this run's markers in a markdown file. */
export function upsertDocSection(path: string, name: string, section: string): void {
  const start = `<!-- bench:ingest:${name}:start -->`;
  const end = `<!-- bench:ingest:${name}:end -->`;
  const block = `${start}\n${section}\n${end}`;
  const text = existsSync(path) ? readFileSync(path, 'utf8') : '# Benchmarks\n';
  const i = text.indexOf(start);
  const j = text.indexOf(end);
  const next = i >= 0 && j > i ? text.slice(0, i) + block + text.slice(j + end.length) : `${text.trimEnd()}\n\n${block}\n`;
  writeFileSync(path, next);
}

// The markdown the query benchmark prints and keeps in docs/benchmarks.md.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import type { MachineNotes } from '../ingest/report';
import type { CompactionFacts } from './compact';

export interface Timing {
  runs: number;
  p50: number;
  p99: number;
  min: number;
  max: number;
}

export interface DatasetFacts {
  agents: number;
  windows: number;
  windowSec: number;
  seed: number;
  hours: number;
  requests: number;
  rowsStored: number;
  samplesStored: number;
  samplesPushed: number;
  segments: number;
  /** Sum of the valid segments' samples.parquet + stacks.parquet sizes on disk. */
  bytesOnDisk: number;
  /** The stacks.parquet part of bytesOnDisk (absent in reports written before it was recorded). */
  stacksBytes?: number;
  /** Push and drain wall time of the load, or undefined when a kept dataset was reused. */
  load?: { pushWallSec: number; drainWallSec: number; concurrency: number };
  reused: boolean;
}

export interface QueryRow {
  name: string;
  selector: string;
  segments: number;
  expected: number;
  one?: Timing;
  two?: Timing;
  /** Sent to a gateway that forwards to one querier (what a user's query goes through). */
  viaGateway?: Timing;
  /** Through the gateway: median gateway CPU (main thread) per run. */
  gatewayCpuSec?: number;
  duck?: Timing;
  /** Totals each engine returned (all runs agreed, else the first mismatch is noted). */
  firnTotal?: number;
  firnTotal2?: number;
  duckTotal?: number;
  duckStacks?: number;
  /** The first query after a querier process starts (one fresh process per query). */
  cold?: QueryCost;
  /** The same, the fresh process finding the stack catalog snapshot an earlier querier wrote. */
  coldSnapshot?: QueryCost;
  /**
   * The same, the fresh process having read the last hour's series tables and run its warm-up
   * query before ready (and found the snapshot, when coldSnapshot was measured).
   */
  coldDefaults?: QueryCost;
  /** 1 querier, warm: median querier CPU per run (and the p50 wall above). */
  warmCpuSec?: number;
  note?: string;
  verified: boolean;
}

/** One query's client wall time and the querier process's CPU over it. */
export interface QueryCost {
  wallMs: number;
  cpuSec: number;
  total: number;
  /** The querier process's CPU from its start until it was ready (what a preload costs). */
  readyCpuSec?: number;
}

export interface PhaseStats {
  name: string;
  /** Peak RSS per querier process, bytes. */
  peakRss: number[];
  /** RSS right after start, bytes. */
  idleRss: number[];
  /** CPU seconds per querier process over the phase. */
  cpuSec: number[];
  rssReset: boolean;
}

export interface QueryReport {
  command: string;
  runs: number;
  machine: MachineNotes & { loadAvg: string; loadAvgAfter: string };
  duckThreads: number;
  dataset: DatasetFacts;
  queries: QueryRow[];
  phases: PhaseStats[];
  /** Size of the stack catalog snapshot the cold phase's fresh queriers loaded. */
  snapshotBytes?: number;
  /** The same queries after compaction (`--compact`). */
  blocks?: BlocksReport;
}

export interface BlocksReport {
  compaction: CompactionFacts;
  /** `segments` counts blocks here; `reused` says the blocks were kept from an earlier run. */
  dataset: DatasetFacts;
  queries: QueryRow[];
  phases: PhaseStats[];
  duckThreads: number;
  loadAvg: string;
  loadAvgAfter: string;
  snapshotBytes?: number;
}

export const QUERY_TARGETS = { flameP50Ms: 1000, duckRatio: 1.0, coldRatio: 2, rangeP50Ms: 300 } as const;

const n0 = (v: number): string => Math.round(v).toLocaleString('en-US');
const n2 = (v: number): string => v.toFixed(2);
const ms = (v: number): string => (v >= 1000 ? `${(v / 1000).toFixed(2)} s` : `${Math.round(v)} ms`);
const mib = (b: number): string => `${n0(b / 2 ** 20)} MiB`;
const lat = (t?: Timing): string => (t ? `${ms(t.p50)} / ${ms(t.p99)}` : '—');
const ratio = (a?: Timing, b?: Timing): string => (a && b ? `${n2(a.p50 / b.p50)}×` : '—');

export function datasetTable(d: DatasetFacts): string {
  const lines = [
    '| dataset | |',
    '|---|---|',
    `| slice | ${d.agents} agents × ${d.windows} windows of ${d.windowSec} s (${n2(d.hours)} h), seed ${d.seed}; ${n0(d.requests)} WriteArrow requests |`,
    `| rows / samples stored | ${n0(d.rowsStored)} / ${n0(d.samplesStored)} (pushed ${n0(d.samplesPushed)} samples) |`,
    `| segments (valid, uncompacted) | ${n0(d.segments)} |`,
    `| bytes on disk (samples + stacks Parquet) | ${(d.bytesOnDisk / 1e6).toFixed(1)} MB = ${n2(d.bytesOnDisk / d.samplesStored)} B/sample, ${n2(d.bytesOnDisk / d.rowsStored)} B/row |`,
  ];
  if (d.load) {
    const when = d.reused ? ' (when the kept `--dir` was loaded; this run reused it)' : '';
    lines.push(
      `| load (gateway + ingester, WriteArrow, ${d.load.concurrency} in flight) | pushed in ${d.load.pushWallSec.toFixed(0)} s, drained after ${d.load.drainWallSec.toFixed(0)} s${when} |`,
    );
  }
  return lines.join('\n');
}

export function queryTable(rows: QueryRow[], duckThreads: number): string {
  const lines = [
    `| query | segments touched | 1 querier p50 / p99 | 2 queriers (fan-out) p50 / p99 | gateway → 1 querier p50 / p99 | DuckDB (${duckThreads} threads) p50 / p99 | 1 querier ÷ DuckDB p50 | 2 queriers ÷ DuckDB p50 | totals |`,
    '|---|---|---|---|---|---|---|---|---|',
  ];
  for (const r of rows) {
    const totals = r.verified
      ? `equal (${n0(r.expected)}${r.duckStacks !== undefined ? `, ${n0(r.duckStacks)} stacks` : ''})`
      : `**differ**: expected ${n0(r.expected)}, Firn ${r.firnTotal ?? '—'} / ${r.firnTotal2 ?? '—'}, DuckDB ${r.duckTotal ?? '—'}${r.note ? ` (${r.note})` : ''}`;
    lines.push(
      `| ${r.name} \`${r.selector}\` | ${n0(r.segments)} | ${lat(r.one)} | ${lat(r.two)} | ${lat(r.viaGateway)} | ${lat(r.duck)} | ${ratio(r.one, r.duck)} | ${ratio(r.two, r.duck)} | ${totals} |`,
    );
  }
  return lines.join('\n');
}

/** The cold passes a row may have, each with how its fresh querier started. */
function coldPasses(r: QueryRow): ReadonlyArray<readonly [QueryCost | undefined, string]> {
  return [
    [r.cold, ''],
    [r.coldSnapshot, ', from a stack catalog snapshot'],
    [r.coldDefaults, `${r.coldSnapshot ? ', from a snapshot' : ''}, series preload and warm-up query before ready`],
  ];
}

export function coldTable(rows: QueryRow[]): string {
  const lines = [
    '| query (1 querier) | querier CPU until ready | cold: first query after start, wall / querier CPU | warm p50 wall / median querier CPU | cold ÷ warm (wall / CPU) | cold totals |',
    '|---|---|---|---|---|---|',
  ];
  for (const r of rows) {
    for (const [c, how] of coldPasses(r)) {
      if (c) lines.push(coldLine(r, c, how));
    }
  }
  return lines.join('\n');
}

function coldLine(r: QueryRow, c: QueryCost, how: string): string {
  {
    const warmCpu = r.warmCpuSec;
    const cpuRatio = warmCpu ? `${n2(c.cpuSec / warmCpu)}×` : '—';
    const wallRatio = r.one ? `${n2(c.wallMs / r.one.p50)}×` : '—';
    const totals = c.total === r.expected ? 'equal' : `**differ** (${c.total} vs ${r.expected})`;
    const ready = c.readyCpuSec !== undefined ? `${c.readyCpuSec.toFixed(2)} s` : '—';
    return `| ${r.name}${how} | ${ready} | ${ms(c.wallMs)} / ${c.cpuSec.toFixed(3)} s | ${r.one ? ms(r.one.p50) : '—'} / ${warmCpu !== undefined ? `${warmCpu.toFixed(3)} s` : '—'} | ${wallRatio} / ${cpuRatio} | ${totals} |`;
  }
}

export function phaseTable(phases: PhaseStats[]): string {
  const lines = ['| querier processes | RSS after start | peak RSS (VmHWM) during the queries | CPU seconds over all runs |', '|---|---|---|---|'];
  for (const p of phases) {
    lines.push(
      `| ${p.name} | ${p.idleRss.map(mib).join(' + ')} | ${p.peakRss.map(mib).join(' + ')}${p.rssReset ? '' : ' (since start)'} | ${p.cpuSec.map((c) => c.toFixed(1)).join(' + ')} |`,
    );
  }
  return lines.join('\n');
}

export function targetTable(rows: QueryRow[]): string {
  const lines = ['| aim | measured (1 querier / 2 queriers) | |', '|---|---|---|'];
  const verdict = (ok: boolean): string => (ok ? '✅' : '❌');
  for (const r of rows.filter((x) => x.duck)) {
    const p1 = r.one?.p50 ?? NaN;
    const p2 = r.two?.p50 ?? NaN;
    const best = Math.min(p1, Number.isNaN(p2) ? Infinity : p2);
    lines.push(`| merged flame graph p50 ≤ 1 s: ${r.name} | ${ms(p1)} / ${Number.isNaN(p2) ? '—' : ms(p2)} | ${verdict(best <= QUERY_TARGETS.flameP50Ms)} |`);
    const duck = r.duck?.p50 ?? NaN;
    lines.push(`| ≤ 1.0× DuckDB p50: ${r.name} | ${ratio(r.one, r.duck)} / ${ratio(r.two, r.duck)} | ${verdict(best / duck <= QUERY_TARGETS.duckRatio)} |`);
  }
  for (const r of rows) {
    for (const [c, how] of coldPasses(r)) {
      if (!c || !r.warmCpuSec) continue;
      const x = c.cpuSec / r.warmCpuSec;
      lines.push(`| cold ≤ ${QUERY_TARGETS.coldRatio}× warm (querier CPU): ${r.name}${how} | ${n2(x)}× / — | ${verdict(x <= QUERY_TARGETS.coldRatio)} |`);
    }
  }
  const range = rows.find((x) => x.name.startsWith('QueryRange'));
  if (range?.one)
    lines.push(
      `| QueryRange p50 ≤ 300 ms warm | ${ms(range.one.p50)} / ${range.two ? ms(range.two.p50) : '—'} | ${verdict(range.one.p50 <= QUERY_TARGETS.rangeP50Ms)} |`,
    );
  return lines.join('\n');
}

export function reportSection(r: QueryReport): string {
  const m = r.machine;
  return [
    '## Query (fleet-1h)',
    '',
    'Read path over fleet-1h loaded through the real write path (gateway + ingester processes,',
    'WriteArrow, local-dir storage, nats-server), before compaction. Queriers run as separate',
    'processes: first one, then two peers (`FIRN_QUERIER_PEERS`) with the query sent to the first,',
    'which splits the segments with the other. Latency is client-side (gRPC-web, as Grafana sends',
    `it), ${r.runs} runs after one warm-up per query; p99 of ${r.runs} runs is their maximum. DuckDB computes the same`,
    'aggregate (total per stack key, samples joined with stacks within each segment) straight from',
    'the same Parquet files in the same run; every total is checked against what was pushed.',
    '',
    '```sh',
    r.command,
    '```',
    '',
    `Machine: ${m.nproc} CPUs (${m.cpuModel}), ${m.memGiB} GiB RAM, Node ${m.node}, commit ${m.commit}, ${m.date}; ` +
      `load average ${m.loadAvg} before the queries, ${m.loadAvgAfter} after (the machine is shared with other jobs).`,
    '',
    '```',
    m.free,
    '```',
    '',
    datasetTable(r.dataset),
    '',
    queryTable(r.queries, r.duckThreads),
    '',
    ...(r.queries.some((q) => q.cold)
      ? [
          'Cold: each query once against a querier process started for it (empty stack catalog, fresh JIT), after',
          "its manifest view caught up; querier CPU over that one query from /proc's per-thread schedstat (to the",
          'nanosecond; threads that exit within the query are not counted). Warm CPU: the median run of the 1-querier phase.',
          '',
          coldTable(r.queries),
          '',
        ]
      : []),
    phaseTable(r.phases),
    '',
    targetTable(r.queries),
    '',
    ...(r.blocks ? [blocksSection(r, r.blocks)] : []),
  ].join('\n');
}

const levelCounts = (c: Record<number, number>): string =>
  Object.entries(c)
    .map(([l, n]) => `${n} × L${l}`)
    .join(', ');

function compactionTable(b: BlocksReport): string {
  const c = b.compaction;
  const byLevel = new Map<number, CompactionFacts['jobs']>();
  for (const j of c.jobs) byLevel.set(j.level, [...(byLevel.get(j.level) ?? []), j]);
  const jobs = [...byLevel]
    .map(([level, js]) => {
      const sum = (k: 'inputs' | 'rowsIn' | 'rowsOut' | 'seconds'): number => js.reduce((a, j) => a + j[k], 0);
      return `${js.length} × L${level} (${n0(sum('inputs'))} inputs, ${n0(sum('rowsIn'))} → ${n0(sum('rowsOut'))} rows, ${sum('seconds').toFixed(1)} s of jobs; triggered by ${[...new Set(js.map((j) => j.reason))].join(', ')})`;
    })
    .join('; ');
  const settings = Object.entries(c.env)
    .map(([k, v]) => `\`${k}=${v}\``)
    .join(' ');
  return [
    '| compaction | |',
    '|---|---|',
    `| compactor settings (defaults otherwise) | ${settings} |`,
    `| valid segments | ${levelCounts(c.before)} → ${levelCounts(c.after)} |`,
    `| jobs | ${jobs || '—'} |`,
    `| compactor process | ${c.wallSec.toFixed(1)} s wall from ready until no segment below L${c.level} was left, ${c.cpuSec.toFixed(1)} s CPU, peak RSS ${mib(c.peakRss)}${b.dataset.reused ? ' (when the kept blocks were made; this run reused them)' : ''} |`,
  ].join('\n');
}

/** Level-0 segments and blocks side by side: footprint, then each query on each. */
export function comparisonTables(r: QueryReport, b: BlocksReport): string {
  const level = `L${b.compaction.level} blocks`;
  const data: Array<[string, DatasetFacts]> = [
    ['level-0 segments', r.dataset],
    [level, b.dataset],
  ];
  const footprint = [
    '| data | segments / blocks in range (Parquet files) | rows stored | bytes on disk: samples + stacks Parquet | B/sample | B/row |',
    '|---|---|---|---|---|---|',
    ...data.map(([name, d]) => {
      const stacks = d.stacksBytes ?? NaN;
      const mb = (b: number): string => `${(b / 1e6).toFixed(1)} MB`;
      return `| ${name} | ${n0(d.segments)} (${n0(2 * d.segments)}) | ${n0(d.rowsStored)} | ${mb(d.bytesOnDisk)} = ${mb(d.bytesOnDisk - stacks)} + ${mb(stacks)} | ${n2(d.bytesOnDisk / d.samplesStored)} | ${n2(d.bytesOnDisk / d.rowsStored)} |`;
    }),
  ];
  const queries = [
    `| query | data | files touched | 1 querier p50 / p99 | warm querier CPU (median run) | cold: wall / querier CPU | cold ÷ warm (wall / CPU) | cold from a stack catalog snapshot: wall / CPU (CPU ÷ warm) | DuckDB (${b.duckThreads} threads) p50 / p99 | 1 querier ÷ DuckDB p50 | 2 queriers p50 / p99 | gateway → 1 querier p50 / p99 (gateway CPU, median run) | totals |`,
    '|---|---|---|---|---|---|---|---|---|---|---|---|---|',
  ];
  r.queries.forEach((seg, i) => {
    const pairs: Array<[string, QueryRow | undefined]> = [
      ['level-0 segments', seg],
      [level, b.queries[i]],
    ];
    for (const [name, q] of pairs) {
      if (!q) continue;
      const c = q.cold;
      const coldRatio = c && q.one ? `${n2(c.wallMs / q.one.p50)}× / ${q.warmCpuSec ? `${n2(c.cpuSec / q.warmCpuSec)}×` : '—'}` : '—';
      const totals = q.verified ? 'equal' : `**differ** (${q.note ?? ''})`;
      const snap = q.coldSnapshot;
      const snapCell = snap ? `${ms(snap.wallMs)} / ${snap.cpuSec.toFixed(3)} s${q.warmCpuSec ? ` (${n2(snap.cpuSec / q.warmCpuSec)}×)` : ''}` : '—';
      const cells = [
        q.name,
        name,
        n0(2 * q.segments),
        lat(q.one),
        q.warmCpuSec !== undefined ? `${q.warmCpuSec.toFixed(3)} s` : '—',
        c ? `${ms(c.wallMs)} / ${c.cpuSec.toFixed(3)} s` : '—',
        coldRatio,
        snapCell,
        lat(q.duck),
        ratio(q.one, q.duck),
        lat(q.two),
        `${lat(q.viaGateway)}${q.gatewayCpuSec !== undefined ? ` (${q.gatewayCpuSec.toFixed(3)} s)` : ''}`,
        totals,
      ];
      queries.push(`| ${cells.join(' | ')} |`);
    }
  });
  return [footprint.join('\n'), '', queries.join('\n')].join('\n');
}

export function blocksSection(r: QueryReport, b: BlocksReport): string {
  const c = b.compaction;
  const what =
    c.level === 1 ? 'L1: 5-minute blocks, exact timestamps; L2 held off' : `L${c.level}: the compactor's default levels, hourly blocks with 10 s buckets`;
  return [
    `### The same queries on compacted blocks (${what})`,
    '',
    `\`apps/compactor\` ran as its own process on a copy of the dataset (\`<dir>/blocks-l${c.level}\`, kept for reruns) until the`,
    `manifest held no segment below L${c.level}; then DuckDB and the same phases ran on the blocks, right after the`,
    `level-0 phases above. Load average ${b.loadAvg} before these queries, ${b.loadAvgAfter} after.`,
    '',
    compactionTable(b),
    '',
    comparisonTables(r, b),
    '',
    phaseTable(b.phases),
    '',
    targetTable(b.queries),
    '',
  ].join('\n');
}

const START = '<!-- bench:query:fleet-1h:start -->';
const END = '<!-- bench:query:fleet-1h:end -->';

/**
 * Replaces the query section between its markers, or appends it at the end of the file (the
 * ingest section is someone else's: nothing outside the markers is touched).
 */
export function upsertQuerySection(path: string, section: string): void {
  const block = `${START}\n${section}\n${END}`;
  const text = existsSync(path) ? readFileSync(path, 'utf8') : '# Benchmarks\n';
  const i = text.indexOf(START);
  const j = text.indexOf(END);
  const next = i >= 0 && j > i ? text.slice(0, i) + block + text.slice(j + END.length) : `${text.trimEnd()}\n\n${block}\n`;
  writeFileSync(path, next);
}

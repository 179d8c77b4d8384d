// In-process timing of the read path over a dataset kept by query.bench.ts (`--dir`): the engine's
// merged stacks and the flame graph arrow built from them, without gRPC or a second process, so
// a change to the engine can be measured (and profiled with node --cpu-prof) in seconds.
//
//   node scripts/run-ts.cjs bench/query/engine-profile.ts --dir DIR [--runs 5] [--rounds 1] [--namespace ns-3] [--series] [--workers 2] [--max-nodes 65536]
//     [--series-cache-bytes N (0 = scan rows on every series query, as before series tables)]
//     [--footer-cache-bytes N (0 = read each segment's size and footer on every query)]
//     [--snapshot] [--drop-snapshot] [--preload] [--series-preload] [--from 0.5 (start that far into the data, plus 1.234 s: a range cutting a segment)]
//     [--report arrow (Parca's flame graph record, the default) | pyroscope (Pyroscope's flame graph, what Grafana gets) | pprof (Parca's PPROF report, gzip) | pprof-message (Pyroscope's SelectMergeProfile answer, encoded as the RPC layer does)] [--encode (with pyroscope: its response encoded as Level messages vs pre-encoded levels)]
//     [--symbols none (no resolver, the default) | memory (a querier's resolver over an empty in-memory symbol cache: every frame 'pending', as the query bench's queriers answer)]
//
// --snapshot: engines keep the stack catalog snapshot in the dir's object storage (written when a
// round's engine closes, loaded by the next round's, or by the first round of the next process);
// --drop-snapshot deletes the tenant's snapshot first; --preload loads it before each round's
// first query (as a querier does before ready) and prints that load's CPU. Both change the kept dir: use a copy.
// --series-preload: reads the last hour's series tables and runs the warm-up sum before each
// round's first query (a querier's FIRN_QUERIER_SERIES_PRELOAD before ready), and prints its CPU.
//
// Each round starts a fresh QueryEngine (empty stack catalog): its first run is cold, the rest
// warm. The summary gives the cold run's CPU (the first round's also pays JIT and wasm start-up,
// as a querier's first query does) against the median warm run of the same process.
import { resolve } from 'node:path';
import { tableFromIPC } from 'apache-arrow';
import { create, equals, fromBinary, toBinary } from '@bufbuild/protobuf';
import { googleV1, querierV1 } from '@firn/proto';
import { encodedLevels } from '@firn/querier';
import { parseArgs } from 'node:util';
import { ManifestLog } from '@firn/manifest';
import { MemoryLruCache } from '@firn/cache';
import { CachedSymbolResolver } from '@firn/debuginfo';
import { createLogger, Registry } from '@firn/observability';
import { catalogSnapshotKey, NO_SYMBOLS, QueryEngine, symbolize, type SymbolResolver } from '@firn/query';
import { flamegraphArrow, pyroscopeFlameGraph, stackProfileToPprof, stackProfileToPprofMessage } from '@firn/reports';
import { tenantFromTrustedSource } from '@firn/tenancy';
import { FLEET_PROFILE_TYPE } from '../fleet/fleet-1h';
import { intArg } from '../cli';
import { startStack } from './stack';

const { values: args } = parseArgs({
  options: {
    dir: { type: 'string' },
    runs: { type: 'string', default: '5' },
    rounds: { type: 'string', default: '1' },
    namespace: { type: 'string' },
    series: { type: 'boolean', default: false },
    concurrency: { type: 'string' },
    workers: { type: 'string', default: '1' },
    'max-nodes': { type: 'string', default: '0' },
    'flame-runs': { type: 'string', default: '1' },
    'series-cache-bytes': { type: 'string' },
    'footer-cache-bytes': { type: 'string' },
    snapshot: { type: 'boolean', default: false },
    preload: { type: 'boolean', default: false },
    'series-preload': { type: 'boolean', default: false },
    'drop-snapshot': { type: 'boolean', default: false },
    from: { type: 'string', default: '0' },
    report: { type: 'string', default: 'arrow' },
    encode: { type: 'boolean', default: false },
    symbols: { type: 'string', default: 'none' },
  },
  strict: true,
});

/**
 * --encode: the SelectMergeStacktraces response of a Pyroscope flame graph made and encoded as
 * the querier did before (Level messages, one BigInt per value) and as it does for binary
 * responses (pre-encoded levels), each timed in CPU ms; the two are checked to decode equal.
 */
function encodeBothWays(g: ReturnType<typeof pyroscopeFlameGraph>, encodedFirst: boolean): { messagesMs: number; encodedMs: number } {
  const S = querierV1.SelectMergeStacktracesResponseSchema;
  const init = { names: g.names, total: BigInt(Math.round(g.total)), maxSelf: BigInt(Math.round(g.maxSelf)) };
  const asMessages = (): Uint8Array => {
    const levels = g.levels.map((l) => create(querierV1.LevelSchema, { values: l.values.map((v) => BigInt(Math.round(v))) }));
    return toBinary(S, create(S, { flamegraph: create(querierV1.FlameGraphSchema, { ...init, levels }) }));
  };
  const preEncoded = (): Uint8Array => {
    const fg = create(querierV1.FlameGraphSchema, init);
    fg.$unknown = encodedLevels(g.levels);
    return toBinary(S, create(S, { flamegraph: fg }));
  };
  const timed = (fn: () => Uint8Array): { bytes: Uint8Array; ms: number } => {
    const c0 = process.cpuUsage();
    const bytes = fn();
    return { bytes, ms: cpuMsOf(c0, process.cpuUsage()) };
  };
  // Alternating which goes first, so neither always pays the other's garbage.
  let a: ReturnType<typeof timed>;
  let b: ReturnType<typeof timed>;
  if (encodedFirst) {
    b = timed(preEncoded);
    a = timed(asMessages);
  } else {
    a = timed(asMessages);
    b = timed(preEncoded);
  }
  if (!equals(S, fromBinary(S, a.bytes), fromBinary(S, b.bytes))) throw new Error('pre-encoded levels decode differently from Level messages');
  return { messagesMs: a.ms, encodedMs: b.ms };
}

/** CPU time between two process.cpuUsage() readings: on a busy machine wall time says little. */
function cpuMsOf(a: NodeJS.CpuUsage, b: NodeJS.CpuUsage): number {
  return (b.user - a.user + b.system - a.system) / 1000;
}

function cpuMs(a: NodeJS.CpuUsage, b: NodeJS.CpuUsage): string {
  return `${cpuMsOf(a, b).toFixed(0)} ms`;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s.length % 2 === 1 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

/** One run's wall and CPU (whole query: merge + flame graph, or the series query). */
interface RunCost {
  wallMs: number;
  cpuMs: number;
}

async function main(): Promise<void> {
  if (!args.dir) throw new Error('--dir is required (a directory kept by query.bench.ts --dir)');
  const tenant = tenantFromTrustedSource('bench-query');
  const stack = await startStack(resolve(args.dir), tenant);
  const manifest = await ManifestLog.open({ bus: stack.bus, store: stack.store });
  let engine: QueryEngine | undefined;
  try {
    await manifest.syncToLatest();
    if (args['drop-snapshot']) await stack.store.delete(catalogSnapshotKey(tenant));
    const segs = manifest.validSegments(tenant).map((s) => s.meta);
    const firstMs = Math.min(...segs.map((s) => Number(s.minTimeUnixNano / 1_000_000n)));
    const endMs = Math.max(...segs.map((s) => Number(s.maxTimeUnixNano / 1_000_000n))) + 1;
    if (!['arrow', 'pyroscope', 'pprof', 'pprof-message'].includes(args.report))
      throw new Error(`--report must be arrow, pyroscope, pprof or pprof-message, got ${args.report}`);
    const from = Number(args.from);
    if (!(from >= 0 && from < 1)) throw new Error(`--from must be a fraction in [0, 1), got ${args.from}`);
    const startMs = from === 0 ? firstMs : firstMs + Math.floor((endMs - firstMs) * from) + 1_234;
    if (args.symbols !== 'none' && args.symbols !== 'memory') throw new Error(`--symbols must be none or memory, got ${args.symbols}`);
    const resolver: SymbolResolver =
      args.symbols === 'memory'
        ? new CachedSymbolResolver({
            cache: new MemoryLruCache({ maxBytes: 64 << 20 }),
            log: createLogger({ level: 'silent', component: 'bench' }),
            registry: new Registry(),
          })
        : NO_SYMBOLS;
    const selector = `${FLEET_PROFILE_TYPE}{${args.namespace ? `namespace="${args.namespace}"` : ''}}`;
    const cold: RunCost[] = [];
    const warm: RunCost[] = [];
    const encodings: Array<{ messagesMs: number; encodedMs: number }> = [];
    for (let round = 0; round < Number(args.rounds); round++) {
      await engine?.close();
      engine = new QueryEngine({
        store: stack.store,
        view: manifest.state,
        concurrency: args.concurrency ? Number(args.concurrency) : undefined,
        scanWorkers: Number(args.workers),
        seriesCacheBytes: args['series-cache-bytes'] !== undefined ? intArg('series-cache-bytes', args['series-cache-bytes'], 0) : undefined,
        footerCacheBytes: args['footer-cache-bytes'] !== undefined ? intArg('footer-cache-bytes', args['footer-cache-bytes'], 0) : undefined,
        catalogSnapshots: args.snapshot
          ? {
              onEvent: (e) =>
                console.log(
                  `snapshot ${e.op}: ${e.outcome}${e.bytes === undefined ? '' : `, ${e.bytes} B`}, ${(e.seconds * 1000).toFixed(0)} ms${e.error ? ` (${e.error})` : ''}`,
                ),
            }
          : undefined,
      });
      if (args.preload) {
        const c0 = process.cpuUsage();
        const t0 = performance.now();
        await engine.preloadCatalogs(1);
        console.log(`preload: ${(performance.now() - t0).toFixed(0)} ms wall, cpu ${cpuMs(c0, process.cpuUsage())}`);
      }
      if (args['series-preload']) {
        const c0 = process.cpuUsage();
        const t0 = performance.now();
        const r = await engine.preloadSeriesTables(1, 3_600_000);
        console.log(`series preload: ${r.tables} tables, ${(performance.now() - t0).toFixed(0)} ms wall, cpu ${cpuMs(c0, process.cpuUsage())}`);
      }
      for (let i = 0; i < Number(args.runs); i++) {
        const t0 = performance.now();
        const c0 = process.cpuUsage();
        if (args.series) {
          const b = await engine.series(tenant, selector, startMs, endMs, Math.ceil((endMs - startMs) / 60), ['namespace']);
          let total = 0;
          for (const pts of b.values()) for (const p of pts.values()) total += p.value;
          const cost = { wallMs: performance.now() - t0, cpuMs: cpuMsOf(c0, process.cpuUsage()) };
          (i === 0 ? cold : warm).push(cost);
          const cache = engine.seriesCacheStats();
          const held = cache
            ? `; series tables: ${cache.segments} segments, ${(cache.bytes / 2 ** 20).toFixed(1)} MiB, ${cache.hits} hits, ${cache.misses} misses`
            : '';
          console.log(`series: ${cost.wallMs.toFixed(0)} ms (cpu ${cost.cpuMs.toFixed(0)} ms), ${b.size} series, total ${total}${held}`);
          continue;
        }
        const merged = await engine.mergeStacks(tenant, selector, startMs, endMs);
        // As the querier does before every report (no symbol cache here: frames get their unnamed reason).
        const p = await symbolize(tenant, merged, resolver);
        const t1 = performance.now();
        const c1 = process.cpuUsage();
        const fgOpts = { maxNodes: Number(args['max-nodes']) };
        // Parca's Arrow record (Parca UI, our UI), or Pyroscope's flame graph (Grafana).
        const render = (): string => {
          if (args.report === 'pprof') return `${stackProfileToPprof(p, { startMs, endMs }).length} B of gzip pprof`;
          if (args.report === 'pprof-message')
            return `${toBinary(googleV1.ProfileSchema, stackProfileToPprofMessage(p, { startMs, endMs })).length} B of pprof`;
          if (args.report === 'pyroscope') {
            const g = pyroscopeFlameGraph(p, fgOpts);
            if (args.encode) encodings.push(encodeBothWays(g, encodings.length % 2 === 1));
            return `${g.levels.reduce((n, l) => n + l.values.length / 4, 0)} nodes (pyroscope)`;
          }
          const fg = flamegraphArrow(p, fgOpts);
          return `${fg.record.length} B, ${tableFromIPC(fg.record).numRows} nodes`;
        };
        let shape = render();
        for (let k = 1; k < Number(args['flame-runs']); k++) shape = render();
        const t2 = performance.now();
        const c2 = process.cpuUsage();
        (i === 0 ? cold : warm).push({ wallMs: t2 - t0, cpuMs: cpuMsOf(c0, c2) });
        console.log(
          `${i === 0 ? 'cold' : 'warm'} merge + symbolize ${(t1 - t0).toFixed(0)} ms (cpu ${cpuMs(c0, c1)}) + flame graph ${(t2 - t1).toFixed(0)} ms (cpu ${cpuMs(c1, c2)}) = ${(t2 - t0).toFixed(0)} ms; ${p.stacks.length} stacks, total ${p.total}, ${shape}`,
        );
      }
    }
    if (encodings.length > 1) {
      // The first render of the process pays the encoders' JIT: left out.
      const later = encodings.slice(1);
      const [messages, encoded] = [median(later.map((e) => e.messagesMs)), median(later.map((e) => e.encodedMs))];
      console.log(
        `response encoding (median of ${later.length}): Level messages ${messages.toFixed(1)} ms cpu, pre-encoded levels ${encoded.toFixed(1)} ms cpu (${(encoded / messages).toFixed(2)}×)`,
      );
    }
    const w = { wallMs: median(warm.map((r) => r.wallMs)), cpuMs: median(warm.map((r) => r.cpuMs)) };
    const fmt = (r: RunCost): string => `${r.cpuMs.toFixed(0)} ms cpu / ${r.wallMs.toFixed(0)} ms wall`;
    console.log(`summary: cold ${cold.map(fmt).join(', ')}; warm median (${warm.length} runs) ${fmt(w)}`);
    console.log(`summary: cold ÷ warm CPU ${cold.map((c) => (c.cpuMs / w.cpuMs).toFixed(2)).join(', ')} (first round includes JIT and wasm start-up)`);
  } finally {
    await engine?.close();
    await manifest.close();
    await stack.stop();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);

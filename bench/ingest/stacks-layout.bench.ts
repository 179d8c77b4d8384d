// An ingester flush's segment build with stacks.parquet v2 (frame ids into one table of distinct
// frames) against v1 (every stack's frames in full), in one process, alternating runs. Fleet:
// the WriteArrow payloads of 100 agents × 6 windows decoded as the ingester decodes them (frames
// interned process-wide), built `--per-flush` requests per segment (20 ≈ a flush at the fleet's
// rate, 120 ≈ the ingest bench's segments under load, 600 = the whole slice). Reports the median
// wall of `buildSegment` per segment and the bytes. The layout's worst case (every frame
// occurrence its own object, a third of them distinct) is the segments bench's synthetic data:
// `libs/segments/bench/segments.bench.ts --stacks-layout v1|v2`.
//
//   node scripts/run-ts.cjs bench/ingest/stacks-layout.bench.ts [--runs 9] [--per-flush 20,120,600]
import { cpus } from 'node:os';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { samplesFromArrow, type SampleBatch } from '@firn/profiles';
import { buildSegment } from '@firn/segments';
import { READER_LIMITS } from './floor';
import { prepareSlice } from './payloads';

const { values: args } = parseArgs({
  options: { runs: { type: 'string', default: '9' }, 'per-flush': { type: 'string', default: '20,120,600' } },
});
const runs = Number(args.runs);
const LAYOUTS = ['v1', 'v2'] as const;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor((s.length - 1) / 2)];
}

function compare(what: string, segments: SampleBatch[][]): void {
  const ms: Record<string, number[]> = { v1: [], v2: [] };
  const bytes: Record<string, number> = { v1: 0, v2: 0 };
  const stacksBytes: Record<string, number> = { v1: 0, v2: 0 };
  for (let r = 0; r < runs; r++) {
    for (const layout of r % 2 === 0 ? LAYOUTS : [...LAYOUTS].reverse()) {
      let total = 0;
      let all = 0;
      let stacks = 0;
      for (const batches of segments) {
        const t0 = performance.now();
        const built = buildSegment(batches, { stacksLayout: layout });
        total += performance.now() - t0;
        all += built.samples.byteLength + built.stacks.byteLength;
        stacks += built.stacks.byteLength;
      }
      ms[layout].push(total / segments.length);
      bytes[layout] = all / segments.length;
      stacksBytes[layout] = stacks / segments.length;
    }
  }
  const [a, b] = [median(ms.v1), median(ms.v2)];
  const kb = (n: number): string => `${(n / 1024).toFixed(0)} KB`;
  console.log(
    `| ${what} | ${a.toFixed(0)} ms, ${kb(stacksBytes.v1)} / ${kb(bytes.v1)} | ${b.toFixed(0)} ms, ${kb(stacksBytes.v2)} / ${kb(bytes.v2)} | ${(a / b).toFixed(2)}× | ${((1 - bytes.v2 / bytes.v1) * 100).toFixed(0)} % |`,
  );
}

function main(): void {
  console.log(`machine: nproc ${cpus().length}, node ${process.version}, ${runs} runs per layout (median)`);
  const slice = prepareSlice({ seed: 1, agents: 100, windows: 6 }, { arrow: true, pprof: false });
  const decoded = slice.windows.map((w) => samplesFromArrow(w.arrow, READER_LIMITS));
  console.log('| segment | v1: buildSegment, stacks / samples + stacks bytes | v2: same | v1 ÷ v2 time | bytes saved |');
  console.log('|---|---|---|---|---|');
  for (const perFlush of args['per-flush'].split(',').map(Number)) {
    const segments: SampleBatch[][] = [];
    for (let i = 0; i < decoded.length; i += perFlush) segments.push(decoded.slice(i, i + perFlush));
    compare(`fleet-1h, ${perFlush} requests per segment (${segments.length} segments)`, segments);
  }
}

main();

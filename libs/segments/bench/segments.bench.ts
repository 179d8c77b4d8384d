// Micro-benchmark of segment write/read on fleet-1h-like data (see /work/shared/bench/FLEET-1H.md).
// Usage: node scripts/run-ts.cjs libs/segments/bench/segments.bench.ts [--windows 6] [--agents 100]
//        [--stacks 20000] [--runs 5] [--row-group-rows 65536] [--stacks-layout v2|v1]
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { DuckDBInstance } from '@duckdb/node-api';
import { buildSegment, readSegmentSamples, readSegmentStacks, totalsBySeriesAndStack, type BuiltSegment } from '../src';
import { mergeBatches } from '../src/merge-batches';
import { decodeSeriesRollup, encodeSeriesRollup, seriesRollupOf } from '../src/series-rollup';
import { fleetBatches } from '../src/testing/synthetic-batches';

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
}

function stats(ms: number[]): { p50: number; max: number } {
  const s = [...ms].sort((a, b) => a - b);
  return { p50: s[Math.floor((s.length - 1) / 2)], max: s[s.length - 1] };
}

async function time<T>(runs: number, fn: () => T | Promise<T>): Promise<{ result: T; p50: number; max: number }> {
  const ms: number[] = [];
  let result: T | undefined;
  for (let r = 0; r < runs; r++) {
    const t0 = performance.now();
    result = await fn();
    ms.push(performance.now() - t0);
  }
  return { result: result as T, ...stats(ms) };
}

const fmt = (n: number, d = 0) => n.toLocaleString('en-US', { maximumFractionDigits: d });

async function main(): Promise<void> {
  const windows = arg('windows', 6);
  const agents = arg('agents', 100);
  const distinctStacks = arg('stacks', 20_000);
  const runs = arg('runs', 5);
  const rowGroupRows = arg('row-group-rows', 65_536);
  const layoutAt = process.argv.indexOf('--stacks-layout');
  const stacksLayout = layoutAt > 0 && process.argv[layoutAt + 1] === 'v1' ? 'v1' : 'v2';
  console.log(`machine: nproc=${cpus().length} mem=${Math.round(totalmem() / 2 ** 30)}GiB node=${process.version}`);
  console.log(
    `data: ${agents} agents × 8 pods, ${distinctStacks} distinct stacks, ${windows} × 10 s windows, Zipf(1.1); row groups ${rowGroupRows}; stacks ${stacksLayout}`,
  );

  const t0 = performance.now();
  const batches = fleetBatches({ seed: 42, agents, podsPerAgent: 8, distinctStacks, samplesPerPodWindow: 47, windows, startMs: 1_700_000_000_000 });
  const inputRows = batches.reduce((a, b) => a + b.length, 0);
  console.log(`generated ${batches.length} batches, ${fmt(inputRows)} input rows in ${fmt(performance.now() - t0)} ms`);

  const merge = await time(runs, () => mergeBatches(batches));
  const build = await time(runs, () => buildSegment(batches, { rowGroupRows, stacksLayout }));
  const built: BuiltSegment = build.result;
  const { rows, samples } = built.meta;
  console.log(`segment: ${fmt(rows)} rows, ${fmt(samples)} samples, ${fmt(merge.result.stacks.length)} stacks`);
  console.log(
    `bytes: samples.parquet ${fmt(built.samples.byteLength)} (${fmt(built.samples.byteLength / rows, 2)} B/row, ${fmt(built.samples.byteLength / samples, 2)} B/sample); ` +
      `stacks.parquet ${fmt(built.stacks.byteLength)} (${fmt(built.stacks.byteLength / merge.result.stacks.length, 1)} B/stack); ` +
      `series.arrow.gz ${fmt(built.series.byteLength)} (${fmt(built.series.byteLength / rows, 2)} B/row); ` +
      `total ${fmt(built.meta.bytes / samples, 2)} B/sample`,
  );
  console.log(`merge (concat+dedup+sort): p50 ${fmt(merge.p50)} ms, max ${fmt(merge.max)} ms → ${fmt(inputRows / (merge.p50 / 1000))} input rows/s`);
  console.log(
    `buildSegment (merge + Arrow + 2× Parquet + series rollup): p50 ${fmt(build.p50)} ms, max ${fmt(build.max)} ms → ${fmt(rows / (build.p50 / 1000))} rows/s, ${fmt(samples / (build.p50 / 1000))} samples/s`,
  );

  // The series rollup inside buildSegment, and what it saves a series query: decoding the rollup
  // against reading the row columns a series table is otherwise built from.
  const rollup = await time(runs, () => encodeSeriesRollup(seriesRollupOf(merge.result)));
  console.log(`series rollup (sum + encode): p50 ${fmt(rollup.p50)} ms = ${fmt((100 * rollup.p50) / build.p50, 1)} % of buildSegment`);
  const decode = await time(runs, () => decodeSeriesRollup(built.series));
  const seriesCols = await time(runs, () => readSegmentSamples(built.samples, { columns: ['series_id', 'timestamp', 'value', 'duration'] }));
  console.log(
    `series query read: rollup decode p50 ${fmt(decode.p50, 1)} ms vs samples (series_id, timestamp, value, duration) p50 ${fmt(seriesCols.p50)} ms (${fmt(seriesCols.p50 / decode.p50, 1)}×, before any summing)`,
  );

  const readAll = await time(runs, () => readSegmentSamples(built.samples));
  console.log(`read samples (all columns): p50 ${fmt(readAll.p50)} ms, max ${fmt(readAll.max)} ms → ${fmt(rows / (readAll.p50 / 1000))} rows/s`);
  const readProj = await time(runs, () => readSegmentSamples(built.samples, { columns: ['stack_id', 'value'] }));
  console.log(`read samples (stack_id, value): p50 ${fmt(readProj.p50)} ms, max ${fmt(readProj.max)} ms → ${fmt(rows / (readProj.p50 / 1000))} rows/s`);
  const readStacks = await time(runs, () => readSegmentStacks(built.stacks));
  console.log(
    `read stacks (decode frames): p50 ${fmt(readStacks.p50)} ms, max ${fmt(readStacks.max)} ms → ${fmt(readStacks.result.size / (readStacks.p50 / 1000))} stacks/s`,
  );
  const totals = await time(runs, () => totalsBySeriesAndStack(built.samples, built.stacks));
  console.log(`totalsBySeriesAndStack: p50 ${fmt(totals.p50)} ms, max ${fmt(totals.max)} ms (${fmt(totals.result.size)} keys)`);

  // Same aggregate in DuckDB over the same files: total per stack key.
  const dir = await mkdtemp(join(tmpdir(), 'firn-segments-bench-'));
  const instance = await DuckDBInstance.create(':memory:');
  const db = await instance.connect();
  try {
    const s = join(dir, 'samples.parquet');
    const k = join(dir, 'stacks.parquet');
    await writeFile(s, built.samples);
    await writeFile(k, built.stacks);
    const sql = `SELECT k.stack_key, sum(s.value) AS total FROM read_parquet('${s}') s JOIN read_parquet('${k}') k USING (stack_id) GROUP BY 1`;
    const duck = await time(runs, async () => (await db.runAndReadAll(sql)).currentRowCount);
    const ourPerStack = await time(runs, async () => {
      const t = await readSegmentSamples(built.samples, { columns: ['stack_id', 'value'] });
      const sums = new Float64Array(merge.result.stacks.length);
      for (const b of t.batches) {
        const ids = b.getChild('stack_id')?.data[0].values as Uint32Array;
        const vals = b.getChild('value')?.data[0].values as BigInt64Array;
        for (let i = 0; i < b.numRows; i++) sums[ids[i]] += Number(vals[i]);
      }
      return sums.length;
    });
    console.log(
      `total per stack: DuckDB p50 ${fmt(duck.p50)} ms (${fmt(duck.result)} groups); ours (projected read + typed-array sum) p50 ${fmt(ourPerStack.p50)} ms`,
    );
  } finally {
    db.closeSync();
    instance.closeSync();
    await rm(dir, { recursive: true, force: true });
  }
  console.log(`peak RSS ${fmt(process.resourceUsage().maxRSS / 1024)} MiB`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});

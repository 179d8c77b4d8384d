// Micro-benchmark for the ingest decoders. Prints numbers; asserts nothing.
// Run: node scripts/run-ts.cjs libs/profiles/bench/profiles.bench.ts [samples]
import { samplesFromArrow, samplesFromPprof, samplesToArrow } from '../src/index';
import { syntheticCpuPprof } from '../src/pprof-fixtures';

const SAMPLES = Number(process.argv[2] ?? 50_000);
const ROUNDS = 8;

function measure(label: string, bytes: number, samples: number, fn: () => void): void {
  for (let i = 0; i < 2; i++) fn(); // warm up the JIT
  // CPU time (user + system) of this process, so a busy shared machine skews less than wall time.
  const times: number[] = [];
  const walls: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    const c0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    fn();
    walls.push(Number(process.hrtime.bigint() - t0) / 1e9);
    const c = process.cpuUsage(c0);
    times.push((c.user + c.system) / 1e6);
  }
  times.sort((a, b) => a - b);
  walls.sort((a, b) => a - b);
  const median = times[Math.floor(times.length / 2)];
  const wall = walls[Math.floor(walls.length / 2)];
  console.log(
    `${label.padEnd(34)} cpu ${(median * 1000).toFixed(1).padStart(7)} ms (wall ${(wall * 1000).toFixed(1)} ms)  ` +
      `${(samples / median / 1e6).toFixed(2).padStart(6)} M samples/s  ${(bytes / median / 1e6).toFixed(1).padStart(6)} MB/s`,
  );
}

const { raw, gz } = syntheticCpuPprof({ samples: SAMPLES, minDepth: 10, maxDepth: 30, functions: 2000 });
const limits = { maxDecompressedBytes: 512 << 20, maxSamples: 10_000_000, maxStackDepth: 1000 };
const opts = { name: 'process_cpu', seriesLabels: [['service_name', 'bench']] as Array<[string, string]>, nowMs: Date.now(), limits };
const batch = samplesFromPprof(gz, opts);
console.log(`pprof: ${SAMPLES} samples, depth 10-30, raw ${(raw.length / 1e6).toFixed(2)} MB, gzip ${(gz.length / 1e6).toFixed(2)} MB`);
console.log(`batch: ${batch.length} rows, ${batch.stacks.length} stacks`);
measure('pprof decode (gzip input)', gz.length, SAMPLES, () => samplesFromPprof(gz, opts));
measure('pprof decode (raw input)', raw.length, SAMPLES, () => samplesFromPprof(raw, opts));

const ipc = samplesToArrow(batch);
console.log(`arrow: ${batch.length} rows, ${(ipc.length / 1e6).toFixed(2)} MB IPC`);
measure('arrow encode (samplesToArrow)', ipc.length, batch.length, () => samplesToArrow(batch));
measure('arrow decode (samplesFromArrow)', ipc.length, batch.length, () =>
  samplesFromArrow(ipc, { maxRows: 10_000_000, maxStackDepth: 1000, maxBytes: 1 << 30 }),
);

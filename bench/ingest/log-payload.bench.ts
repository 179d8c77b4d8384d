// What the ingest log's payload format costs the WriteRaw path, in one process on fleet-1h's pprof
// requests (100 agents × 6 windows, as ingest.bench.ts pushes them), per pass of the 600 requests:
//
//   gateway decode    gunzip + Firn's pprof decode of each request into one batch (what the
//                     gateway does to validate and count it, whatever it then appends)
//   Arrow encode      samplesToArrow of those batches (what it appends to the log today)
//   ingester decode   samplesFromArrow of those Arrow bytes (frames and stacks interned
//                     process-wide, as a running ingester has them)
//   floor             gunzip + @bufbuild/protobuf decode (the same-run floor of ingest.bench.ts)
//
// and the bytes each format puts in the log. Appending the client's gzip pprof instead would
// save the gateway its Arrow encode and cost the ingester a pprof decode in place of its Arrow
// decode; the last line estimates that trade from the figures above (the ingester's pprof decode
// taken as the gateway's, which interns per request rather than process-wide).
//
//   node scripts/run-ts.cjs bench/ingest/log-payload.bench.ts [--repeat 3] [--min-cpu-sec 4]
import { parseArgs } from 'node:util';
import { SampleBatchBuilder, pprofIntoBuilder, samplesFromArrow, samplesToArrow, type SampleBatch } from '@firn/profiles';
import { cpuPerPass, decodeFloor, READER_LIMITS } from './floor';
import { prepareSlice, type PreparedWindow } from './payloads';

const { values: args } = parseArgs({ options: { repeat: { type: 'string', default: '3' }, 'min-cpu-sec': { type: 'string', default: '4' } } });
const repeat = Number(args.repeat);
const minCpuSec = Number(args['min-cpu-sec']);

const PPROF_LIMITS = { maxDecompressedBytes: 512 << 20, maxSamples: 1e7, maxStackDepth: READER_LIMITS.maxStackDepth };

/** One WriteRaw request decoded as the gateway's pprof decoder does: every series into one builder. */
function gatewayDecode(w: PreparedWindow): SampleBatch {
  const builder = new SampleBatchBuilder({ initialCapacity: 1024 });
  for (const s of w.pprof) {
    const seriesLabels = s.labels.filter((l) => l.name !== '__name__').map((l): [string, string] => [l.name, l.value]);
    pprofIntoBuilder(s.rawProfile, { name: 'parca_agent', seriesLabels, nowMs: 0, limits: PPROF_LIMITS }, builder);
  }
  return builder.build();
}

const slice = prepareSlice({ seed: 1, agents: 100, windows: 6 }, { arrow: false, pprof: true });
// The gateway's batches and what it appends today, one per request (made once; the ingester's input).
const batches = slice.windows.map(gatewayDecode);
const arrows = batches.map(samplesToArrow);
const arrowBytes = arrows.reduce((n, a) => n + a.length, 0);
// One untimed decode of every payload, so the timed passes find their frames and stacks interned.
for (const a of arrows) samplesFromArrow(a, READER_LIMITS);
const mb = (b: number): string => `${(b / 1e6).toFixed(1)} MB`;
const ms = (s: number): string => `${(s * 1000).toFixed(0)} ms`;
console.log(
  `${slice.windows.length} WriteRaw requests, ${slice.samples} samples; in the log as Arrow ${mb(arrowBytes)}, as the clients' gzip pprof ${mb(slice.pprofBytes)}`,
);

for (let r = 0; r < repeat; r++) {
  const decode = cpuPerPass((ws) => ws.reduce((n, w) => n + gatewayDecode(w).length, 0), slice.windows, minCpuSec);
  const encode = cpuPerPass((bs) => bs.reduce((n, b) => n + samplesToArrow(b).length, 0), batches, minCpuSec);
  const ingest = cpuPerPass((as) => as.reduce((n, a) => n + samplesFromArrow(a, READER_LIMITS).length, 0), arrows, minCpuSec);
  const floor = decodeFloor('pprof', slice.windows, minCpuSec);
  const trade = encode.cpuSecPerPass - (decode.cpuSecPerPass - ingest.cpuSecPerPass);
  console.log(
    `round ${r}: per pass: gateway decode ${ms(decode.cpuSecPerPass)}, Arrow encode ${ms(encode.cpuSecPerPass)}, ` +
      `ingester decode ${ms(ingest.cpuSecPerPass)}, floor ${ms(floor.cpuSecPerPass)}; ` +
      `gzip pprof in the log would save ≈ ${ms(trade)} of CPU per pass before socket and storage bytes`,
  );
}

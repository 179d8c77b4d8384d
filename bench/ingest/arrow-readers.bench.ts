// Firn's Arrow readers alone on fleet-1h WriteArrow payloads (100 agents × 6 windows, as
// ingest.bench.ts pushes them), in one process: CPU per pass over the 600 requests of the gateway's
// check (checkSamplesArrow) and of the ingester's decode (samplesFromArrow, frames and stacks
// interned process-wide, so every pass after the first finds them known, as a running ingester
// does), and the apache-arrow floor (tableFromIPC) on the same bytes. Each figure is the mean of
// passes repeated until --min-cpu-sec of CPU; --repeat prints that many rounds of all three.
//
//   node scripts/run-ts.cjs bench/ingest/arrow-readers.bench.ts [--repeat 3] [--min-cpu-sec 4]
import { parseArgs } from 'node:util';
import { arrowReaders, decodeFloor } from './floor';
import { prepareSlice } from './payloads';

const { values: args } = parseArgs({ options: { repeat: { type: 'string', default: '3' }, 'min-cpu-sec': { type: 'string', default: '4' } } });
const repeat = Number(args.repeat);
const minCpuSec = Number(args['min-cpu-sec']);

const slice = prepareSlice({ seed: 1, agents: 100, windows: 6 }, { arrow: true, pprof: false });
const ms = (s: number): string => `${(s * 1000).toFixed(0)} ms`;
for (let r = 0; r < repeat; r++) {
  const { check, decode } = arrowReaders(slice.windows, minCpuSec);
  const floor = decodeFloor('arrow', slice.windows, minCpuSec);
  console.log(
    `round ${r}: per pass of ${slice.windows.length} requests: check ${ms(check.cpuSecPerPass)}, decode ${ms(decode.cpuSecPerPass)}, tableFromIPC ${ms(floor.cpuSecPerPass)} (${decode.passes} decode passes)`,
  );
}

// Block size experiment: builds one compacted block straight from fleet-1h batches (no NATS, no
// L0 round trip) in several layouts and reports bytes per sample and per column.
//
//   node scripts/run-ts.cjs bench/compaction/block-size.bench.ts [--agents 100] [--windows 30] [--bucket-ms 10000]
//        [--variants time-key,stack-frames]
//
// Every variant's per-(profile type, series, stack) totals are checked against the first one.
import { parseArgs } from 'node:util';
import type { SampleBatch } from '@firn/profiles';
import { buildSegment, bytesSource, ParquetReader, readSegmentStacks, totalsBySeriesAndStack, type BuildSegmentOptions } from '@firn/segments';
import { fleetWindows } from '../fleet/fleet-1h';

const { values: args } = parseArgs({
  options: {
    agents: { type: 'string', default: '100' },
    windows: { type: 'string', default: '30' },
    'bucket-ms': { type: 'string', default: '10000' },
    /** Comma-separated names of VARIANTS; default all. */
    variants: { type: 'string', default: '' },
  },
});
const BUCKET_MS = Number(args['bucket-ms']);

function bucketed(b: SampleBatch): SampleBatch {
  if (BUCKET_MS <= 0) return b;
  const ts = new Float64Array(b.length);
  for (let i = 0; i < b.length; i++) ts[i] = Math.floor(b.timestampMs[i] / BUCKET_MS) * BUCKET_MS;
  return { ...b, timestampMs: ts };
}

async function columnBytes(bytes: Uint8Array): Promise<string> {
  const r = await ParquetReader.open(bytesSource(bytes));
  try {
    const by = new Map<string, number>();
    for (const rg of r.layout().rowGroups) for (const c of rg.columns) by.set(c.path, (by.get(c.path) ?? 0) + c.compressedBytes);
    return [...by]
      .sort((a, b) => b[1] - a[1])
      .filter(([, n]) => n > 4096)
      .map(([p, n]) => `${p.replace(/^(frames|frame_table)\.list\.item\./, 'f.')} ${(n / 1024).toFixed(0)}K`)
      .join(', ');
  } finally {
    r.close();
  }
}

// The layouts buildSegment can write. Measured and dropped (libs/compaction README): delta or
// plain/byte-stream-split timestamps, delta values, brotli, 256 k-row row groups.
const VARIANTS: Record<string, BuildSegmentOptions> = {
  'time-key': {}, // L0 (ingester)
  'stack-key': { rowOrder: 'stack' },
  'time-frames': { stackOrder: 'frames' },
  'stack-frames': { rowOrder: 'stack', stackOrder: 'frames' }, // compacted blocks
};

async function main(): Promise<void> {
  const fleet = { agents: Number(args.agents), windows: Number(args.windows) };
  const batches: SampleBatch[] = [];
  for (const w of fleetWindows(fleet)) batches.push(bucketed(w.batch));
  const names = args.variants ? args.variants.split(',') : Object.keys(VARIANTS);
  for (const n of names) if (!VARIANTS[n]) throw new Error(`unknown variant ${n}; known: ${Object.keys(VARIANTS).join(', ')}`);
  let reference: Map<string, number> | undefined;
  for (const name of names) {
    const t = performance.now();
    const built = buildSegment(batches, VARIANTS[name]);
    if (name === names[0]) console.log(`distinct stacks: ${(await readSegmentStacks(built.stacks)).size}`);
    const sec = (performance.now() - t) / 1000;
    const totals = await totalsBySeriesAndStack(built.samples, built.stacks);
    let same = true;
    if (!reference) reference = totals;
    else if (reference.size !== totals.size) same = false;
    else for (const [k, v] of reference) if (totals.get(k) !== v) same = false;
    const m = built.meta;
    console.log(
      `${name.padEnd(30)} rows ${m.rows} samples ${m.samples} | samples ${built.samples.byteLength} stacks ${built.stacks.byteLength} | ${(m.bytes / m.samples).toFixed(3)} B/sample (samples obj ${(built.samples.byteLength / m.samples).toFixed(3)}) | build ${sec.toFixed(1)} s | totals equal ${same}`,
    );
    console.log(`    samples: ${await columnBytes(built.samples)}`);
    console.log(`    stacks:  ${await columnBytes(built.stacks)}`);
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});

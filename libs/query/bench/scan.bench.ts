// Measures merge-stacks throughput over many segments: main thread at several concurrencies
// versus N worker_threads each scanning a share of the plan and returning an encoded partial.
// Usage: node scripts/run-ts.cjs libs/query/bench/scan.bench.ts [--segments 8] [--rows 200000] [--stacks 20000] [--workers 2]
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { ManifestState } from '@firn/manifest';
import { SampleBatchBuilder, type Frame } from '@firn/profiles';
import { firnManifestV1 } from '@firn/proto';
import { buildSegment, segmentKeys, writeSegment } from '@firn/segments';
import { LocalDirStore } from '@firn/storage';
import { tenantFromTrustedSource } from '@firn/tenancy';
import { decodePartial, encodePartial, QueryEngine, StackAccumulator } from '../src/index';

const CPU = 'parca_agent:samples:count:cpu:nanoseconds:delta';
const T0 = Date.UTC(2024, 4, 1);
const tenant = tenantFromTrustedSource('bench');

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
}

function argString(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : undefined;
}

function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

async function buildData(dir: string, segments: number, rows: number, stackCount: number): Promise<firnManifestV1.SegmentMeta[]> {
  const store = new LocalDirStore({ dir });
  const r = rng(1);
  const fns = Array.from({ length: 2000 }, (_, i) => `pkg${i % 40}.Func${i}`);
  const stacks: Frame[][] = Array.from({ length: stackCount }, () =>
    Array.from({ length: 8 + Math.floor(r() * 40) }, () => {
      const f = fns[Math.floor(r() * fns.length)];
      return {
        buildId: 'abc',
        mappingFile: '/bin/app',
        address: BigInt(Math.floor(r() * 1e6)),
        functionName: f,
        fileName: `${f}.go`,
        line: 1 + Math.floor(r() * 500),
        inlined: false,
      };
    }),
  );
  const metas: firnManifestV1.SegmentMeta[] = [];
  for (let s = 0; s < segments; s++) {
    const b = new SampleBatchBuilder({ initialCapacity: rows });
    const pt = b.addProfileType(CPU);
    const series = Array.from({ length: 800 }, (_, i) =>
      b.addSeries([
        ['pod', `pod-${i}`],
        ['node', `node-${i % 100}`],
      ]),
    );
    const st = stacks.map((x) => b.addStack(x));
    for (let i = 0; i < rows; i++) {
      const z = Math.floor(stackCount * Math.pow(r(), 3));
      b.addRow(pt, series[Math.floor(r() * series.length)], st[z], 1 + Math.floor(r() * 5), T0 + s * 60_000 + Math.floor(r() * 6) * 10_000, 1e10, 5e7);
    }
    const built = buildSegment([b.build()]);
    const id = `segment${String(s).padStart(4, '0')}`;
    const keys = segmentKeys(tenant, 0, id, '2024-05-01');
    await writeSegment(store, keys, built);
    metas.push(
      create(firnManifestV1.SegmentMetaSchema, {
        id,
        tenantId: tenant,
        objectKey: keys.samples.slice(0, keys.samples.lastIndexOf('/') + 1),
        minTimeUnixNano: BigInt(built.meta.minTimeMs) * 1_000_000n,
        maxTimeUnixNano: BigInt(built.meta.maxTimeMs) * 1_000_000n,
        profileTypes: built.meta.profileTypes,
        labels: built.meta.labels.map((l) => create(firnManifestV1.LabelSummarySchema, l)),
        rows: BigInt(built.meta.rows),
      }),
    );
  }
  return metas;
}

interface Job {
  dir: string;
  segments: Uint8Array[];
}

async function workerMain(): Promise<void> {
  const job = workerData as Job;
  const engine = new QueryEngine({ store: new LocalDirStore({ dir: job.dir }), view: new ManifestState(), concurrency: 2 });
  const segments = job.segments.map((b) => fromBinary(firnManifestV1.SegmentMetaSchema, b));
  // Once to warm up (JIT, wasm), then timed: what a long-lived worker pool would see.
  await engine.partial(tenant, CPU, T0, T0 + 1e9, { segments });
  const t = performance.now();
  const bytes = encodePartial(await engine.partial(tenant, CPU, T0, T0 + 1e9, { segments }));
  parentPort?.postMessage({ bytes, ms: performance.now() - t }, [bytes.buffer as ArrayBuffer]);
}

function runWorker(job: Job): Promise<{ bytes: Uint8Array; ms: number }> {
  // The worker re-enters this file through SWC, like the main thread.
  const w = new Worker(`require('@swc-node/register'); require(${JSON.stringify(__filename)});`, { eval: true, workerData: job });
  return new Promise((resolve, reject) => {
    w.once('message', (m: { bytes: Uint8Array; ms: number }) => resolve(m));
    w.once('error', reject);
  });
}

async function main(): Promise<void> {
  const segCount = arg('segments', 8);
  const rows = arg('rows', 200_000);
  const workers = arg('workers', 2);
  // --keep leaves the data for another run: --dir <that dir> reuses it.
  const reuse = argString('dir');
  const dir = reuse ?? (await mkdtemp(join(tmpdir(), 'firn-query-bench-')));
  try {
    const metaFile = join(dir, 'metas.json');
    let metas: firnManifestV1.SegmentMeta[];
    if (reuse) {
      metas = (JSON.parse(await readFile(metaFile, 'utf8')) as string[]).map((b) => fromBinary(firnManifestV1.SegmentMetaSchema, Buffer.from(b, 'base64')));
    } else {
      metas = await buildData(dir, segCount, rows, arg('stacks', 20_000));
      await writeFile(metaFile, JSON.stringify(metas.map((m) => Buffer.from(toBinary(firnManifestV1.SegmentMetaSchema, m)).toString('base64'))));
    }
    const view = new ManifestState();
    view.applyDelta(create(firnManifestV1.ManifestDeltaSchema, { tenantId: tenant, added: metas }), 1);
    const totalRows = metas.reduce((s, m) => s + Number(m.rows), 0);
    const report = (what: string, ms: number, total: number): void =>
      console.log(`${what.padEnd(28)} ${ms.toFixed(0).padStart(6)} ms  ${((totalRows / ms) * 1000).toFixed(0).padStart(9)} rows/s  total=${total}`);
    for (let run = 0; run < arg('runs', 2); run++) {
      for (const c of arg('workers', 2) === 0 ? [1] : [1, 2, 4]) {
        const engine = new QueryEngine({ store: new LocalDirStore({ dir }), view, concurrency: c });
        const t = performance.now();
        const p = await engine.mergeStacks(tenant, CPU, T0, T0 + 1e9);
        report(`main thread, concurrency ${c}`, performance.now() - t, p.total);
      }
      if (workers === 0) continue;
      const shares: Uint8Array[][] = Array.from({ length: workers }, () => []);
      metas.forEach((m, i) => shares[i % workers].push(toBinary(firnManifestV1.SegmentMetaSchema, m)));
      const parts = await Promise.all(shares.map((segments) => runWorker({ dir, segments })));
      const t = performance.now();
      const acc = new StackAccumulator();
      for (const { bytes } of parts) acc.addPartial(decodePartial(bytes));
      const p = acc.toStackProfile(CPU);
      const merge = performance.now() - t;
      // Workers scan in parallel: the slowest share plus the merge is the query's latency.
      report(`${workers} warm workers + merge`, Math.max(...parts.map((x) => x.ms)) + merge, p.total);
    }
  } finally {
    if (process.argv.includes('--keep')) console.log(`data kept in ${dir}`);
    else if (!reuse) await rm(dir, { recursive: true, force: true });
  }
}

if (isMainThread) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
} else {
  void workerMain();
}

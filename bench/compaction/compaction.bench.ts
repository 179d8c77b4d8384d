// Compaction benchmark: bytes per sample and query latency before/after compacting a fleet-1h
// slice written as L0 segments the way the ingester writes them (one segment per 2 s flush).
//
//   node scripts/run-ts.cjs bench/compaction/compaction.bench.ts [--agents 100] [--windows 30]
//        [--flush-windows 20] [--bucket-ms 0] [--runs 3]
//
// Real NATS (manifest log + leases) from @firn/testing, a LocalDirStore in a temp dir, the
// Compactor from @firn/compaction, and the QueryEngine from @firn/query for the merged flamegraph.
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { create } from '@bufbuild/protobuf';
import { connectBus } from '@firn/bus';
import { Leases } from '@firn/bus';
import { Compactor, type LevelPolicy } from '@firn/compaction';
import { ManifestLog } from '@firn/manifest';
import type { SampleBatch } from '@firn/profiles';
import { firnManifestV1 } from '@firn/proto';
import { QueryEngine } from '@firn/query';
import { buildSegment, newSegmentId, openSegmentObject, segmentDay, segmentKeys, segmentMeta, writeSegment } from '@firn/segments';
import { LocalDirStore } from '@firn/storage';
import { tenantFromTrustedSource } from '@firn/tenancy';
import { startNats } from '@firn/testing';
import { DEFAULT_START_MS, FLEET_PROFILE_TYPE, fleetWindows, resolveFleetOptions } from '../fleet/fleet-1h';

const { values: args } = parseArgs({
  options: {
    agents: { type: 'string', default: '100' },
    windows: { type: 'string', default: '30' },
    'flush-windows': { type: 'string', default: '20' },
    'bucket-ms': { type: 'string', default: '0' },
    runs: { type: 'string', default: '3' },
  },
});
const AGENTS = Number(args.agents);
const WINDOWS = Number(args.windows);
const FLUSH = Number(args['flush-windows']);
const BUCKET_MS = Number(args['bucket-ms']);
const RUNS = Number(args.runs);
const TENANT = tenantFromTrustedSource('fleet');

interface Footprint {
  segments: number;
  bytes: number;
  samplesBytes: number;
  stacksBytes: number;
  rows: number;
  samples: number;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'firn-compaction-bench-'));
  const nats = await startNats();
  const bus = await connectBus({ servers: [nats.url], name: 'compaction-bench' });
  const store = new LocalDirStore({ dir });
  const manifest = await ManifestLog.open({ bus, store });
  try {
    const fleet = { agents: AGENTS, windows: WINDOWS };
    const o = resolveFleetOptions(fleet);
    const startMs = DEFAULT_START_MS;
    const endMs = startMs + o.windows * o.windowSec * 1000;

    // 1. L0: one segment per FLUSH agent-windows, as an ingester flushing every 2 s would cut them.
    let pending: SampleBatch[] = [];
    let seq = 0;
    let writeSec = 0;
    const flush = async (): Promise<void> => {
      if (pending.length === 0) return;
      const t = performance.now();
      const built = buildSegment(pending);
      const id = newSegmentId(Date.now());
      const keys = segmentKeys(TENANT, 0, id, segmentDay(built.meta.minTimeMs));
      await writeSegment(store, keys, built);
      const covered = [create(firnManifestV1.SequenceRangeSchema, { stream: 'FIRN_INGEST', first: BigInt(seq + 1), last: BigInt(seq + pending.length) })];
      seq += pending.length;
      const meta = segmentMeta(built.meta, { id, tenant: TENANT, level: 0, keys, covered, createdAtMs: Date.now() });
      await manifest.publish(create(firnManifestV1.ManifestDeltaSchema, { tenantId: TENANT, added: [meta] }), { msgId: id });
      writeSec += (performance.now() - t) / 1000;
      pending = [];
    };
    for (const w of fleetWindows(fleet)) {
      pending.push(w.batch);
      if (pending.length >= FLUSH) await flush();
    }
    await flush();
    await manifest.syncToLatest();

    const footprint = async (): Promise<Footprint> => {
      const f: Footprint = { segments: 0, bytes: 0, samplesBytes: 0, stacksBytes: 0, rows: 0, samples: 0 };
      for (const e of manifest.validSegments(TENANT)) {
        f.segments++;
        f.bytes += Number(e.meta.bytes);
        f.rows += Number(e.meta.rows);
        f.samples += Number(e.meta.samples);
        for (const [k, part] of [
          ['samples.parquet', 'samplesBytes'],
          ['stacks.parquet', 'stacksBytes'],
        ] as const) {
          f[part] += (await store.head(`${e.meta.objectKey}${k}`))?.size ?? 0;
        }
      }
      return f;
    };
    const engine = new QueryEngine({ store, view: manifest.state });
    const timeQuery = async (): Promise<{ ms: number; total: number; segments: number }> => {
      const times: number[] = [];
      let total = 0;
      await engine.mergeStacks(TENANT, `${FLEET_PROFILE_TYPE}{}`, startMs, endMs); // warm-up
      for (let r = 0; r < RUNS; r++) {
        const t = performance.now();
        const p = await engine.mergeStacks(TENANT, `${FLEET_PROFILE_TYPE}{}`, startMs, endMs);
        times.push(performance.now() - t);
        total = p.total === undefined ? total : Number(p.total);
      }
      return { ms: median(times), total, segments: engine.segmentsFor(TENANT, `${FLEET_PROFILE_TYPE}{}`, startMs, endMs).segments.length };
    };
    const before = await footprint();
    const qBefore = await timeQuery();

    // 2. Compact: one L1 window spanning the slice, merged in one job.
    const windowMs = Math.ceil((endMs - startMs) / 60_000) * 60_000;
    const levels: LevelPolicy[] = [{ level: 1, windowMs, minSegments: 2, minBytes: 1, settleMs: 0, bucketMs: BUCKET_MS }];
    const leases = await Leases.open(bus, { owner: 'bench', ttlMs: 600_000, bucket: 'FIRN_COMPACTOR_LEASES' });
    const compactor = new Compactor({ store, manifest, leases, levels, graceMs: 3_600_000 });
    const t = performance.now();
    const rss0 = process.memoryUsage().rss;
    const reports = await compactor.runOnce();
    const compactSec = (performance.now() - t) / 1000;
    const rss1 = process.memoryUsage().rss;
    const after = await footprint();
    const qAfter = await timeQuery();

    // Where the bytes of the compacted block go, per column (compressed, summed over row groups).
    const columnBytes: string[] = [];
    for (const e of manifest.validSegments(TENANT).slice(0, 1)) {
      for (const obj of ['samples.parquet', 'stacks.parquet']) {
        const reader = await openSegmentObject(store, `${e.meta.objectKey}${obj}`);
        try {
          const byPath = new Map<string, number>();
          for (const rg of reader.layout().rowGroups) for (const c of rg.columns) byPath.set(c.path, (byPath.get(c.path) ?? 0) + c.compressedBytes);
          columnBytes.push(
            `${obj}: ${[...byPath]
              .sort((a, b) => b[1] - a[1])
              .map(([p, b]) => `${p} ${(b / 1024).toFixed(0)} KiB`)
              .join(', ')}`,
          );
        } finally {
          reader.close();
        }
      }
    }
    const bps = (f: Footprint): string => (f.bytes / f.samples).toFixed(3);
    const lines = [
      `## Compaction benchmark (fleet-1h slice: ${AGENTS} agents × ${WINDOWS} windows of ${o.windowSec} s, L0 = ${FLUSH} agent-windows per segment, bucket ${BUCKET_MS} ms)`,
      '',
      `machine: ${cpus().length} × ${cpus()[0]?.model ?? '?'}, load ${loadavg()
        .map((x) => x.toFixed(1))
        .join(' ')}, node ${process.version}`,
      '',
      '| | segments | bytes | samples.parquet | stacks.parquet | rows | samples | B/sample | B/row | merged flamegraph (median of ' + RUNS + ') |',
      '|---|---|---|---|---|---|---|---|---|---|',
      ...(
        [
          ['before (L0)', before, qBefore],
          ['after', after, qAfter],
        ] as const
      ).map(
        ([name, f, q]) =>
          `| ${name} | ${f.segments} | ${f.bytes} | ${f.samplesBytes} | ${f.stacksBytes} | ${f.rows} | ${f.samples} | ${bps(f)} | ${(f.bytes / f.rows).toFixed(2)} | ${q.ms.toFixed(0)} ms over ${q.segments} segments |`,
      ),
      '',
      `compaction: ${reports.length} job(s) [${reports.map((r) => r.outcome).join(', ')}], ${compactSec.toFixed(2)} s wall, ${(before.rows / compactSec / 1e6).toFixed(2)} M rows/s in, RSS +${((rss1 - rss0) / 2 ** 20).toFixed(0)} MiB (${(rss1 / 2 ** 20).toFixed(0)} MiB)`,
      `L0 write (build + write + publish): ${writeSec.toFixed(2)} s`,
      `query totals equal before/after: ${qBefore.total === qAfter.total} (${qAfter.total}); samples preserved: ${before.samples === after.samples}`,
      '',
      'compacted block, compressed bytes per column:',
      ...columnBytes.map((l) => `- ${l}`),
    ];
    console.log(lines.join('\n'));
    if (qBefore.total !== qAfter.total || before.samples !== after.samples) process.exitCode = 1;
  } finally {
    await manifest.close();
    await bus.close();
    await nats.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});

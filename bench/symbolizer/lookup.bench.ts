// Cached symbol lookups per second through the querier's resolver (CachedSymbolResolver) against a
// real redis-server on loopback: the cost a query pays to name its unsymbolized frames.
//
//   node scripts/run-ts.cjs bench/symbolizer/lookup.bench.ts [--addresses 200000] [--frames 5000] [--rounds 20] [--hit-ratio 0.9]
//
// `--frames` distinct unsymbolized frames per query (one batched lookup: a pipeline of MGETs of
// 1000 keys), `--rounds` queries; reports keys/s and per-query latency and CPU percentiles for
// new frame objects every query, then for the same frame objects every query (as a querier's
// stack catalog gives them) with names asked for every time against names remembered
// (FIRN_SYMBOL_NAME_RECHECK), alternating, in the same run.
import { parseArgs } from 'node:util';
import { RedisCache } from '@firn/cache';
import { CachedSymbolResolver, encodeNegative, encodeResolved, symbolKey } from '@firn/debuginfo';
import { createLogger, Registry } from '@firn/observability';
import type { Frame } from '@firn/profiles';
import { tenantFromTrustedSource } from '@firn/tenancy';
import { mulberry32, startRedis } from '@firn/testing';

const { values: args } = parseArgs({
  options: {
    addresses: { type: 'string', default: '200000' },
    frames: { type: 'string', default: '5000' },
    rounds: { type: 'string', default: '20' },
    'hit-ratio': { type: 'string', default: '0.9' },
  },
});
const ADDRESSES = Number(args.addresses);
const FRAMES = Number(args.frames);
const ROUNDS = Number(args.rounds);
const HIT_RATIO = Number(args['hit-ratio']);
const BUILD_IDS = ['5f0c7c9b1a8e2d3f4a6b7c8d9e0f1a2b3c4d5e6f', '0123456789abcdef0123456789abcdef01234567', 'aabbccddeeff00112233445566778899aabbccdd'];

async function main(): Promise<void> {
  const redis = await startRedis();
  const cache = new RedisCache({ url: redis.url, commandTimeoutMs: 10_000 });
  try {
    const tenant = tenantFromTrustedSource('bench');
    const rng = mulberry32(42);
    const inline = [
      { functionName: 'std::vector<int>::push_back', fileName: '/usr/include/c++/12/bits/stl_vector.h', line: 1287, inlined: true },
      { functionName: 'app::Worker::handle_request(app::Request const&)', fileName: '/src/app/worker.cc', line: 212, inlined: false },
    ];
    // Populate: most addresses resolved (some with an inline chain), the rest negative.
    for (let i = 0; i < ADDRESSES; i += 5000) {
      const entries = [];
      for (let j = i; j < Math.min(ADDRESSES, i + 5000); j++) {
        const value = rng() < HIT_RATIO ? encodeResolved(rng() < 0.3 ? inline : inline.slice(1)) : encodeNegative();
        entries.push({ key: symbolKey(tenant, BUILD_IDS[j % BUILD_IDS.length], BigInt(0x1000 + j * 16)), value, ttlSeconds: 3600 });
      }
      await cache.setMany(entries);
    }
    const log = createLogger({ level: 'silent', component: 'bench' });
    const newResolver = (namedRecheckMs?: number) =>
      new CachedSymbolResolver({ cache, log, registry: new Registry(), timeoutMs: 10_000, ...(namedRecheckMs === undefined ? {} : { namedRecheckMs }) });
    const pickFrames = (): Frame[] => {
      const frames: Frame[] = [];
      for (let k = 0; k < FRAMES; k++) {
        const j = Math.floor(rng() * ADDRESSES);
        frames.push({
          buildId: BUILD_IDS[j % BUILD_IDS.length],
          mappingFile: '/usr/bin/app',
          address: BigInt(0x1000 + j * 16),
          functionName: '',
          fileName: '',
          line: 0,
          inlined: false,
        });
      }
      return frames;
    };
    interface Timing {
      latencies: number[];
      cpuMs: number[];
      resolved: number;
    }
    const timed = async (t: Timing, resolver: CachedSymbolResolver, frames: Frame[]): Promise<void> => {
      const cpu = process.cpuUsage();
      const t0 = process.hrtime.bigint();
      const out = await resolver.resolve(tenant, frames);
      t.latencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
      const used = process.cpuUsage(cpu);
      t.cpuMs.push((used.user + used.system) / 1000);
      t.resolved += out.filter((x) => x?.[0]?.functionName).length;
    };
    const pct = (xs: number[], p: number): number => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))];
    const summary = (t: Timing) => ({
      namedShare: Number((t.resolved / (FRAMES * t.latencies.length)).toFixed(3)),
      queryMs: { p50: pct(t.latencies, 50).toFixed(1), p90: pct(t.latencies, 90).toFixed(1), max: Math.max(...t.latencies).toFixed(1) },
      cpuMsPerQuery: { p50: pct(t.cpuMs, 50).toFixed(1) },
    });

    // The same frame objects every query, as a querier's stack catalog hands them to the resolver:
    // names asked for every time (recheck 0) against names used as read (the default recheck),
    // alternating queries; each resolver's first query is left out (it reads every key).
    const frames = pickFrames();
    const every: Timing = { latencies: [], cpuMs: [], resolved: 0 };
    const kept: Timing = { latencies: [], cpuMs: [], resolved: 0 };
    const askEvery = newResolver(0);
    const remember = newResolver();
    await askEvery.resolve(tenant, frames);
    await remember.resolve(tenant, frames);
    for (let r = 0; r < ROUNDS; r++) {
      await timed(every, askEvery, frames);
      await timed(kept, remember, frames);
    }
    // New frame objects every query: every frame is asked for (what a querier pays for frames it
    // has not named yet).
    const fresh: Timing = { latencies: [], cpuMs: [], resolved: 0 };
    const freshResolver = newResolver();
    const start = process.hrtime.bigint();
    for (let r = 0; r < ROUNDS; r++) await timed(fresh, freshResolver, pickFrames());
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;

    console.log(
      JSON.stringify({
        addressesCached: ADDRESSES,
        framesPerQuery: FRAMES,
        queries: ROUNDS,
        newFramesEachQuery: { lookupsPerSecond: Math.round((FRAMES * ROUNDS) / seconds), ...summary(fresh) },
        sameFramesAskedEveryQuery: summary(every),
        sameFramesNamesRemembered: summary(kept),
        cpuRatioRememberedToAsked: Number((pct(kept.cpuMs, 50) / pct(every.cpuMs, 50)).toFixed(3)),
      }),
    );
  } finally {
    await cache.close();
    await redis.stop();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});

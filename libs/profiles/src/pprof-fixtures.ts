// Synthetic pprof profiles for tests and benchmarks (not exported from the library).
import { create, toBinary } from '@bufbuild/protobuf';
import { googleV1 } from '@firn/proto';
import { gzipSync } from 'node:zlib';

export interface SyntheticPprofOptions {
  samples: number;
  minDepth: number;
  maxDepth: number;
  functions: number;
  seed?: number;
}

/** Deterministic xorshift PRNG so fixtures are identical across runs. */
export function prng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 4294967296;
  };
}

/**
 * A Go-CPU-like profile (samples/count + cpu/nanoseconds, period cpu/nanoseconds) with random
 * call stacks drawn from a tree-ish distribution, one location per function.
 * Returns raw (uncompressed) bytes and the sum of each sample type.
 */
export function syntheticCpuPprof(o: SyntheticPprofOptions): { raw: Uint8Array; gz: Uint8Array; totals: [number, number] } {
  const rnd = prng(o.seed ?? 42);
  const strings = ['', 'samples', 'count', 'cpu', 'nanoseconds', '/usr/bin/app', 'abcdef0123456789', 'main.go'];
  const fnName = (i: number): number => {
    strings.push(`github.com/example/app/pkg${i % 37}.Function${i}`);
    return strings.length - 1;
  };
  const functions = [];
  const locations = [];
  const fileIdx = 7;
  for (let i = 1; i <= o.functions; i++) {
    functions.push(create(googleV1.FunctionSchema, { id: BigInt(i), name: BigInt(fnName(i)), filename: BigInt(fileIdx) }));
    locations.push(
      create(googleV1.LocationSchema, {
        id: BigInt(i),
        mappingId: 1n,
        address: BigInt(0x400000 + i * 16),
        line: [{ functionId: BigInt(i), line: BigInt(10 + (i % 300)) }],
      }),
    );
  }
  const samples = [];
  let t0 = 0;
  let t1 = 0;
  for (let s = 0; s < o.samples; s++) {
    const depth = o.minDepth + Math.floor(rnd() * (o.maxDepth - o.minDepth + 1));
    const ids: bigint[] = [];
    // Root-side frames are shared by many stacks (like real profiles), leaves vary.
    for (let d = 0; d < depth; d++) {
      const spread = Math.min(o.functions, 2 + d * d * 4);
      ids.push(BigInt(1 + ((d * 7 + Math.floor(rnd() * spread)) % o.functions)));
    }
    ids.reverse();
    const count = 1 + Math.floor(rnd() * 5);
    t0 += count;
    t1 += count * 10_000_000;
    samples.push(create(googleV1.SampleSchema, { locationId: ids, value: [BigInt(count), BigInt(count * 10_000_000)] }));
  }
  const profile = create(googleV1.ProfileSchema, {
    sampleType: [
      { type: 1n, unit: 2n },
      { type: 3n, unit: 4n },
    ],
    sample: samples,
    mapping: [{ id: 1n, memoryStart: 0x400000n, memoryLimit: 0x800000n, filename: 5n, buildId: 6n, hasFunctions: true }],
    location: locations,
    function: functions,
    stringTable: strings,
    timeNanos: 1_700_000_000_000_000_000n,
    durationNanos: 10_000_000_000n,
    periodType: { type: 3n, unit: 4n },
    period: 10_000_000n,
  });
  const raw = toBinary(googleV1.ProfileSchema, profile);
  return { raw, gz: gzipSync(raw), totals: [t0, t1] };
}

// fast-check arbitraries shared by this library's tests (not exported from the library).
import fc from 'fast-check';
import type { Frame } from './sample-batch';

export interface RowInput {
  profileType: string;
  labels: Array<[string, string]>;
  frames: Frame[];
  value: number;
  tsMs: number;
  durationNs: number;
  periodNs: number;
}

const frameArb: fc.Arbitrary<Frame> = fc.record({
  buildId: fc.constantFrom('', 'abc123', 'deadbeef'),
  mappingFile: fc.constantFrom('', '/bin/app', '/lib/libc.so.6'),
  address: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
  functionName: fc.constantFrom('', 'main', 'run', 'ünïcødé', 'a;b'),
  fileName: fc.constantFrom('', 'main.go', 'x.c'),
  line: fc.integer({ min: 0, max: 100_000 }),
  inlined: fc.boolean(),
});

export const rowArb: fc.Arbitrary<RowInput> = fc.record({
  profileType: fc.constantFrom('process_cpu:cpu:nanoseconds:cpu:nanoseconds:delta', 'memory:inuse_space:bytes:space:bytes'),
  labels: fc.uniqueArray(fc.tuple(fc.constantFrom('a', 'b', 'service_name', 'zz'), fc.constantFrom('', 'x', 'y', 'é')), {
    selector: (l) => l[0],
    maxLength: 4,
  }),
  frames: fc.array(fc.constantFrom(...fc.sample(frameArb, { numRuns: 8, seed: 7 })), { maxLength: 6 }),
  value: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 1_000_000 })),
  tsMs: fc.constantFrom(1_700_000_000_000, 1_700_000_001_000, 0),
  durationNs: fc.constantFrom(0, 10_000_000_000),
  periodNs: fc.constantFrom(0, 10_000_000),
});

/** Rows with fresh (non-shared) frame objects, to exercise content-based frame dedup. */
export const rowsArb = fc.array(
  fc.oneof(
    rowArb,
    rowArb.map((r) => ({ ...r, frames: r.frames.map((f) => ({ ...f })) })),
  ),
  { maxLength: 60 },
);

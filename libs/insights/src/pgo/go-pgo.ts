import { create } from '@bufbuild/protobuf';
import { gzipPprof } from '@firn/profiles';
import { googleV1 } from '@firn/proto';
import type { SourceLocation } from '@firn/symbols';
import { GAP, type BinarySamples } from './binary-samples';
import type { ResolvedBinary } from './llvm-sample-profile';

export interface GoPgoStats {
  functions: number;
  /** Samples written (their leaf frame was resolved). */
  samples: number;
  unresolvedSamples: number;
}

export interface GoPgoOptions {
  /** Start of the selection (pprof time_nanos). */
  startMs: number;
  /** Length of the selection (pprof duration_nanos). */
  durationMs: number;
}

/**
 * A Go PGO profile (`default.pgo`) of one binary: a pprof CPU profile that meets the
 * requirements Go documents for profiles from other sources (go.dev/doc/pgo, "Alternative
 * sources"): sample types `samples/count` and `cpu/nanoseconds` (either is accepted; the
 * compiler uses the first it finds), samples of CPU time at their location, every location
 * symbolized with its inline chain (innermost function first, as pprof orders `Line`s), and
 * `Function.start_line` set, from which the compiler computes call-site line offsets.
 *
 * Only frames of the binary are kept; a stack is cut where it leaves the binary (a frame of
 * another object between two of its frames would make a false caller/callee edge). Frames the
 * debug info cannot name are dropped; a sample whose leaf cannot be named is left out.
 */
export function buildGoPgoProfile(b: BinarySamples, r: ResolvedBinary, o: GoPgoOptions): { profile: Uint8Array; stats: GoPgoStats } {
  const strings = new Map<string, bigint>([['', 0n]]);
  const str = (s: string): bigint => {
    let i = strings.get(s);
    if (i === undefined) strings.set(s, (i = BigInt(strings.size)));
    return i;
  };
  const functions = new Map<string, googleV1.Function>();
  const fnId = (l: SourceLocation): bigint => {
    const key = `${l.functionName}\u0000${l.fileName}\u0000${l.startLine}`;
    let f = functions.get(key);
    if (!f) {
      f = create(googleV1.FunctionSchema, {
        id: BigInt(functions.size + 1),
        name: str(l.functionName),
        systemName: str(l.functionName),
        filename: str(l.fileName),
        startLine: BigInt(l.startLine),
      });
      functions.set(key, f);
    }
    return f.id;
  };
  const locations = new Map<string, googleV1.Location>();
  const locId = (address: bigint, chain: readonly SourceLocation[], ret: boolean): bigint | undefined => {
    const key = `${ret ? 'r' : 'l'}${address}`;
    const known = locations.get(key);
    if (known) return known.id;
    // Line 0 (compiler-generated code) is kept: the function is known, and pprof allows it.
    const lines = chain.filter((l) => l.functionName !== '');
    if (lines.length === 0) return undefined;
    const loc = create(googleV1.LocationSchema, {
      id: BigInt(locations.size + 1),
      mappingId: 1n,
      address,
      line: lines.map((l) => create(googleV1.LineSchema, { functionId: fnId(l), line: BigInt(l.line) })),
    });
    locations.set(key, loc);
    return loc.id;
  };

  const samples: googleV1.Sample[] = [];
  let written = 0;
  let unresolved = 0;
  let maxAddress = 0n;
  const periods = new Map<bigint, number>();
  for (const s of b.stacks) {
    const ids: bigint[] = [];
    for (let i = 0; i < s.addresses.length; i++) {
      const a = s.addresses[i];
      if (a === GAP) break;
      const ret = !(i === 0 && s.leaf);
      const id = locId(a, (ret ? r.returns : r.at).get(a) ?? [], ret);
      if (id === undefined) {
        if (i === 0) break;
        continue;
      }
      if (a > maxAddress) maxAddress = a;
      ids.push(id);
    }
    if (ids.length === 0) {
      unresolved += s.count;
      continue;
    }
    written += s.count;
    const period = s.count > 0 ? s.cpuNs / BigInt(s.count) : 0n;
    periods.set(period, (periods.get(period) ?? 0) + s.count);
    samples.push(create(googleV1.SampleSchema, { locationId: ids, value: [BigInt(s.count), s.cpuNs] }));
  }
  let period = 0n;
  let most = -1;
  for (const [p, n] of periods) {
    if (n > most) {
      period = p;
      most = n;
    }
  }
  const sampleType = [
    create(googleV1.ValueTypeSchema, { type: str('samples'), unit: str('count') }),
    create(googleV1.ValueTypeSchema, { type: str('cpu'), unit: str('nanoseconds') }),
  ];
  const periodType = create(googleV1.ValueTypeSchema, { type: str('cpu'), unit: str('nanoseconds') });
  const mapping = create(googleV1.MappingSchema, {
    id: 1n,
    memoryStart: 0n,
    memoryLimit: maxAddress + 1n,
    fileOffset: 0n,
    filename: str(b.mappingFile),
    buildId: str(b.buildId),
    hasFunctions: true,
    hasFilenames: true,
    hasLineNumbers: true,
    hasInlineFrames: true,
  });
  const profile = create(googleV1.ProfileSchema, {
    sampleType,
    sample: samples,
    mapping: [mapping],
    location: [...locations.values()],
    function: [...functions.values()],
    stringTable: [...strings.keys()],
    timeNanos: BigInt(o.startMs) * 1_000_000n,
    durationNanos: BigInt(Math.max(0, Math.round(o.durationMs))) * 1_000_000n,
    periodType,
    period,
  });
  return {
    profile: gzipPprof(profile),
    stats: { functions: functions.size, samples: written, unresolvedSamples: unresolved },
  };
}

import { fromBinary } from '@bufbuild/protobuf';
import { parseProfileType, samplesFromPprof, type Frame } from '@firn/profiles';
import { googleV1 } from '@firn/proto';
import fc from 'fast-check';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { stackProfileToPprof } from './pprof';
import type { StackProfile } from './stack-profile';
import { F, handProfile, profileArb } from './test-profiles';

const LIMITS = { maxDecompressedBytes: 64 << 20, maxSamples: 1_000_000, maxStackDepth: 1000 };

const frameKey = (f: Frame) => `${f.functionName || `0x${f.address.toString(16)}`}@${f.mappingFile}:${f.line}${f.inlined ? '(i)' : ''}`;

/** Stack (as a string) → summed value. */
function canonical(stacks: Frame[][], values: ArrayLike<number>): Map<string, number> {
  const m = new Map<string, number>();
  stacks.forEach((s, i) => {
    if (values[i] === 0) return;
    const k = s.map(frameKey).join(';');
    m.set(k, (m.get(k) ?? 0) + values[i]);
  });
  return m;
}

/** Decodes with protobuf-es against our google.v1 schema, independently of @firn/profiles. */
function decodeWithProtobufEs(bytes: Uint8Array): {
  stacks: Frame[][];
  values: number[];
  sampleType: string;
  unit: string;
  timeNanos: bigint;
  durationNanos: bigint;
} {
  const prof = fromBinary(googleV1.ProfileSchema, gunzipSync(bytes));
  const s = (i: bigint) => prof.stringTable[Number(i)];
  const mapping = new Map(prof.mapping.map((m) => [m.id, m]));
  const fn = new Map(prof.function.map((f) => [f.id, f]));
  const loc = new Map(prof.location.map((l) => [l.id, l]));
  const stacks: Frame[][] = [];
  const values: number[] = [];
  for (const sample of prof.sample) {
    const frames: Frame[] = [];
    for (const id of sample.locationId) {
      const l = loc.get(id)!;
      const m = mapping.get(l.mappingId);
      const base = { buildId: m ? s(m.buildId) : '', mappingFile: m ? s(m.filename) : '', address: l.address };
      if (l.line.length === 0) frames.push({ ...base, functionName: '', fileName: '', line: 0, inlined: false });
      l.line.forEach((ln, i) => {
        const f = fn.get(ln.functionId)!;
        frames.push({ ...base, functionName: s(f.name), fileName: s(f.filename), line: Number(ln.line), inlined: i < l.line.length - 1 });
      });
    }
    stacks.push(frames);
    values.push(Number(sample.value[0]));
  }
  return {
    stacks,
    values,
    sampleType: s(prof.sampleType[0].type),
    unit: s(prof.sampleType[0].unit),
    timeNanos: prof.timeNanos,
    durationNanos: prof.durationNanos,
  };
}

function roundTrip(p: StackProfile): Map<string, number> {
  const bytes = stackProfileToPprof(p);
  const b = samplesFromPprof(bytes, { name: parseProfileType(p.profileType).name, seriesLabels: [], nowMs: 0, limits: LIMITS });
  const stacks = Array.from({ length: b.length }, (_, i) => b.stacks[b.stack[i]]);
  return canonical(stacks, b.value);
}

describe(stackProfileToPprof.name, () => {
  it('round-trips through @firn/profiles with equal stacks and totals', () => {
    const p = handProfile();
    expect(roundTrip(p)).toEqual(canonical(p.stacks, p.values));
  });

  it('decodes with protobuf-es to the same stacks, inline lines folded into one location', () => {
    const p = handProfile();
    const bytes = stackProfileToPprof(p, { startMs: 1_700_000_000_000, endMs: 1_700_000_060_000 });
    const d = decodeWithProtobufEs(bytes);
    expect(d.sampleType).toBe('samples');
    expect(d.unit).toBe('count');
    expect(d.timeNanos).toBe(1_700_000_000_000_000_000n);
    expect(d.durationNanos).toBe(60_000_000_000n);
    expect(canonical(d.stacks, d.values)).toEqual(canonical(p.stacks, p.values));
    expect(d.values.reduce((a, b) => a + b, 0)).toBe(p.total);
    const prof = fromBinary(googleV1.ProfileSchema, gunzipSync(bytes));
    expect(prof.location.some((l) => l.line.length === 2)).toBe(true);
  });

  it('flags each mapping by how far its locations are resolved and says why locations are unnamed', () => {
    const p = handProfile();
    const why = { ...F.unsym, unnamedReason: 'no_debuginfo' as const };
    const kernel: Frame = {
      buildId: '',
      mappingFile: '[kernel.kallsyms]',
      address: 0xffffn,
      functionName: 'do_syscall_64',
      fileName: '',
      line: 0,
      inlined: false,
    };
    const lost: Frame = { buildId: '', mappingFile: '', address: 0x42n, functionName: '', fileName: '', line: 0, inlined: false, unnamedReason: 'no_mapping' };
    const stacks = [...p.stacks.map((st) => st.map((f) => (f === F.unsym ? why : f))), [kernel, F.main], [lost, F.main]];
    const prof = fromBinary(
      googleV1.ProfileSchema,
      gunzipSync(stackProfileToPprof({ ...p, stacks, values: Float64Array.from([...p.values, 1, 1]), total: p.total + 2 })),
    );
    const s = (i: bigint) => prof.stringTable[Number(i)];
    const flags = Object.fromEntries(prof.mapping.map((m) => [s(m.filename), [m.hasFunctions, m.hasFilenames, m.hasLineNumbers, m.hasInlineFrames]]));
    expect(flags).toEqual({
      '/usr/bin/app': [true, true, true, true],
      '/lib/libc.so.6': [false, false, false, false],
      '[kernel.kallsyms]': [true, false, false, false],
    });
    expect(prof.comment.map(s).sort()).toEqual([
      'firn: unnamed locations of (no mapping): no_mapping=1',
      'firn: unnamed locations of /lib/libc.so.6 build_id=c2: no_debuginfo=1',
    ]);
  });

  it('keeps totals for random profiles (property)', () => {
    fc.assert(
      fc.property(profileArb, (p) => {
        const got = roundTrip(p);
        expect([...got.values()].reduce((a, b) => a + b, 0)).toBe(p.total);
        const d = decodeWithProtobufEs(stackProfileToPprof(p));
        expect(d.values.reduce((a, b) => a + b, 0)).toBe(p.total);
      }),
      { numRuns: 100 },
    );
  });
});

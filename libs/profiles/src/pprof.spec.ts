import { create, toBinary } from '@bufbuild/protobuf';
import { FirnError } from '@firn/errors';
import { googleV1 } from '@firn/proto';
import fc from 'fast-check';
import { createGzip, gzipSync } from 'node:zlib';
import { expectInvalid } from './expect-invalid';
import { describe, expect, it } from 'vitest';
import { pprofIntoBuilder, samplesFromPprof, type PprofOptions } from './pprof';
import { samplesToPprof } from './pprof-encode';
import { syntheticCpuPprof } from './pprof-fixtures';
import { SampleBatchBuilder, batchTotal, concatBatches, type SampleBatch } from './sample-batch';
import { stackKey } from './stack-key';

const LIMITS = { maxDecompressedBytes: 16 << 20, maxSamples: 100_000, maxStackDepth: 1000 };
const NOW = 1_700_000_123_456;
const opts = (o: Partial<PprofOptions> = {}): PprofOptions => ({
  name: 'test',
  seriesLabels: [['service_name', 'api']],
  nowMs: NOW,
  limits: LIMITS,
  ...o,
});

// String table indexes used by the fixture.
const S = [
  '',
  'samples',
  'count',
  'cpu',
  'nanoseconds',
  'main',
  'main.go',
  'inlinedFn',
  'leafFn',
  '/bin/app',
  'ABCDEF01',
  'thread',
  'worker',
  'service_name',
  'sample',
];
const s = (v: string): bigint => BigInt(S.indexOf(v));

function fixture(mut: (p: googleV1.Profile) => void = () => {}): Uint8Array {
  const p = create(googleV1.ProfileSchema, {
    sampleType: [
      { type: s('samples'), unit: s('count') },
      { type: s('cpu'), unit: s('nanoseconds') },
    ],
    periodType: { type: s('cpu'), unit: s('nanoseconds') },
    period: 10_000_000n,
    durationNanos: 10_000_000_000n,
    stringTable: S,
    mapping: [{ id: 1n, filename: s('/bin/app'), buildId: s('ABCDEF01') }],
    function: [
      { id: 1n, name: s('main'), filename: s('main.go') },
      { id: 2n, name: s('inlinedFn'), filename: s('main.go') },
      { id: 3n, name: s('leafFn'), filename: s('main.go') },
    ],
    location: [
      { id: 1n, mappingId: 1n, address: 0x1000n, line: [{ functionId: 1n, line: 10n }] },
      {
        id: 2n,
        mappingId: 1n,
        address: 0x2000n,
        line: [
          { functionId: 2n, line: 20n },
          { functionId: 1n, line: 11n },
        ],
      },
      { id: 3n, mappingId: 1n, address: 0x3000n, line: [{ functionId: 3n, line: 30n }] },
      { id: 4n, mappingId: 0n, address: 0xffff_ffff_ffff_fff0n, line: [] },
    ],
    sample: [
      { locationId: [3n, 2n, 1n], value: [2n, 20n] },
      { locationId: [3n, 2n, 1n], value: [3n, 30n] },
      { locationId: [4n, 1n], value: [0n, 0n] },
      { locationId: [4n, 1n], value: [1n, 0n] },
      { locationId: [3n, 1n], value: [4n, 40n], label: [{ key: s('thread'), str: s('worker') }] },
      {
        locationId: [3n, 1n],
        value: [1n, 10n],
        label: [
          { key: s('service_name'), str: s('sample') },
          { key: s('thread'), num: 5n },
        ],
      },
    ],
  });
  mut(p);
  return toBinary(googleV1.ProfileSchema, p);
}

/** Every row as text (profile type, series, stack, value, time), sorted: equal batches up to dictionary order. */
function rowsOf(b: SampleBatch): string[] {
  const rows: string[] = [];
  for (let i = 0; i < b.length; i++) {
    const st = stackKey(b.stacks[b.stack[i]]);
    rows.push(JSON.stringify([b.profileTypes[b.profileType[i]], b.series[b.seriesIdx[i]], st, b.value[i], b.timestampMs[i], b.durationNs[i], b.periodNs[i]]));
  }
  return rows.sort();
}

function totalsByType(b: SampleBatch): Record<string, number> {
  const out: Record<string, number> = {};
  for (let i = 0; i < b.length; i++) {
    const t = b.profileTypes[b.profileType[i]];
    out[t] = (out[t] ?? 0) + b.value[i];
  }
  return out;
}

describe(samplesFromPprof.name, () => {
  it('maps sample types, inline lines, labels, zeros and duplicates as documented', () => {
    for (const bytes of [fixture(), gzipSync(fixture())]) {
      const b = samplesFromPprof(bytes, opts());
      expect(b.profileTypes).toEqual(['test:samples:count:cpu:nanoseconds:delta', 'test:cpu:nanoseconds:cpu:nanoseconds:delta']);
      expect(totalsByType(b)).toEqual({ 'test:samples:count:cpu:nanoseconds:delta': 11, 'test:cpu:nanoseconds:cpu:nanoseconds:delta': 100 });
      expect(b.length).toBe(7);
      expect(b.truncatedStacks).toBe(0);
      // Request labels win over the sample's service_name; numeric labels are dropped.
      expect(b.series).toEqual([
        [['service_name', 'api']],
        [
          ['service_name', 'api'],
          ['thread', 'worker'],
        ],
      ]);
      expect([...new Set(b.timestampMs)]).toEqual([NOW]);
      expect([...new Set(b.durationNs)]).toEqual([10_000_000_000]);
      expect([...new Set(b.periodNs)]).toEqual([10_000_000]);
      const main10 = { buildId: 'abcdef01', mappingFile: '/bin/app', address: 0x1000n, functionName: 'main', fileName: 'main.go', line: 10, inlined: false };
      expect(b.stacks[0]).toEqual([
        { ...main10, address: 0x3000n, functionName: 'leafFn', line: 30 },
        { ...main10, address: 0x2000n, functionName: 'inlinedFn', line: 20, inlined: true },
        { ...main10, address: 0x2000n, line: 11 },
        main10,
      ]);
      expect(b.stacks[1]).toEqual([
        { buildId: '', mappingFile: '', address: 0xffff_ffff_ffff_fff0n, functionName: '', fileName: '', line: 0, inlined: false },
        main10,
      ]);
    }
  });

  it('keeps span_id (and profile_id) per row as Pyroscope does, not as series labels; drops trace_id', () => {
    const spans = fixture((p) => {
      p.stringTable = [
        ...S,
        'span_id',
        '00000000000000AA',
        'trace_id',
        '0af7651916cd43dd8448eb211c80319c',
        'span_name',
        'GET /a',
        'profile_id',
        'b0b0b0b0b0b0b0b0',
        'not-a-span-id',
      ];
      const i = (v: string) => BigInt(p.stringTable.indexOf(v));
      p.sample = [
        {
          locationId: [3n, 1n],
          value: [2n, 20n],
          label: [
            { key: i('span_id'), str: i('00000000000000AA') },
            { key: i('span_name'), str: i('GET /a') },
            { key: i('trace_id'), str: i('0af7651916cd43dd8448eb211c80319c') },
          ],
        },
        { locationId: [3n, 1n], value: [1n, 10n], label: [{ key: i('profile_id'), str: i('b0b0b0b0b0b0b0b0') }] },
        { locationId: [3n, 1n], value: [4n, 40n], label: [{ key: i('span_id'), str: i('not-a-span-id') }] },
        { locationId: [3n, 1n], value: [8n, 80n] },
      ].map((x) => create(googleV1.SampleSchema, x));
    });
    const b = samplesFromPprof(spans, opts());
    const cpu = b.profileTypes.indexOf('test:cpu:nanoseconds:cpu:nanoseconds:delta');
    const got: Record<string, number> = {};
    for (let r = 0; r < b.length; r++) {
      if (b.profileType[r] !== cpu) continue;
      const key = `${b.spans?.[b.span?.[r] ?? 0] ?? ''}|${JSON.stringify(b.series[b.seriesIdx[r]])}`;
      got[key] = (got[key] ?? 0) + b.value[r];
    }
    expect(got).toEqual({
      '00000000000000aa|[["service_name","api"],["span_name","GET /a"]]': 20,
      'b0b0b0b0b0b0b0b0|[["service_name","api"]]': 10,
      // An id that is not 16 hex digits belongs to no span (Pyroscope stores span 0).
      '|[["service_name","api"]]': 120,
    });
  });

  it('decodes several profiles into one builder as concatenating their batches would, and counts stack frames over all of them', () => {
    const profiles = [1, 2, 3].map((seed) => syntheticCpuPprof({ samples: 300, minDepth: 3, maxDepth: 12, functions: 40, seed }).gz);
    const seriesOf = (i: number): Array<[string, string]> => [['service_name', `svc${i % 2}`]];
    const builder = new SampleBatchBuilder();
    let truncated = 0;
    profiles.forEach((gz, i) => (truncated += pprofIntoBuilder(gz, opts({ seriesLabels: seriesOf(i) }), builder)));
    const shared = builder.build();
    const separate = concatBatches(profiles.map((gz, i) => samplesFromPprof(gz, opts({ seriesLabels: seriesOf(i) }))));
    expect(truncated).toBe(0);
    expect(shared.stacks.length).toBe(separate.stacks.length);
    expect(rowsOf(shared)).toEqual(rowsOf(separate));
    const frames = shared.stacks.reduce((n, st) => n + st.length, 0);
    const limited = new SampleBatchBuilder({ maxStackFrames: frames - 1 });
    expectInvalid(() => profiles.forEach((gz, i) => pprofIntoBuilder(gz, opts({ seriesLabels: seriesOf(i) }), limited)), /more than \d+ frames/);
  });

  it('decodes each profile on its own after others, after one that failed midway, and within another decode', () => {
    const big = syntheticCpuPprof({ samples: 2000, minDepth: 20, maxDepth: 60, functions: 3000, seed: 7 }).gz;
    const small = fixture();
    const alone = rowsOf(samplesFromPprof(small, opts()));
    rowsOf(samplesFromPprof(big, opts()));
    expect(rowsOf(samplesFromPprof(small, opts()))).toEqual(alone);
    // Ids the previous (larger) profile had are unknown to this one.
    expectInvalid(
      () =>
        samplesFromPprof(
          fixture((p) => void (p.sample[5].locationId = [2999n])),
          opts(),
        ),
      /unknown location id 2999/,
    );
    expectInvalid(
      () =>
        samplesFromPprof(
          fixture((p) => void (p.location[0].mappingId = 40n)),
          opts(),
        ),
      /unknown mapping id 40/,
    );
    // A decode that failed after reading half its samples leaves nothing for the next one.
    expectInvalid(
      () =>
        samplesFromPprof(
          fixture((p) => void (p.sample[4].value = [1n])),
          opts(),
        ),
      /has 1 values/,
    );
    expect(rowsOf(samplesFromPprof(small, opts()))).toEqual(alone);
    // A profile decoded while another is being decoded (from its name callback) is decoded on its own too.
    let inner: string[] = [];
    const outer = samplesFromPprof(
      big,
      opts({
        name: () => {
          inner = rowsOf(samplesFromPprof(small, opts()));
          return 'test';
        },
      }),
    );
    expect(inner).toEqual(alone);
    expect(rowsOf(outer)).toEqual(rowsOf(samplesFromPprof(big, opts())));
  });

  it('uses time_nanos and duration_nanos when present, else now and the fallback', () => {
    const withTime = fixture((p) => {
      p.timeNanos = 1_600_000_000_123_456_789n;
    });
    expect([...new Set(samplesFromPprof(withTime, opts()).timestampMs)]).toEqual([1_600_000_000_123]);
    const noDuration = fixture((p) => {
      p.durationNanos = 0n;
    });
    expect([...new Set(samplesFromPprof(noDuration, opts({ fallbackDurationNs: 15e9 })).durationNs)]).toEqual([15e9]);
    expect([...new Set(samplesFromPprof(noDuration, opts()).durationNs)]).toEqual([0]);
  });

  it('marks heap inuse types as non-delta and alloc types as delta', () => {
    const heap = fixture((p) => {
      p.stringTable = [...S, 'alloc_space', 'inuse_space', 'bytes', 'space'];
      const i = (v: string) => BigInt(p.stringTable.indexOf(v));
      p.sampleType = [
        create(googleV1.ValueTypeSchema, { type: i('alloc_space'), unit: i('bytes') }),
        create(googleV1.ValueTypeSchema, { type: i('inuse_space'), unit: i('bytes') }),
      ];
      p.periodType = create(googleV1.ValueTypeSchema, { type: i('space'), unit: i('bytes') });
    });
    expect(samplesFromPprof(heap, opts()).profileTypes).toEqual(['test:alloc_space:bytes:space:bytes:delta', 'test:inuse_space:bytes:space:bytes']);
  });

  it('truncates deep stacks keeping the leaf-most frames and counts them', () => {
    const b = samplesFromPprof(fixture(), opts({ limits: { ...LIMITS, maxStackDepth: 2 } }));
    expect(b.truncatedStacks).toBe(2); // the two samples on the 4-frame stack
    expect(b.stacks[0].map((f) => f.functionName)).toEqual(['leafFn', 'inlinedFn']);
    expect(totalsByType(b)['test:samples:count:cpu:nanoseconds:delta']).toBe(11);
  });

  it('rejects malformed input with invalid_argument', () => {
    const raw = fixture();
    expectInvalid(() => samplesFromPprof(raw.subarray(0, raw.length - 3), opts()), /malformed pprof/);
    expectInvalid(() => samplesFromPprof(Uint8Array.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f]), opts()), /malformed pprof/);
    expectInvalid(() => samplesFromPprof(gzipSync(raw).subarray(0, 30), opts()), /malformed gzip/);
    expectInvalid(
      () =>
        samplesFromPprof(
          fixture((p) => void (p.function[0].name = 999n)),
          opts(),
        ),
      /string index 999 out of range/,
    );
    expectInvalid(
      () =>
        samplesFromPprof(
          fixture((p) => void (p.sample[0].locationId = [77n])),
          opts(),
        ),
      /unknown location id 77/,
    );
    expectInvalid(
      () =>
        samplesFromPprof(
          fixture((p) => void (p.location[0].mappingId = 9n)),
          opts(),
        ),
      /unknown mapping id 9/,
    );
    expectInvalid(
      () =>
        samplesFromPprof(
          fixture((p) => void (p.sample[0].value = [1n])),
          opts(),
        ),
      /has 1 values, want 2/,
    );
    expectInvalid(
      () =>
        samplesFromPprof(
          fixture((p) => void (p.sample[0].value = [-1n, 1n])),
          opts(),
        ),
      /negative or above 2\^53/,
    );
    expectInvalid(
      () =>
        samplesFromPprof(
          fixture((p) => void (p.sampleType = [])),
          opts(),
        ),
      /no sample_type/,
    );
    expectInvalid(
      () =>
        samplesFromPprof(
          fixture((p) => void (p.stringTable = ['x:y', ...S.slice(1)])),
          opts(),
        ),
      /string_table\[0\] must be ""/,
    );
    expectInvalid(() => samplesFromPprof(raw, opts({ limits: { ...LIMITS, maxSamples: 5 } })), /6 samples, more than the limit of 5/);
    expectInvalid(() => samplesFromPprof(raw, opts({ seriesLabels: [['bad-label', 'x']] })), /invalid label name/);
  });

  it('rejects a ~1 GiB gzip bomb without inflating it', async () => {
    const gz = await new Promise<Buffer>((resolve, reject) => {
      const z = createGzip({ level: 9 });
      const chunks: Buffer[] = [];
      z.on('data', (c: Buffer) => chunks.push(c));
      z.on('end', () => resolve(Buffer.concat(chunks)));
      z.on('error', reject);
      const zeros = Buffer.alloc(1 << 20);
      let left = 1024;
      const pump = (): void => {
        while (left > 0) {
          left--;
          if (!z.write(zeros)) {
            z.once('drain', pump);
            return;
          }
        }
        z.end();
      };
      pump();
    });
    expect(gz.length).toBeLessThan(2 << 20);
    const rssBefore = process.resourceUsage().maxRSS;
    expectInvalid(
      () => samplesFromPprof(gz, opts({ limits: { ...LIMITS, maxDecompressedBytes: 32 << 20 } })),
      /decompresses to more than the limit of 33554432 bytes/,
    );
    // maxRSS is in KiB: the peak grew by well under 100 MB.
    expect(process.resourceUsage().maxRSS - rssBefore).toBeLessThan(100 * 1024);
  });

  it('never throws anything but FirnError on random or corrupted bytes (property)', () => {
    const raw = fixture();
    const check = (bytes: Uint8Array) => {
      try {
        samplesFromPprof(bytes, opts());
      } catch (err) {
        if (!(err instanceof FirnError)) throw err;
      }
    };
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 512 }), (b) => check(b)),
      { numRuns: 500 },
    );
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(raw.length - 1), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 }), (edits) => {
        const b = raw.slice();
        for (const [i, v] of edits) b[i] = v;
        check(b);
        check(gzipSync(b));
      }),
      { numRuns: 500 },
    );
  });
});

describe(samplesToPprof.name, () => {
  it('round-trips pprof → batch → pprof → batch with equal totals and stacks', () => {
    const first = samplesFromPprof(fixture(), opts());
    for (const pt of first.profileTypes) {
      const gz = samplesToPprof(first, pt);
      expect(gz[0]).toBe(0x1f);
      const again = samplesFromPprof(gz, opts());
      expect(again.profileTypes).toEqual([pt]);
      expect(batchTotal(again)).toBe(totalsByType(first)[pt]);
      const stacksOf = (b: SampleBatch, ptIdx: number) =>
        new Set(
          Array.from({ length: b.length }, (_, i) => i)
            .filter((i) => b.profileType[i] === ptIdx)
            .map((i) => stackKey(b.stacks[b.stack[i]])),
        );
      expect(stacksOf(again, 0)).toEqual(stacksOf(first, first.profileTypes.indexOf(pt)));
      expect(again.series).toEqual(
        first.series.filter((_, i) => Array.from(first.seriesIdx).some((si, r) => si === i && first.profileTypes[first.profileType[r]] === pt)),
      );
    }
  });

  it('round-trips a large synthetic profile', () => {
    const { gz, totals } = syntheticCpuPprof({ samples: 3000, minDepth: 10, maxDepth: 30, functions: 300 });
    const b = samplesFromPprof(gz, opts());
    expect(totalsByType(b)).toEqual({ 'test:samples:count:cpu:nanoseconds:delta': totals[0], 'test:cpu:nanoseconds:cpu:nanoseconds:delta': totals[1] });
    const again = samplesFromPprof(samplesToPprof(b, b.profileTypes[1]), opts());
    expect(batchTotal(again)).toBe(totals[1]);
    expect(again.stacks.length).toBe(new Set(Array.from(b.stack)).size);
  });
});

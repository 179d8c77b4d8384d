import { create, toBinary } from '@bufbuild/protobuf';
import { describe, expect, it } from 'vitest';
import { googleV1 } from '@firn/proto';
import { samplesFromArrow, samplesToArrow } from './arrow-samples';
import { expectInvalid } from './expect-invalid';
import { samplesFromFolded } from './folded';
import { samplesFromPprof, type PprofLimits } from './pprof';
import { SampleBatchBuilder, type Frame } from './sample-batch';

const P = googleV1;
const BASE: PprofLimits = { maxDecompressedBytes: 1 << 20, maxSamples: 1000, maxStackDepth: 8 };

/** A pprof with `locations` locations (distinct addresses, one function) and the given samples. */
function pprof(o: { strings?: number; locations?: number; samples: Array<{ ids: number[]; labels?: number }> }): Uint8Array {
  const stringTable = ['', 'samples', 'count', 'main', 'k', 'v'];
  for (let i = 0; i < (o.strings ?? 0); i++) stringTable.push(`s${i}`);
  const locations = o.locations ?? 1;
  return toBinary(
    P.ProfileSchema,
    create(P.ProfileSchema, {
      stringTable,
      sampleType: [create(P.ValueTypeSchema, { type: 1n, unit: 2n })],
      function: [create(P.FunctionSchema, { id: 1n, name: 3n })],
      location: Array.from({ length: locations }, (_, i) =>
        create(P.LocationSchema, { id: BigInt(i + 1), address: BigInt(0x1000 + i), line: [create(P.LineSchema, { functionId: 1n })] }),
      ),
      sample: o.samples.map((s) =>
        create(P.SampleSchema, {
          locationId: s.ids.map(BigInt),
          value: [1n],
          label: Array.from({ length: s.labels ?? 0 }, () => create(P.LabelSchema, { key: 4n, str: 5n })),
        }),
      ),
    }),
  );
}

const decode = (bytes: Uint8Array, limits: Partial<PprofLimits> = {}) =>
  samplesFromPprof(bytes, { name: 'x', seriesLabels: [], nowMs: Date.UTC(2026, 0, 1), limits: { ...BASE, ...limits } });

describe('decoders count against their limits while reading', () => {
  it('pprof: refuses symbol tables, labels per sample, series and stack frames past their limits', () => {
    expectInvalid(() => decode(pprof({ strings: 20, samples: [{ ids: [1] }] }), { maxSymbols: 10 }), /more than 10 strings/);
    expectInvalid(() => decode(pprof({ locations: 11, samples: [{ ids: [1] }] }), { maxSymbols: 10 }), /more than 10 locations/);
    expectInvalid(() => decode(pprof({ samples: [{ ids: [1], labels: 5 }] }), { maxLabels: 4 }), /sample 0 has more than 4 labels/);
    expect(decode(pprof({ samples: [{ ids: [1], labels: 4 }] }), { maxLabels: 4 }).length).toBe(1);
    const distinct = pprof({ locations: 4, samples: [{ ids: [1, 2] }, { ids: [2, 3] }, { ids: [3, 4] }] });
    expect(decode(distinct, { maxStackFrames: 6 }).stacks).toHaveLength(3);
    expectInvalid(() => decode(distinct, { maxStackFrames: 5 }), /more than 5 frames/);
    expectInvalid(
      () => decode(pprof({ samples: [{ ids: [1] }, { ids: [1] }, { ids: [1] }] }), { maxSamples: 2 }),
      /at least 3 samples, more than the limit of 2/,
    );
  });

  it('pprof: keeps the leaf-most frames of a stack far deeper than the limit, sharing one truncated stack', () => {
    const deep = (leaf: number) => Array.from({ length: 10_000 }, (_, i) => (i === 0 ? leaf : 3));
    const b = decode(pprof({ locations: 3, samples: [{ ids: deep(1) }, { ids: deep(1) }, { ids: deep(2) }] }));
    expect(b.truncatedStacks).toBe(3);
    expect(b.stacks.map((s) => s.length)).toEqual([8, 8]);
    expect(b.stacks.map((s) => s[0].address)).toEqual([0x1000n, 0x1001n]);
  });

  it('folded: truncates a deep line to its leaf-most frames without splitting it whole, and counts distinct names', () => {
    const line = `${Array.from({ length: 100_000 }, (_, i) => `f${i}`).join(';')} 3\n`;
    const b = samplesFromFolded(Buffer.from(line), {
      seriesLabels: [['service_name', 'a']],
      fromMs: Date.UTC(2026, 0, 1),
      untilMs: Date.UTC(2026, 0, 1),
      sampleType: 'inuse_objects',
      limits: { maxStackDepth: 4 },
    });
    expect(b.truncatedStacks).toBe(1);
    expect(b.stacks[0].map((f) => f.functionName)).toEqual(['f99999', 'f99998', 'f99997', 'f99996']);
    const exactly = samplesFromFolded('a;b;c;d 1', { seriesLabels: [], fromMs: 0, untilMs: 0, sampleType: 'inuse_objects', limits: { maxStackDepth: 4 } });
    expect([exactly.truncatedStacks, exactly.stacks[0].length]).toEqual([0, 4]);
    expectInvalid(
      () => samplesFromFolded('a;b 1\nc;d 1\ne 1', { seriesLabels: [], fromMs: 0, untilMs: 0, limits: { maxSymbols: 4 } }),
      /more than 4 distinct frame names/,
    );
  });

  it('arrow: refuses a frame dictionary past the symbol limit before allocating for it', () => {
    const b = new SampleBatchBuilder();
    const frame = (fn: string): Frame => ({ buildId: '', mappingFile: '', address: 0n, functionName: fn, fileName: '', line: 0, inlined: false });
    b.add('a:b:c:d:e', [], [frame('x'), frame('y'), frame('z')], 1, Date.UTC(2026, 0, 1), 0, 0);
    const ipc = samplesToArrow(b.build());
    const limits = { maxRows: 10, maxStackDepth: 10, maxBytes: 1 << 20 };
    expect(samplesFromArrow(ipc, { ...limits, maxSymbols: 3 }).length).toBe(1);
    expectInvalid(() => samplesFromArrow(ipc, { ...limits, maxSymbols: 2 }), /3 frames, more than the limit of 2/);
    expectInvalid(() => samplesFromArrow(ipc, { ...limits, maxStackFrames: 2 }), /more than 2 frames/);
  });
});

import { create, toBinary } from '@bufbuild/protobuf';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FirnError } from '@firn/errors';
import { otlpCollectorProfilesV1development as collector, otlpCommonV1 as common, otlpProfilesV1development as otlp } from '@firn/proto';
import { batchTotal, type SampleBatch } from './sample-batch';
import { otlpLabelName, samplesFromOtlp } from './otlp';

const LIMITS = { maxDecompressedBytes: 64 << 20, maxSamples: 100_000, maxStackDepth: 1024 };
const NOW = 1_790_000_000_000;

/** Builds a dictionary with string interning, the way OTLP exporters do (index 0 = zero value everywhere). */
class Dict {
  readonly d = create(otlp.ProfilesDictionarySchema, {
    stringTable: [''],
    mappingTable: [create(otlp.MappingSchema)],
    locationTable: [create(otlp.LocationSchema)],
    functionTable: [create(otlp.FunctionSchema)],
    linkTable: [create(otlp.LinkSchema)],
    attributeTable: [create(otlp.KeyValueAndUnitSchema)],
    stackTable: [create(otlp.StackSchema)],
  });

  s(v: string): number {
    const i = this.d.stringTable.indexOf(v);
    if (i >= 0) return i;
    this.d.stringTable.push(v);
    return this.d.stringTable.length - 1;
  }

  attr(key: string, value: string | bigint): number {
    this.d.attributeTable.push(
      create(otlp.KeyValueAndUnitSchema, {
        keyStrindex: this.s(key),
        value: create(common.AnyValueSchema, { value: typeof value === 'string' ? { case: 'stringValue', value } : { case: 'intValue', value } }),
      }),
    );
    return this.d.attributeTable.length - 1;
  }

  mapping(file: string, buildId: string, memoryStart: bigint, fileOffset: bigint): number {
    this.d.mappingTable.push(
      create(otlp.MappingSchema, {
        filenameStrindex: this.s(file),
        memoryStart,
        memoryLimit: memoryStart + 0x100000n,
        fileOffset,
        attributeIndices: [this.attr('process.executable.build_id.gnu', buildId)],
      }),
    );
    return this.d.mappingTable.length - 1;
  }

  native(mapping: number, address: bigint): number {
    this.d.locationTable.push(create(otlp.LocationSchema, { mappingIndex: mapping, address, attributeIndices: [this.attr('profile.frame.type', 'native')] }));
    return this.d.locationTable.length - 1;
  }

  symbolized(name: string, file: string, line: bigint): number {
    this.d.functionTable.push(create(otlp.FunctionSchema, { nameStrindex: this.s(name), filenameStrindex: this.s(file) }));
    const fi = this.d.functionTable.length - 1;
    this.d.locationTable.push(create(otlp.LocationSchema, { lines: [create(otlp.LineSchema, { functionIndex: fi, line })] }));
    return this.d.locationTable.length - 1;
  }

  stack(...locations: number[]): number {
    this.d.stackTable.push(create(otlp.StackSchema, { locationIndices: locations }));
    return this.d.stackTable.length - 1;
  }
}

function cpuProfile(dict: Dict, samples: Array<{ stack: number; timestamps?: number; values?: bigint[]; attrs?: number[]; link?: number }>): otlp.Profile {
  return create(otlp.ProfileSchema, {
    sampleType: { typeStrindex: dict.s('samples'), unitStrindex: dict.s('count') },
    periodType: { typeStrindex: dict.s('cpu'), unitStrindex: dict.s('nanoseconds') },
    period: 50_000_000n,
    timeUnixNano: BigInt(NOW) * 1_000_000n,
    durationNano: 10_000_000_000n,
    samples: samples.map((s) =>
      create(otlp.SampleSchema, {
        stackIndex: s.stack,
        values: s.values ?? [],
        timestampsUnixNano: Array.from({ length: s.timestamps ?? 0 }, (_, i) => BigInt(NOW) * 1_000_000n + BigInt(i)),
        attributeIndices: s.attrs ?? [],
        linkIndex: s.link ?? 0,
      }),
    ),
  });
}

function request(dict: Dict, resources: Array<{ attrs: Record<string, string | bigint>; profiles: otlp.Profile[] }>): Uint8Array {
  return toBinary(
    collector.ExportProfilesServiceRequestSchema,
    create(collector.ExportProfilesServiceRequestSchema, {
      dictionary: dict.d,
      resourceProfiles: resources.map((r) =>
        create(otlp.ResourceProfilesSchema, {
          resource: {
            attributes: Object.entries(r.attrs).map(([key, v]) =>
              create(common.KeyValueSchema, {
                key,
                value: create(common.AnyValueSchema, { value: typeof v === 'string' ? { case: 'stringValue', value: v } : { case: 'intValue', value: v } }),
              }),
            ),
          },
          scopeProfiles: [create(otlp.ScopeProfilesSchema, { scope: { name: 'go.opentelemetry.io/ebpf-profiler' }, profiles: r.profiles })],
        }),
      ),
    }),
  );
}

function rows(b: SampleBatch): Array<{ type: string; labels: Record<string, string>; stack: string[]; value: number; ts: number }> {
  return Array.from({ length: b.length }, (_, i) => ({
    type: b.profileTypes[b.profileType[i]],
    labels: Object.fromEntries(b.series[b.seriesIdx[i]]),
    stack: b.stacks[b.stack[i]].map((f) => f.functionName || `${f.mappingFile}@0x${f.address.toString(16)}#${f.buildId}`),
    value: b.value[i],
    ts: b.timestampMs[i],
  }));
}

describe(samplesFromOtlp.name, () => {
  it('reads the OpenTelemetry eBPF profiler shape: counted timestamps × period, mapped labels, file offsets and build ids', () => {
    const dict = new Dict();
    const libc = dict.mapping('/usr/lib/x86_64-linux-gnu/libc.so.6', 'ABCDEF0123', 0x7f0000001000n, 0x1000n);
    const leaf = dict.native(libc, 0x7f0000001234n);
    const py = dict.symbolized('hot_fn', 'app.py', 12n);
    const main = dict.symbolized('<module>', 'app.py', 3n);
    const s1 = dict.stack(leaf, py, main);
    const s2 = dict.stack(main);
    const thread = [dict.attr('thread.name', 'worker'), dict.attr('thread.id', 4242n), dict.attr('cpu.logical_number', 1n)];
    const b = samplesFromOtlp(
      request(dict, [
        {
          attrs: {
            'service.name': 'checkout',
            'k8s.namespace.name': 'shop',
            'k8s.pod.name': 'checkout-1',
            'process.pid': 4242n,
            'process.executable.name': 'python3',
            'deployment.environment': 'prod',
          },
          profiles: [
            cpuProfile(dict, [
              { stack: s1, timestamps: 3, attrs: thread },
              { stack: s2, timestamps: 1, attrs: thread },
            ]),
          ],
        },
      ]),
      { nowMs: 0, limits: LIMITS },
    );
    expect(b.acceptedProfiles).toBe(1);
    expect(b.rejectedProfiles).toBe(0);
    const labels = {
      comm: 'worker',
      deployment_environment: 'prod',
      namespace: 'shop',
      pid: '4242',
      pod: 'checkout-1',
      process_executable_name: 'python3',
      service_name: 'checkout',
    };
    expect(rows(b)).toEqual([
      {
        type: 'process_cpu:cpu:nanoseconds:cpu:nanoseconds:delta',
        labels,
        stack: ['/usr/lib/x86_64-linux-gnu/libc.so.6@0x1234#abcdef0123', 'hot_fn', '<module>'],
        value: 150_000_000,
        ts: NOW,
      },
      { type: 'process_cpu:cpu:nanoseconds:cpu:nanoseconds:delta', labels, stack: ['<module>'], value: 50_000_000, ts: NOW },
    ]);
    expect(b.stacks[b.stack[0]][1]).toMatchObject({ fileName: 'app.py', line: 12 });
    expect(b.durationNs[0]).toBe(10e9);
    expect(b.periodNs[0]).toBe(50e6);
  });

  it('keeps other sample types under their own name and uses values[0]', () => {
    const dict = new Dict();
    const s = dict.stack(dict.symbolized('alloc', 'a.go', 1n));
    const p = create(otlp.ProfileSchema, {
      sampleType: { typeStrindex: dict.s('alloc_space'), unitStrindex: dict.s('bytes') },
      periodType: { typeStrindex: dict.s('space'), unitStrindex: dict.s('bytes') },
      period: 524288n,
      samples: [create(otlp.SampleSchema, { stackIndex: s, values: [4096n] })],
    });
    const b = samplesFromOtlp(request(dict, [{ attrs: {}, profiles: [p] }]), { nowMs: NOW, limits: LIMITS });
    expect(rows(b)).toEqual([
      { type: 'alloc_space:alloc_space:bytes:space:bytes:delta', labels: { service_name: 'unknown_service' }, stack: ['alloc'], value: 4096, ts: NOW },
    ]);
  });

  it('rejects a broken profile on its own and stores the rest (partial success)', () => {
    const dict = new Dict();
    const good = dict.stack(dict.symbolized('ok', 'a.c', 1n));
    const b = samplesFromOtlp(
      request(dict, [
        { attrs: { 'service.name': 'a' }, profiles: [cpuProfile(dict, [{ stack: good, timestamps: 2 }]), cpuProfile(dict, [{ stack: 999, timestamps: 1 }])] },
        { attrs: { 'service.name': 'b' }, profiles: [cpuProfile(dict, [{ stack: good, values: [] }])] },
      ]),
      { nowMs: NOW, limits: LIMITS },
    );
    expect(b.acceptedProfiles).toBe(1);
    expect(b.rejectedProfiles).toBe(2);
    expect(b.errors).toEqual(['stack_table index 999 out of range (2 entries)', 'a sample has neither values nor timestamps']);
    expect(batchTotal(b)).toBe(100_000_000);
  });

  it('fails the request with invalid_argument when no profile can be stored', () => {
    const dict = new Dict();
    const err = (() => {
      try {
        samplesFromOtlp(request(dict, [{ attrs: {}, profiles: [cpuProfile(dict, [{ stack: 7, timestamps: 1 }])] }]), { nowMs: NOW, limits: LIMITS });
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(FirnError);
    expect((err as FirnError).code).toBe('invalid_argument');
    expect((err as FirnError).message).toContain('stack_table index 7 out of range');
  });

  it('enforces the sample limit across the request and truncates deep stacks', () => {
    const dict = new Dict();
    const deep = dict.stack(...Array.from({ length: 20 }, (_, i) => dict.symbolized(`f${i}`, 'x.c', 1n)));
    const req = request(dict, [
      {
        attrs: {},
        profiles: [
          cpuProfile(dict, [
            { stack: deep, timestamps: 1 },
            { stack: deep, timestamps: 2 },
          ]),
        ],
      },
    ]);
    expect(() => samplesFromOtlp(req, { nowMs: NOW, limits: { ...LIMITS, maxSamples: 1 } })).toThrow(/more than 1 samples/);
    const b = samplesFromOtlp(req, { nowMs: NOW, limits: { ...LIMITS, maxStackDepth: 5 } });
    expect(b.stacks[b.stack[0]].map((f) => f.functionName)).toEqual(['f0', 'f1', 'f2', 'f3', 'f4']);
    expect(b.truncatedStacks).toBe(2); // counted per sample, as for pprof
  });

  it('stores the span id of a trace link per row (span profiles), not as a series label', () => {
    const dict = new Dict();
    const link = (spanId: string) => {
      dict.d.linkTable.push(create(otlp.LinkSchema, { traceId: new Uint8Array(16).fill(7), spanId: Buffer.from(spanId, 'hex') }));
      return dict.d.linkTable.length - 1;
    };
    const a = link('00112233445566aa');
    const zero = link('0000000000000000');
    const s = dict.stack(dict.symbolized('handler', 'h.go', 1n));
    const b = samplesFromOtlp(
      request(dict, [
        {
          attrs: { 'service.name': 'api' },
          profiles: [
            cpuProfile(dict, [
              { stack: s, timestamps: 2, link: a },
              { stack: s, timestamps: 1, link: zero },
              { stack: s, timestamps: 4 },
            ]),
          ],
        },
      ]),
      { nowMs: NOW, limits: LIMITS },
    );
    expect(b.series).toEqual([[['service_name', 'api']]]);
    const bySpan = Array.from({ length: b.length }, (_, i) => [b.spans?.[b.span?.[i] ?? 0] ?? '', b.value[i]]);
    expect(bySpan).toEqual([
      ['00112233445566aa', 100_000_000],
      ['', 250_000_000], // a zero span id and no link are both "no span"
    ]);
    // A link index out of range rejects that profile alone.
    const bad = samplesFromOtlp(
      request(dict, [
        {
          attrs: {},
          profiles: [
            cpuProfile(dict, [
              { stack: s, timestamps: 1 },
              { stack: s, timestamps: 1, link: 99 },
            ]),
            cpuProfile(dict, [{ stack: s, timestamps: 1 }]),
          ],
        },
      ]),
      { nowMs: NOW, limits: LIMITS },
    );
    expect(bad.errors).toEqual(['link_table index 99 out of range (3 entries)']);
    expect(batchTotal(bad)).toBe(50_000_000);
  });

  it('names labels the way Firn agents do and drops per-thread ids', () => {
    expect(otlpLabelName('service.name')).toBe('service_name');
    expect(otlpLabelName('k8s.container.name')).toBe('container');
    expect(otlpLabelName('container.id')).toBe('container_id');
    expect(otlpLabelName('process.context.label.endpoint')).toBe('endpoint');
    expect(otlpLabelName('service.version')).toBe('service_version');
    expect(otlpLabelName('thread.id')).toBeUndefined();
    expect(otlpLabelName('__name__')).toBeUndefined();
  });

  it('never throws anything but FirnError on random or corrupted bytes (property)', () => {
    const dict = new Dict();
    const base = request(dict, [
      { attrs: { 'service.name': 's' }, profiles: [cpuProfile(dict, [{ stack: dict.stack(dict.symbolized('a', 'b', 1n)), timestamps: 2 }])] },
    ]);
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 512 }),
          fc.tuple(fc.nat(base.length - 1), fc.integer({ min: 0, max: 255 })).map(([i, v]) => Uint8Array.from(base, (x, j) => (j === i ? v : x))),
        ),
        (bytes) => {
          try {
            samplesFromOtlp(bytes, { nowMs: NOW, limits: LIMITS });
          } catch (err) {
            expect(err).toBeInstanceOf(FirnError);
          }
        },
      ),
      { numRuns: 2000 },
    );
  });
});

import { create } from '@bufbuild/protobuf';
import type { SampleBatch } from '@firn/profiles';
import { otlpCollectorProfilesV1development as collector, otlpProfilesV1development as otlp } from '@firn/proto';

/**
 * A valid OTLP ExportProfilesServiceRequest carrying a SampleBatch's rows as CPU samples (one
 * resource per series), for fuzzing seeds. Built with Firn's own generated code: compatibility
 * tests use clients from the upstream definitions instead (otlp-ingest.e2e-spec.ts).
 */
export function otlpRequestFromBatch(b: SampleBatch): collector.ExportProfilesServiceRequest {
  const strings = [''];
  const s = (v: string): number => {
    let i = strings.indexOf(v);
    if (i < 0) i = strings.push(v) - 1;
    return i;
  };
  const dict = create(otlp.ProfilesDictionarySchema, {
    mappingTable: [create(otlp.MappingSchema)],
    locationTable: [create(otlp.LocationSchema)],
    functionTable: [create(otlp.FunctionSchema)],
    linkTable: [create(otlp.LinkSchema)],
    attributeTable: [create(otlp.KeyValueAndUnitSchema)],
    stackTable: [create(otlp.StackSchema)],
  });
  const stackIdx = b.stacks.map((frames) => {
    const locs = frames.map((f) => {
      dict.functionTable.push(
        create(otlp.FunctionSchema, { nameStrindex: s(f.functionName || `0x${f.address.toString(16)}`), filenameStrindex: s(f.fileName) }),
      );
      dict.locationTable.push(
        create(otlp.LocationSchema, { address: f.address, lines: [{ functionIndex: dict.functionTable.length - 1, line: BigInt(f.line) }] }),
      );
      return dict.locationTable.length - 1;
    });
    dict.stackTable.push(create(otlp.StackSchema, { locationIndices: locs }));
    return dict.stackTable.length - 1;
  });
  const resourceProfiles = b.series.map((labels, si) => {
    const samples = [];
    for (let i = 0; i < b.length; i++) {
      if (b.seriesIdx[i] === si) samples.push(create(otlp.SampleSchema, { stackIndex: stackIdx[b.stack[i]], values: [BigInt(b.value[i])] }));
    }
    return create(otlp.ResourceProfilesSchema, {
      resource: {
        attributes: labels.map(([key, value]) => ({
          key: key === 'service_name' ? 'service.name' : key,
          value: { value: { case: 'stringValue' as const, value } },
        })),
      },
      scopeProfiles: [
        {
          profiles: [
            {
              sampleType: { typeStrindex: s('samples'), unitStrindex: s('count') },
              periodType: { typeStrindex: s('cpu'), unitStrindex: s('nanoseconds') },
              period: 52_631_578n,
              timeUnixNano: BigInt(b.timestampMs[0] ?? Date.now()) * 1_000_000n,
              samples,
            },
          ],
        },
      ],
    });
  });
  dict.stringTable = strings;
  return create(collector.ExportProfilesServiceRequestSchema, { dictionary: dict, resourceProfiles });
}

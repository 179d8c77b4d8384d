import { create, toBinary } from '@bufbuild/protobuf';
import { googleV1 } from '@firn/proto';
import { describe, expect, it } from 'vitest';
import { samplesFromPprof } from './pprof';

const S = ['', 'samples', 'count', 'main', '/usr/bin/app', 'abcdef01', '/lib/libc.so.6', '0123abcd'];
const s = (v: string): bigint => BigInt(S.indexOf(v));

/** Unsymbolized frames' addresses as the batch stores them, leaf first. */
function addresses(profile: googleV1.Profile): Array<[string, bigint, string]> {
  const b = samplesFromPprof(toBinary(googleV1.ProfileSchema, profile), {
    name: 't',
    seriesLabels: [],
    nowMs: 1,
    limits: { maxDecompressedBytes: 1 << 20, maxSamples: 100, maxStackDepth: 100 },
  });
  return b.stacks[0].map((f) => [f.buildId, f.address, f.functionName]);
}

describe('samplesFromPprof addresses', () => {
  it('turns unsymbolized runtime addresses into file offsets of the mapping, keeps the rest', () => {
    const p = create(googleV1.ProfileSchema, {
      sampleType: [{ type: s('samples'), unit: s('count') }],
      stringTable: S,
      mapping: [
        // A PIE executable whose text segment (file offset 0x1000) is mapped at 0x5555_5555_5000.
        { id: 1n, memoryStart: 0x5555_5555_5000n, memoryLimit: 0x5555_5555_9000n, fileOffset: 0x1000n, filename: s('/usr/bin/app'), buildId: s('abcdef01') },
        // A mapping without a load address (already file-relative addresses): kept as is.
        { id: 2n, memoryStart: 0n, fileOffset: 0n, filename: s('/lib/libc.so.6'), buildId: s('0123abcd') },
      ],
      function: [{ id: 1n, name: s('main') }],
      location: [
        { id: 1n, mappingId: 1n, address: 0x5555_5555_5123n },
        { id: 2n, mappingId: 2n, address: 0x2a0f0n },
        // Symbolized: the address is not what names the frame, so it stays the runtime address.
        { id: 3n, mappingId: 1n, address: 0x5555_5555_6000n, line: [{ functionId: 1n, line: 3n }] },
        // Below memory_start (inconsistent profile): kept rather than wrapped around.
        { id: 4n, mappingId: 1n, address: 0x10n },
      ],
      sample: [{ locationId: [1n, 2n, 3n, 4n], value: [1n] }],
    });
    expect(addresses(p)).toEqual([
      ['abcdef01', 0x1123n, ''],
      ['0123abcd', 0x2a0f0n, ''],
      ['abcdef01', 0x5555_5555_6000n, 'main'],
      ['abcdef01', 0x10n, ''],
    ]);
  });
});

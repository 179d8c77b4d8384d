import { create, equals, fromBinary, toBinary } from '@bufbuild/protobuf';
import { describe, expect, it } from 'vitest';
import { querierV1 } from '@firn/proto';
import { mulberry32 } from '@firn/testing';
import { encodedLevels, setLevels } from './flame-graph-levels';

const P = querierV1;

describe(encodedLevels.name, () => {
  it('is the bytes of the Level messages it stands for, whatever the values (random levels, varint length edges, up to 2^53 and past it, negative, empty)', () => {
    const rng = mulberry32(7);
    const edges = [
      0,
      1,
      127,
      128,
      16383,
      16384,
      0x7fffffff,
      0x80000000,
      0xffffffff,
      0x100000000,
      2 ** 35 - 1,
      2 ** 35,
      2 ** 53 - 1,
      2 ** 53,
      2 ** 60,
      -1,
      -(2 ** 40),
      3.4,
    ];
    for (let round = 0; round < 50; round++) {
      const levels = Array.from({ length: 1 + Math.floor(rng() * 6) }, () => ({
        values: Array.from({ length: Math.floor(rng() * 5) * 4 }, () =>
          rng() < 0.2 ? edges[Math.floor(rng() * edges.length)] : Math.floor(rng() * 2 ** (rng() * 53)),
        ),
      }));
      const init = { names: ['total', 'main'], total: 123n, maxSelf: 7n };
      const asMessages = create(P.FlameGraphSchema, { ...init, levels: levels.map((l) => ({ values: l.values.map((v) => BigInt(Math.round(v))) })) });
      const encoded = create(P.FlameGraphSchema, init);
      encoded.$unknown = encodedLevels(levels);
      // Byte for byte the runtime's encoding of each Level (after the field's length prefix).
      encoded.$unknown.forEach((u, i) => {
        const level = toBinary(P.LevelSchema, asMessages.levels[i]);
        expect(u.data.subarray(u.data.length - level.length)).toEqual(level);
      });
      const decoded = fromBinary(P.FlameGraphSchema, toBinary(P.FlameGraphSchema, encoded));
      expect(decoded.$unknown ?? []).toEqual([]);
      expect(equals(P.FlameGraphSchema, decoded, asMessages)).toBe(true);
      // The same for a diff's levels, and inside the response message.
      const diff = create(P.FlameGraphDiffSchema, { leftTicks: 1n, rightTicks: 2n });
      diff.$unknown = encodedLevels(levels);
      const back = fromBinary(P.DiffResponseSchema, toBinary(P.DiffResponseSchema, create(P.DiffResponseSchema, { flamegraph: diff })));
      expect(back.flamegraph?.levels.map((l) => l.values)).toEqual(asMessages.levels.map((l) => l.values));
    }
  });
});

describe(setLevels.name, () => {
  it('sets levels encoded for a binary response and as Level messages for JSON, both read back the same', () => {
    const levels = [{ values: [0, 300, 0, 0] }, { values: [0, 200, 200, 1, 0, 100, 2 ** 40, 2] }];
    const binary = create(P.FlameGraphSchema, { names: ['total', 'a', 'b'] });
    setLevels(binary, levels, true);
    expect(binary.levels).toEqual([]);
    const json = create(P.FlameGraphSchema, { names: ['total', 'a', 'b'] });
    setLevels(json, levels, false);
    expect(json.$unknown).toBeUndefined();
    expect(json.levels.map((l) => l.values.map(Number))).toEqual(levels.map((l) => l.values));
    expect(equals(P.FlameGraphSchema, fromBinary(P.FlameGraphSchema, toBinary(P.FlameGraphSchema, binary)), json)).toBe(true);
  });
});

import { create, type UnknownField } from '@bufbuild/protobuf';
import { BinaryWriter, WireType } from '@bufbuild/protobuf/wire';
import { querierV1 } from '@firn/proto';

const LEVELS_FIELD = querierV1.FlameGraphSchema.field.levels.number;
const VALUES_FIELD = querierV1.LevelSchema.field.values.number;

// FlameGraph and FlameGraphDiff carry their levels in the same field.
if (querierV1.FlameGraphDiffSchema.field.levels.number !== LEVELS_FIELD) throw new Error('FlameGraph and FlameGraphDiff levels differ in field number');

/**
 * A Pyroscope flame graph's levels (`repeated Level levels`, each `repeated int64 values`) as
 * the bytes of the field, to set as the message's `$unknown` instead of Level messages: the
 * protobuf runtime writes them as they are, and a reader (Grafana, any Pyroscope client) decodes
 * them as the levels field. Built as Level messages, a 16 k-node flame graph's 65 k int64 values
 * are each made a BigInt and encoded through BigInt arithmetic (protobuf-es has no other way for
 * int64): ≈ 35 ms of CPU per fleet flame graph, its values being nanoseconds (mostly above 2^32).
 * Here non-negative integers below 2^53 (every value a flame graph holds) are written as varints
 * straight from the number, the same bytes (the spec checks them against the runtime's); anything
 * else goes through the runtime's int64. Only for binary responses: JSON serialization drops
 * unknown fields (see `binaryResponse` in @firn/server-runtime).
 */
export function encodedLevels(levels: ReadonlyArray<{ values: readonly number[] }>): UnknownField[] {
  return levels.map((l) => ({ no: LEVELS_FIELD, wireType: WireType.LengthDelimited, data: levelBytes(l.values) }));
}

/** Varint bytes of the packed values, reused between calls. */
let scratch = new Uint8Array(1 << 16);

/** One Level message, length-prefixed as a length-delimited field's data is kept. */
function levelBytes(values: readonly number[]): Uint8Array {
  if (scratch.length < values.length * 10) scratch = new Uint8Array(values.length * 10);
  let at = 0;
  for (const v of values) {
    let n = Math.round(v);
    if (!(n >= 0 && n <= Number.MAX_SAFE_INTEGER)) {
      const bytes = new BinaryWriter().int64(BigInt(n)).finish(); // 10 bytes at most, as reserved
      scratch.set(bytes, at);
      at += bytes.length;
      continue;
    }
    while (n > 0xffffffff) {
      scratch[at++] = (n % 0x80) | 0x80;
      n = Math.floor(n / 0x80);
    }
    while (n > 0x7f) {
      scratch[at++] = (n & 0x7f) | 0x80;
      n >>>= 7;
    }
    scratch[at++] = n;
  }
  // Packed, as proto3 writes repeated scalars; an empty Level has no values field. finish()
  // copies the scratch out.
  const w = new BinaryWriter().fork();
  if (at > 0) w.tag(VALUES_FIELD, WireType.LengthDelimited).bytes(scratch.subarray(0, at));
  return w.join().finish();
}

/**
 * Sets a FlameGraph's or FlameGraphDiff's levels as the call's response can carry them: encoded
 * (see encodedLevels) for protobuf's binary form (`binary`: `binaryResponse(ctx)` of
 * @firn/server-runtime), Level messages for JSON.
 */
export function setLevels(
  msg: { levels: querierV1.Level[]; $unknown?: UnknownField[] },
  levels: ReadonlyArray<{ values: readonly number[] }>,
  binary: boolean,
): void {
  if (binary) msg.$unknown = encodedLevels(levels);
  else msg.levels = levels.map((l) => create(querierV1.LevelSchema, { values: l.values.map((v) => BigInt(Math.round(v))) }));
}

import type { UnknownField } from '@bufbuild/protobuf';
import { BinaryWriter, WireType } from '@bufbuild/protobuf/wire';
import type { HandlerContext } from '@connectrpc/connect';
import { querierV1 } from '@firn/proto';

const LEVELS_FIELD = querierV1.FlameGraphSchema.field.levels.number;
const VALUES_FIELD = querierV1.LevelSchema.field.values.number;
const UINT32_MAX = 0xffffffff;

// FlameGraph and FlameGraphDiff carry their levels in the same field.
if (querierV1.FlameGraphDiffSchema.field.levels.number !== LEVELS_FIELD) throw new Error('FlameGraph and FlameGraphDiff levels differ in field number');

/**
 * A Pyroscope flame graph's levels (`repeated Level levels`, each `repeated int64 values`) as
 * the bytes of the field, to set as the message's `$unknown` instead of Level messages: the
 * protobuf runtime writes them as they are, and a reader (Grafana, any Pyroscope client) decodes
 * them as the levels field. Built as Level messages, a 16 k-node flame graph's 65 k int64 values
 * are each made a BigInt and encoded through BigInt arithmetic: 12-30 ms of a query's CPU,
 * against 3-5 ms here. Values are written with the runtime's own varint writer: as uint32 when
 * they fit (the same bytes as int64 for 0 ≤ v < 2^32), as int64 otherwise. Only for binary
 * responses: JSON serialization drops unknown fields (see `binaryResponse`).
 */
export function encodedLevels(levels: ReadonlyArray<{ values: readonly number[] }>): UnknownField[] {
  return levels.map((l) => ({ no: LEVELS_FIELD, wireType: WireType.LengthDelimited, data: levelBytes(l.values) }));
}

/** One Level message, length-prefixed as a length-delimited field's data is kept. */
function levelBytes(values: readonly number[]): Uint8Array {
  const w = new BinaryWriter().fork();
  if (values.length > 0) {
    // Packed, as proto3 writes repeated scalars.
    w.tag(VALUES_FIELD, WireType.LengthDelimited).fork();
    for (const v of values) {
      const n = Math.round(v);
      if (n >= 0 && n <= UINT32_MAX) w.uint32(n);
      else w.int64(BigInt(n));
    }
    w.join();
  }
  return w.join().finish();
}

/** Whether the call's response goes out in protobuf's binary form (gRPC, gRPC-web, Connect), not JSON. */
export function binaryResponse(ctx: HandlerContext): boolean {
  return !(ctx.requestHeader.get('content-type') ?? '').includes('json');
}

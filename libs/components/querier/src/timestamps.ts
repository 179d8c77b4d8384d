import type { Duration, Timestamp } from '@bufbuild/protobuf/wkt';
import { create } from '@bufbuild/protobuf';
import { TimestampSchema } from '@bufbuild/protobuf/wkt';
import { FirnError } from '@firn/errors';

export function timestampMs(t: Timestamp | undefined, field: string, fallback?: number): number {
  if (!t) {
    if (fallback !== undefined) return fallback;
    throw FirnError.invalidArgument(`${field} is required`);
  }
  return Number(t.seconds) * 1000 + Math.floor(t.nanos / 1e6);
}

export function durationMs(d: Duration | undefined): number | undefined {
  if (!d) return undefined;
  return Number(d.seconds) * 1000 + Math.floor(d.nanos / 1e6);
}

export function toTimestamp(ms: number): Timestamp {
  return create(TimestampSchema, { seconds: BigInt(Math.floor(ms / 1000)), nanos: (ms % 1000) * 1e6 });
}

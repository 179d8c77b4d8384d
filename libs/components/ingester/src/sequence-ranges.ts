import { create } from '@bufbuild/protobuf';
import { firnManifestV1 } from '@firn/proto';

/** Stream sequences → sorted, merged ranges (what a segment covers). */
export function toSequenceRanges(stream: string, seqs: readonly number[]): firnManifestV1.SequenceRange[] {
  const sorted = [...seqs].sort((a, b) => a - b);
  const out: firnManifestV1.SequenceRange[] = [];
  let first = -1;
  let last = -1;
  for (const s of sorted) {
    if (s === last) continue;
    if (first >= 0 && s === last + 1) {
      last = s;
      continue;
    }
    if (first >= 0) out.push(create(firnManifestV1.SequenceRangeSchema, { stream, first: BigInt(first), last: BigInt(last) }));
    first = s;
    last = s;
  }
  if (first >= 0) out.push(create(firnManifestV1.SequenceRangeSchema, { stream, first: BigInt(first), last: BigInt(last) }));
  return out;
}

import { FirnError } from '@firn/errors';
import type { firnManifestV1 } from '@firn/proto';

export type SegmentMeta = firnManifestV1.SegmentMeta;

const SAMPLES = 'samples.parquet';
const STACKS = 'stacks.parquet';

/**
 * The two object keys of a segment. `objectKey` is the segment directory (ending in '/'); a key
 * naming samples.parquet itself is accepted too, as early manifests wrote it that way.
 */
export function segmentObjects(seg: SegmentMeta): { samples: string; stacks: string } {
  let dir = seg.objectKey;
  if (dir.endsWith(`/${SAMPLES}`)) dir = dir.slice(0, -SAMPLES.length);
  if (dir === '' || !dir.endsWith('/')) {
    throw FirnError.invalidArgument(`segment ${JSON.stringify(seg.id)} has object key ${JSON.stringify(seg.objectKey)}, expected a directory ending in "/"`);
  }
  return { samples: dir + SAMPLES, stacks: dir + STACKS };
}

import { FirnError } from '@firn/errors';
import type { firnManifestV1 } from '@firn/proto';
import { keysOfDir, type SegmentKeys } from '@firn/segments';

export type SegmentMeta = firnManifestV1.SegmentMeta;

/** The two object keys of a segment; `objectKey` is the segment directory (ending in '/'). */
export function segmentObjects(seg: SegmentMeta): SegmentKeys {
  if (!seg.objectKey.endsWith('/')) {
    throw FirnError.invalidArgument(`segment ${JSON.stringify(seg.id)} has object key ${JSON.stringify(seg.objectKey)}, expected a directory ending in "/"`);
  }
  return keysOfDir(seg.objectKey);
}

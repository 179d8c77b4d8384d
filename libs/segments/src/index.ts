export { compareStrings, seriesKeyOf } from './label-order';
export {
  FrameField,
  SAMPLES_SCHEMA_ID,
  SAMPLES_SORT,
  SampleColumn,
  SCHEMA_METADATA_KEY,
  SORT_METADATA_KEY,
  STACKS_SCHEMA_ID,
  StackColumn,
  isStacksSchema,
  labelColumnName,
  labelNameOfColumn,
} from './segment-schema';
export { buildSegment, type BuildSegmentOptions, type BuiltSegment } from './segment-writer';
export { keysOfDir, newSegmentId, segmentDay, segmentKeys, type SegmentKeys } from './segment-keys';
export {
  decodeStacks,
  decodeStacksBatch,
  forEachFrameIdStack,
  type FrameTable,
  readFrameTable,
  readSegmentSamples,
  readSegmentStacks,
  totalsBySeriesAndStack,
} from './segment-reader';
export { openSegmentObject, readSegment, writeSegment } from './segment-store';
export { bytesSource, ParquetReader, type ParquetReadOptions } from './parquet';
export { segmentDir, segmentMeta } from './segment-meta';
export { decodeSeriesRollup, SeriesPointsBuilder, type SeriesRollup } from './series-rollup';
export { registerParquetMemoryGauge } from './parquet.metrics';

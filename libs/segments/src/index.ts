export { compareLabelSets, compareStrings, seriesKeyOf } from './label-order';
export {
  FrameField,
  LABEL_COLUMN_PREFIX,
  SAMPLES_SCHEMA_ID,
  SAMPLES_SORT,
  SampleColumn,
  SCHEMA_METADATA_KEY,
  SORT_METADATA_KEY,
  STACK_ORDER_METADATA_KEY,
  STACKS_SCHEMA_ID,
  StackColumn,
  labelColumnName,
  labelNameOfColumn,
} from './segment-schema';
export { mergeBatches, type MergeBatchesOptions, type MergedRows, type RowOrder, type StackOrder } from './merge-batches';
export {
  buildSegment,
  DEFAULT_MAX_LABEL_VALUES_IN_SUMMARY,
  DEFAULT_ROW_GROUP_ROWS,
  type BuildSegmentOptions,
  type BuiltSegment,
  type LabelSummary,
  type SegmentStats,
} from './segment-writer';
export { MAX_SEGMENT_LEVEL, newSegmentId, segmentDay, segmentIdTimeMs, segmentKeys, type SegmentKeys } from './segment-keys';
export { decodeStacksBatch, readSegmentSamples, readSegmentStacks, totalsBySeriesAndStack, type ReadSamplesOptions, type SegmentStack } from './segment-reader';
export { openSegmentObject, objectRangeSource, readSegment, writeSegment } from './segment-store';
export {
  bytesSource,
  parquetWasmMemoryBytes,
  ParquetReader,
  type ColumnChunkInfo,
  type ParquetByteSource,
  type ParquetLayout,
  type ParquetReadOptions,
  type RowGroupInfo,
} from './parquet';
export { keysOfDir, segmentDir, segmentMeta } from './segment-meta';
export { registerParquetMemoryGauge } from './parquet.metrics';

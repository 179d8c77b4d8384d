export { QueryEngine, type MergeOptions, type PlannedQuery, type QueryEngineOptions, type QueryOptions } from './query-engine';
export { StackAccumulator, emptyPartial, merge, type PartialAggregate, type PartialStack, type Side } from './merge-stacks';
export { decodePartial, encodePartial } from './partial-codec';
export { scanSegment, type ScanOptions, type ScanQuery } from './segment-scan';
export { mergeSeries, scanSeries, seriesLabels, type SeriesBuckets, type SeriesPoint, type SeriesQuery } from './series-scan';
export { labelNames, labelValues, profileTypes, type LabelQuery, type LabelScanOptions } from './labels';
export { planSegments, type PlanQuery } from './plan';
export { segmentObjects, type SegmentMeta } from './segment-objects';
export { NO_SYMBOLS, symbolize, type SymbolResolver } from './symbols';

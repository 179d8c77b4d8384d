export { QueryEngine, type MergeOptions, type PlannedQuery, type QueryEngineOptions, type QueryOptions, type SeriesOptions } from './query-engine';
export { StackAccumulator, emptyPartial, merge, type PartialAggregate, type PartialStack, type Side } from './merge-stacks';
export { decodePartial, encodePartial } from './partial-codec';
export { PERIOD_GROUP, scanSegment, type ScanOptions, type ScanQuery } from './segment-scan';
export { mergeSeries, scanSeries, seriesFromColumns, seriesLabels, seriesToColumns, type SeriesBuckets, type SeriesColumns, type SeriesPoint, type SeriesQuery } from './series-scan';
export { labelNames, labelNamesPlan, labelValues, labelValuesPlan, profileTypes, scanLabelNames, scanLabelValues, sortedLabelSet, type LabelPlan, type LabelQuery, type LabelScanOptions } from './labels';
export { planSegments, type PlanQuery } from './plan';
export { segmentObjects, type SegmentMeta } from './segment-objects';
export { NO_SYMBOLS, symbolize, demangleProfile, sharedDemangler, type SymbolResolver } from './symbols';

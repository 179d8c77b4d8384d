export { QueryEngine, type PlannedQuery } from './query-engine';
export { StackAccumulator, type PartialAggregate, type Side } from './merge-stacks';
export { decodePartial, encodePartial } from './partial-codec';
export { PERIOD_GROUP } from './segment-scan';
export { mergeSeries, seriesFromColumns, seriesLabels, seriesToColumns, type SeriesBuckets } from './series-scan';
export { sortedLabelSet, type LabelQuery } from './labels';
export { planSegments } from './plan';
export { type SegmentMeta } from './segment-objects';
export { NO_SYMBOLS, symbolize, type SymbolResolver } from './symbols';

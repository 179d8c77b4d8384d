export {
  type ProfileType,
  type MatchOp,
  type LabelMatcher,
  type Selector,
  formatProfileType,
  parseProfileType,
  parseSelector,
  parseMatchers,
  parseMetricSelector,
  withMatcher,
  compileMatcherRegex,
  matchesValue,
  matchesLabels,
  isValidLabelName,
  isDeltaSampleType,
} from './profile-type';
export {
  type Label,
  type LabelLimits,
  DEFAULT_LABEL_LIMITS,
  validateLabels,
  normalizeLabels,
  mergeLabels,
  labelsKey,
  isWellFormedString,
  sanitizeLabelName,
  sanitizeLabelNames,
} from './labels';
export {
  type Frame,
  type UnnamedReason,
  UNNAMED_REASONS,
  type SampleBatch,
  type SampleBatchBuilderOptions,
  SampleBatchBuilder,
  concatBatches,
  emptyBatch,
  batchTotal,
  normalizeSpanId,
  isSpanId,
} from './sample-batch';
export { stackKey } from './stack-key';
export { checkGunzipSize, isGzip, isZstd, maybeGunzip } from './decompress';
export { type PprofLimits, type PprofOptions, type DecodedSamples, samplesFromPprof } from './pprof';
export {
  type PyroscopeSeries,
  type PyroscopeSeriesOptions,
  type SampleTypeConfig,
  PYROSCOPE_SPY_LABEL,
  pyroscopeSeriesLabels,
  pyroscopeProfileName,
  parseSampleTypeConfig,
} from './pyroscope-ingest';
export { type ToPprofOptions, samplesToPprof } from './pprof-encode';
export { type OtlpDecodeOptions, type OtlpDecoded, samplesFromOtlp, otlpLabelName } from './otlp';
export {
  type FoldedOptions,
  samplesFromFolded,
  parsePyroscopeName,
  pyroscopeProfileType,
  isPyroscopeSampleType,
} from './folded';
export {
  type ArrowLimits,
  type ArrowDecodedSamples,
  SAMPLES_SCHEMA_KEY,
  SAMPLES_SCHEMA_V1,
  LABEL_COLUMN_PREFIX,
  samplesToArrow,
  samplesFromArrow,
  frameStructType,
  stackListType,
} from './arrow-samples';
export { type RelabelAction, type RelabelConfig, type Labels, parseRelabelConfigs, relabelConfigsFrom, relabel } from './relabel';

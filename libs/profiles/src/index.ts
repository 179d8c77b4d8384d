export {
  type LabelMatcher,
  formatProfileType,
  parseProfileType,
  parseSelector,
  parseMatchers,
  parseMetricSelector,
  withMatcher,
  matchesValue,
  matchesLabels,
  isValidLabelName,
} from './profile-type';
export { type Label, validateLabels, labelsKey, sanitizeLabelNames } from './labels';
export {
  type Frame,
  frameWith,
  type UnnamedReason,
  UNNAMED_REASONS,
  type SampleBatch,
  SampleBatchBuilder,
  batchTotal,
  normalizeSpanId,
  isSpanId,
} from './sample-batch';
export { stackKey, frameText, frameContent } from './stack-key';
export { type InternedStacks, internedStacksOf } from './frame-intern';
export { gunzipWithin, isGzip, maybeGunzip } from './decompress';
export { type PprofLimits, samplesFromPprof, pprofIntoBuilder } from './pprof';
export { type SampleTypeConfig, pyroscopeSeriesLabels, pyroscopeProfileName, parseSampleTypeConfig } from './pyroscope-ingest';
export { gzipPprof, samplesToPprof, samplesToPprofMessage } from './pprof-encode';
export { samplesFromOtlp } from './otlp';
export { samplesFromFolded, parsePyroscopeName } from './folded';
export { checkSamplesArrow, samplesToArrow, samplesFromArrow, type ArrowLimits } from './arrow-samples';
export { recordBatchOf } from './arrow-record';
export { type RelabelConfig, parseRelabelConfigs, relabelConfigsFrom, relabel } from './relabel';

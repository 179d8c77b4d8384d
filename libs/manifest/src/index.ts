export { ManifestState, type ManifestView, type SegmentEntry, type SegmentQuery, type SegmentStatus } from './manifest-state';
export { compileMatchers, summaryMayMatch, type CompiledMatcher, type LabelMatcher, type MatchOp } from './label-match';
export {
  ManifestLog,
  type AppliedDelta,
  type ManifestLogger,
  type ManifestLogOptions,
  type PublishDeltaOptions,
} from './manifest-log';
export { decodeSnapshot, encodeSnapshot, snapshotKey, type TenantSnapshot } from './snapshot-codec';

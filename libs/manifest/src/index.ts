export { ManifestState, type ManifestView } from './manifest-state';
export { compileMatchers, type CompiledMatcher, type LabelMatcher } from './label-match';
export { ManifestLog } from './manifest-log';

export type { StackProfile } from './stack-profile';
export {
  type FlamegraphArrowOptions,
  type FlamegraphArrowReport,
  FLAMEGRAPH_ARROW_COLUMNS,
  flamegraphArrow,
} from './flamegraph-arrow';
export {
  type PyroscopeFlameGraph,
  type PyroscopeFlameGraphDiff,
  type PyroscopeFlameGraphOptions,
  pyroscopeFlameGraph,
  pyroscopeFlameGraphDiff,
} from './pyroscope-flamegraph';
export { type TopOptions, type TopReport, parcaTop } from './top';
export { type TableArrowOptions, type TableArrowReport, tableArrow } from './table-arrow';
export { type StackProfilePprofOptions, stackProfileToPprof } from './pprof';
export { frameLabel, pyroscopeFrameName } from './labels';
export { diffValues } from './profile-input';

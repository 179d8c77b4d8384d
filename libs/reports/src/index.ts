export type { StackProfile } from './stack-profile';
export { FrameIds, internStacks, rememberInterned } from './profile-input';
export { flamegraphArrow } from './flamegraph-arrow';
export { pyroscopeFlameGraph, pyroscopeFlameGraphDiff } from './pyroscope-flamegraph';
export { parcaTop } from './top';
export { tableArrow } from './table-arrow';
export { stackProfileToPprof, stackProfileToPprofMessage } from './pprof';
export { pyroscopeFrameName } from './labels';

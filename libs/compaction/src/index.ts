export { Compactor, COMPACTOR_STEPS, type CompactorManifest, type CompactorObserver, type CompactorOptions, type CompactorStep, type JobOutcome, type JobReport } from './compactor';
export { GarbageCollector, type GarbageCollectorOptions, type GcReason, type GcResult } from './gc';
export { DEFAULT_LEVELS, validateLevels, windowStart, type LevelPolicy } from './levels';
export { mergeSegments, segmentBatches, StackInterner, type MergedBlock, type MergeOptions } from './merge';
export { expiredSegments, leaseKeyOf, maxMsOf, minMsOf, planCompactions, type CompactionJob, type TriggerReason } from './planner';
export type { RetentionPolicy } from './retention';

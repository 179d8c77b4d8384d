export { Compactor, COMPACTOR_STEPS, type CompactorObserver, type CompactorStep, type JobReport } from './compactor';
export { type GcResult } from './gc';
export { DEFAULT_LEVELS, type LevelPolicy } from './levels';

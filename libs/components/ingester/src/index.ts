export { IngesterModule } from './ingester.module';
export { DEFAULT_INGESTER_OPTIONS, FLUSH_STEPS, type FlushStep, type IngesterOptions } from './ingester.options';
export { ingesterConfig, ingesterServer } from './ingester.server';
export { ingesterOptionsFrom, ingesterSettings } from './ingester.settings';
export { toSequenceRanges } from './sequence-ranges';

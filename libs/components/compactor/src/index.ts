export { CompactorModule } from './compactor.module';
export { COMPACTOR_STEPS, DEFAULT_COMPACTOR_OPTIONS, type CompactorOptions } from './compactor.options';
export { compactorConfig, compactorServer } from './compactor.server';
export { compactorOptionsFrom, compactorSettings } from './compactor.settings';

export { CompactorModule } from './compactor.module';
export { compactorConfig, compactorServer } from './compactor.server';
export { compactorOptionsFrom, compactorSettings } from './compactor.settings';

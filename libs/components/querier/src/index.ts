export { QuerierModule } from './querier.module';
export { DEFAULT_QUERIER_OPTIONS, type QuerierOptions } from './querier.options';
export { querierConfig, querierServer } from './querier.server';
export { querierOptionsFrom, querierSettings } from './querier.settings';

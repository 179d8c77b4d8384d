export { QuerierModule } from './querier.module';
export { querierConfig, querierServer } from './querier.server';
export { querierOptionsFrom, querierSettings } from './querier.settings';
export { encodedLevels } from './flame-graph-levels';

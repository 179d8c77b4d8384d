export { QuerierModule } from './querier.module';
export { querierConfig, querierServer } from './querier.server';

export { IngesterModule } from './ingester.module';
export { FLUSH_STEPS } from './ingester.options';
export { ingesterConfig, ingesterServer } from './ingester.server';
export { ingesterOptionsFrom, ingesterSettings } from './ingester.settings';

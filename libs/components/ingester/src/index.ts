export { IngesterModule } from './ingester.module';
export { ingesterConfig, ingesterServer } from './ingester.server';

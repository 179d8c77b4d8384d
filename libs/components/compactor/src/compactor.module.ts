import { Module, type DynamicModule } from '@nestjs/common';

/**
 * Merges segments into blocks, enforces retention, collects garbage (issue: compactor). Needs: NATS (leases), object storage.
 * Today the module only takes part in the shared lifecycle (readiness follows its dependencies).
 */
@Module({})
export class CompactorModule {
  static forRoot(): DynamicModule {
    return { module: CompactorModule };
  }
}

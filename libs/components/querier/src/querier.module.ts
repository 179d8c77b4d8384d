import { Module, type DynamicModule } from '@nestjs/common';

/**
 * Scans Parquet segments and returns partial aggregates (issue: read path). Needs: object storage, NATS (manifest gossip), symbol cache.
 * Today the module only takes part in the shared lifecycle (readiness follows its dependencies).
 */
@Module({})
export class QuerierModule {
  static forRoot(): DynamicModule {
    return { module: QuerierModule };
  }
}

import { Module, type DynamicModule } from '@nestjs/common';

/**
 * Consumes the ingest stream from NATS JetStream and writes Parquet segments to object storage (issue: write path). Needs: NATS, object storage.
 * Today the module only takes part in the shared lifecycle (readiness follows its dependencies).
 */
@Module({})
export class IngesterModule {
  static forRoot(): DynamicModule {
    return { module: IngesterModule };
  }
}

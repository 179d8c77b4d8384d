import { Module, type DynamicModule } from '@nestjs/common';

/**
 * Resolves (build id, address) to function/file/line from debuginfo (issue: symbolizer). Needs: NATS (work queue), object storage, symbol cache.
 * Today the module only takes part in the shared lifecycle (readiness follows its dependencies).
 */
@Module({})
export class SymbolizerModule {
  static forRoot(): DynamicModule {
    return { module: SymbolizerModule };
  }
}

import { Module, type DynamicModule } from '@nestjs/common';
import { IngesterService } from './ingester.service';
import { DEFAULT_INGESTER_OPTIONS, INGESTER_OPTIONS, type IngesterOptions } from './ingester.options';

/**
 * Consumes the ingest log (NATS JetStream) and writes Parquet segments to object storage,
 * publishing each in the manifest before acking. Needs: NATS, object storage, ManifestModule.
 */
@Module({})
export class IngesterModule {
  static forRoot(opts: Partial<IngesterOptions> & Pick<IngesterOptions, 'writerId'>): DynamicModule {
    return {
      module: IngesterModule,
      providers: [{ provide: INGESTER_OPTIONS, useValue: { ...DEFAULT_INGESTER_OPTIONS, ...opts } }, IngesterService],
    };
  }
}

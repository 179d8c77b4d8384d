import { Module, type DynamicModule } from '@nestjs/common';
import type { Bus } from '@firn/bus';
import { DEFAULT_SYMBOLIZE_QUEUE_OPTIONS, SymbolizeQueue, type SymbolizeQueueOptions } from '@firn/debuginfo';
import type { Logger, Registry } from '@firn/observability';
import { BUS } from '@firn/platform';
import { LOGGER, METRICS } from '@firn/server-runtime';
import { IngesterService } from './ingester.service';
import { DEFAULT_INGESTER_OPTIONS, INGESTER_OPTIONS, type IngesterOptions } from './ingester.options';

/**
 * Consumes the ingest log (NATS JetStream) and writes Parquet segments to object storage,
 * publishing each in the manifest before acking; then queues the addresses of unsymbolized frames
 * for the symbolizer. Needs: NATS, object storage, ManifestModule.
 */
@Module({})
export class IngesterModule {
  static forRoot(opts: Partial<IngesterOptions> & Pick<IngesterOptions, 'writerId'>, symbolize: Partial<SymbolizeQueueOptions> = {}): DynamicModule {
    return {
      module: IngesterModule,
      providers: [
        { provide: INGESTER_OPTIONS, useValue: { ...DEFAULT_INGESTER_OPTIONS, ...opts } },
        {
          provide: SymbolizeQueue,
          inject: [BUS, LOGGER, METRICS],
          useFactory: (bus: Bus, log: Logger, registry: Registry) =>
            new SymbolizeQueue(bus, log, registry, { ...DEFAULT_SYMBOLIZE_QUEUE_OPTIONS, ...symbolize }),
        },
        IngesterService,
      ],
    };
  }
}

import { Module, type DynamicModule } from '@nestjs/common';
import { hostname } from 'node:os';
import { CompactorService } from './compactor.service';
import { COMPACTOR_OPTIONS, DEFAULT_COMPACTOR_OPTIONS, type CompactorOptions } from './compactor.options';

/**
 * Merges segments into blocks, enforces per-tenant retention, collects unreferenced objects
 * (libs/compaction). Needs: NATS (leases), object storage, ManifestModule.
 */
@Module({})
export class CompactorModule {
  static forRoot(opts: Partial<CompactorOptions> = {}): DynamicModule {
    const options: CompactorOptions = { ...DEFAULT_COMPACTOR_OPTIONS, compactorId: `${hostname()}-${process.pid}`, ...opts };
    return {
      module: CompactorModule,
      providers: [{ provide: COMPACTOR_OPTIONS, useValue: options }, CompactorService],
    };
  }
}

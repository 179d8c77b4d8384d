import { Module, type DynamicModule, type Provider } from '@nestjs/common';
import type { SymbolReader } from '@firn/debuginfo';
import { SymbolizerService } from './symbolizer.service';
import { SYMBOL_READER, SYMBOLIZER_OPTIONS, type SymbolizerOptions } from './symbolizer.options';
import { symbolsReader } from './symbols-reader';

/**
 * Resolves (build id, address) to function/file/line from debug info: consumes the symbolize
 * work queue the ingesters fill, finds debug info (the tenant's uploads, then debuginfod), and
 * writes results to the symbol cache the queriers read. Needs: NATS, object storage, symbol cache.
 */
@Module({})
export class SymbolizerModule {
  static forRoot(opts: SymbolizerOptions, extra: { reader?: SymbolReader } = {}): DynamicModule {
    const providers: Provider[] = [
      { provide: SYMBOLIZER_OPTIONS, useValue: opts },
      { provide: SYMBOL_READER, useValue: extra.reader ?? symbolsReader() },
      SymbolizerService,
    ];
    return { module: SymbolizerModule, providers, exports: [SymbolizerService] };
  }
}

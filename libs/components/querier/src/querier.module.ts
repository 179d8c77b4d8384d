import { Module, type DynamicModule } from '@nestjs/common';
import type { ManifestLog } from '@firn/manifest';
import { MANIFEST_LOG, OBJECT_STORE } from '@firn/platform';
import { QueryEngine } from '@firn/query';
import type { ObjectStore } from '@firn/storage';
import { ParcaQueryRpc } from './parca-query.rpc';
import { PyroscopeQuerierRpc } from './pyroscope-querier.rpc';
import { QueryFrontend } from './query-frontend';
import { DEFAULT_QUERIER_OPTIONS, QUERIER_OPTIONS, QUERY_ENGINE, type QuerierOptions } from './querier.options';

/**
 * Answers queries from the segments the manifest lists: Parca's QueryService (flame graphs,
 * pprof, top, table, series, labels) and Pyroscope's QuerierService subset. Needs: object storage, ManifestModule, token store.
 * The querier that receives a query splits its segments across itself and its peers
 * (`--querier-peers`) and merges their partial aggregates (QueryFrontend).
 */
@Module({})
export class QuerierModule {
  static forRoot(opts: Partial<QuerierOptions> = {}): DynamicModule {
    const options = { ...DEFAULT_QUERIER_OPTIONS, ...opts };
    return {
      module: QuerierModule,
      providers: [
        { provide: QUERIER_OPTIONS, useValue: options },
        {
          provide: QUERY_ENGINE,
          inject: [OBJECT_STORE, MANIFEST_LOG],
          useFactory: (store: ObjectStore, manifest: ManifestLog) =>
            new QueryEngine({ store, view: manifest.state, concurrency: options.scanConcurrency, maxSegments: options.maxSegments }),
        },
        QueryFrontend,
        ParcaQueryRpc,
        PyroscopeQuerierRpc,
      ],
    };
  }
}

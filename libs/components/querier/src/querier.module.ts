import { Module, type DynamicModule } from '@nestjs/common';
import type { KeyValueCache } from '@firn/cache';
import { CachedSymbolResolver } from '@firn/debuginfo';
import type { ManifestLog } from '@firn/manifest';
import type { Logger, Registry } from '@firn/observability';
import { CACHE, MANIFEST_LOG, OBJECT_STORE, TENANT_LIMITS } from '@firn/platform';
import type { TenantLimitsSource } from '@firn/limits';
import { LOGGER, METRICS } from '@firn/server-runtime';
import { QueryEngine } from '@firn/query';
import type { ObjectStore } from '@firn/storage';
import { DeployChecks } from './deploy-checks';
import { CatalogSnapshotMetrics, registerQueryCacheMetrics } from './querier.metrics';
import { InsightsRpc } from './insights.rpc';
import { InsightsService } from './insights.service';
import { ParcaQueryRpc } from './parca-query.rpc';
import { PgoExportService } from './pgo-export.service';
import { PyroscopeQuerierRpc } from './pyroscope-querier.rpc';
import { QueryFrontend } from './query-frontend';
import { QueryLimits } from './query-limits';
import { UsageMeterModule } from './query-usage';
import { DEFAULT_QUERIER_OPTIONS, QUERIER_OPTIONS, QUERY_ENGINE, type QuerierOptions } from './querier.options';

/**
 * Answers queries from the segments the manifest lists: Parca's QueryService (flame graphs,
 * pprof, top, table, series, labels), Pyroscope's QuerierService subset and Firn's
 * InsightsService (PGO export, regression reports, cost), meters per-tenant query usage, and runs
 * the scheduled deploy checks. Needs: object storage, ManifestModule, token store, NATS.
 * The querier that receives a query splits its segments across itself and its peers
 * (`--querier-peers`) and merges their partial aggregates (QueryFrontend).
 */
const SYMBOL_RESOLVER = Symbol('firn.querier-symbol-resolver');
const RETENTION = Symbol('firn.querier-retention');

@Module({})
export class QuerierModule {
  /**
   * `symbols.lookupTimeoutMs`: a slower symbol cache lookup is abandoned (frames stay unsymbolized);
   * `symbols.namedRecheckMs`: how long a name read from the symbol cache is used before asking again.
   */
  static forRoot(opts: Partial<QuerierOptions> = {}, symbols: { lookupTimeoutMs?: number; namedRecheckMs?: number } = {}): DynamicModule {
    const options = { ...DEFAULT_QUERIER_OPTIONS, ...opts };
    return {
      module: QuerierModule,
      imports: [UsageMeterModule.forRoot({ flushMs: options.insights?.usageFlushMs ?? 10_000 })],
      providers: [
        { provide: QUERIER_OPTIONS, useValue: options },
        {
          provide: QUERY_ENGINE,
          inject: [OBJECT_STORE, MANIFEST_LOG, LOGGER, METRICS],
          useFactory: (store: ObjectStore, manifest: ManifestLog, log: Logger, registry: Registry) => {
            const snapshotMetrics = new CatalogSnapshotMetrics(registry);
            const engine = new QueryEngine({
              store,
              view: manifest.state,
              concurrency: options.scanConcurrency,
              maxSegments: options.maxSegments,
              scanWorkers: options.scanWorkers,
              seriesCacheBytes: options.seriesCacheBytes,
              footerCacheBytes: options.footerCacheBytes,
              catalogSnapshots: {
                ...options.catalogSnapshots,
                onEvent: (e) => {
                  snapshotMetrics.observe(e);
                  // A bad snapshot only costs the reads it would have saved: a warning, never a query error.
                  if (e.outcome === 'corrupt' || e.outcome === 'failed' || e.outcome === 'too_large') {
                    log.warn({ tenant: e.tenant, op: e.op, outcome: e.outcome, bytes: e.bytes, err: e.error }, 'stack catalog snapshot ignored');
                  }
                },
              },
            });
            registerQueryCacheMetrics(registry, engine);
            return engine;
          },
        },
        QueryFrontend,
        QueryLimits,
        {
          // Symbol names come from the symbolizer's cache, when the process has one.
          provide: SYMBOL_RESOLVER,
          inject: [QueryFrontend, CACHE, LOGGER, METRICS],
          useFactory: (frontend: QueryFrontend, cache: KeyValueCache | null, log: Logger, registry: Registry) => {
            if (!cache) return null;
            const resolver = new CachedSymbolResolver({ cache, log, registry, timeoutMs: symbols.lookupTimeoutMs, namedRecheckMs: symbols.namedRecheckMs });
            frontend.useSymbols(resolver);
            return resolver;
          },
        },
        {
          // Queries never return rows past the tenant's retention (a per-tenant override, the same
          // the compactor deletes by), even from a partly expired block.
          provide: RETENTION,
          inject: [QueryFrontend, TENANT_LIMITS],
          useFactory: (frontend: QueryFrontend, overrides: TenantLimitsSource | null) => {
            if (overrides) frontend.useRetention((tenant) => overrides.for(tenant).retentionMs);
            return overrides;
          },
        },
        ParcaQueryRpc,
        PyroscopeQuerierRpc,
        InsightsService,
        PgoExportService,
        InsightsRpc,
        DeployChecks,
      ],
    };
  }
}

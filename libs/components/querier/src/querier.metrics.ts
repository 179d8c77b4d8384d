import { Counter, Gauge, Histogram, metricName, type Registry } from '@firn/observability';
import type { CatalogSnapshotEvent, QueryEngine } from '@firn/query';
import { registerParquetMemoryGauge } from '@firn/segments';

/** The query frontend: fan-out to peer queriers and the shares scanned (`firn_querier_*`). */
export class QueryFrontendMetrics {
  readonly peerFallbacks: Counter;
  readonly fanOuts: Counter<'peers'>;
  readonly shareSeconds: Histogram<'where'>;
  readonly servedSegments: Counter<'kind'>;

  constructor(registry: Registry) {
    this.peerFallbacks = new Counter({
      name: metricName('querier', 'peer_fallbacks_total'),
      help: 'Shares of a query scanned here because their peer was unavailable (e.g. restarting) or the call died on the wire.',
      registers: [registry],
    });
    this.fanOuts = new Counter({
      name: metricName('querier', 'fanout_queries_total'),
      help: 'Queries split across peer queriers, by number of peers.',
      labelNames: ['peers'],
      registers: [registry],
    });
    this.shareSeconds = new Histogram({
      name: metricName('querier', 'share_seconds'),
      help: 'Time to scan one share of a query, here or on a peer.',
      labelNames: ['where'],
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [registry],
    });
    registerParquetMemoryGauge(registry, 'querier');
    this.servedSegments = new Counter({
      name: metricName('querier', 'peer_share_segments_total'),
      help: 'Segments this querier scanned for a peer querier, by kind of query.',
      labelNames: ['kind'],
      registers: [registry],
    });
  }
}

/** Deploy checks (`firn_querier_deploy_*`): reports sent, and rounds as a liveness signal. */
export class DeployCheckMetrics {
  readonly reports: Counter<'outcome'>;
  readonly rounds: Counter;

  constructor(registry: Registry) {
    this.reports = new Counter({
      name: metricName('querier', 'deploy_reports_total'),
      help: 'Deploy regression reports sent to webhooks, by outcome.',
      labelNames: ['outcome'],
      registers: [registry],
    });
    this.rounds = new Counter({
      name: metricName('querier', 'deploy_check_rounds_total'),
      help: 'Rounds over every deploy check completed (a stuck checker stops counting).',
      registers: [registry],
    });
  }
}

/**
 * The engine's caches, read at scrape time (`firn_querier_series_cache_*` for series tables,
 * `firn_querier_footer_cache_*` for segment sizes and footers); nothing for a cache that is off.
 */
export function registerQueryCacheMetrics(registry: Registry, engine: QueryEngine): void {
  const counter = (name: string, help: string, read: () => number) =>
    new Counter({
      name: metricName('querier', name),
      help,
      registers: [registry],
      collect() {
        this.reset();
        this.inc(read());
      },
    });
  const gauge = (name: string, help: string, read: () => number) =>
    new Gauge({
      name: metricName('querier', name),
      help,
      registers: [registry],
      collect() {
        this.set(read());
      },
    });
  if (engine.seriesCacheStats()) {
    const series = (pick: (s: NonNullable<ReturnType<QueryEngine['seriesCacheStats']>>) => number) => () =>
      pick(engine.seriesCacheStats() ?? { hits: 0, misses: 0, bytes: 0, segments: 0, fromRollup: 0, fromRows: 0, rollupErrors: 0 });
    counter(
      'series_cache_hits_total',
      'Segments a series query answered from a cached series table.',
      series((s) => s.hits),
    );
    counter(
      'series_cache_misses_total',
      'Segments a series query had to scan (their table was not cached).',
      series((s) => s.misses),
    );
    new Counter({
      name: metricName('querier', 'series_tables_read_total'),
      help: "Series tables read on a miss, by source: the segment's series rollup, or its rows (segments written before rollups).",
      labelNames: ['source'],
      registers: [registry],
      collect() {
        const s = engine.seriesCacheStats();
        this.reset();
        this.inc({ source: 'rollup' }, s?.fromRollup ?? 0);
        this.inc({ source: 'rows' }, s?.fromRows ?? 0);
      },
    });
    counter(
      'series_rollup_errors_total',
      "Segment series rollups that exist but could not be read (the segment's rows answered instead).",
      series((s) => s.rollupErrors),
    );
    gauge(
      'series_cache_bytes',
      'Estimated heap held by cached series tables.',
      series((s) => s.bytes),
    );
    gauge(
      'series_cache_segments',
      'Segments whose series table is cached.',
      series((s) => s.segments),
    );
  }
  if (engine.footerCacheStats()) {
    const footer = (pick: (s: NonNullable<ReturnType<QueryEngine['footerCacheStats']>>) => number) => () =>
      pick(engine.footerCacheStats() ?? { hits: 0, misses: 0, bytes: 0 });
    counter(
      'footer_cache_hits_total',
      'Segment object sizes and footer reads answered from memory.',
      footer((s) => s.hits),
    );
    counter(
      'footer_cache_misses_total',
      'Segment object sizes and footers read from object storage.',
      footer((s) => s.misses),
    );
    gauge(
      'footer_cache_bytes',
      'Bytes held by cached segment object sizes and footers.',
      footer((s) => s.bytes),
    );
  }
}

/** Stack catalog snapshots in object storage (`firn_querier_stack_catalog_snapshot_*`). */
export class CatalogSnapshotMetrics {
  readonly events: Counter<'op' | 'outcome'>;
  readonly seconds: Histogram<'op'>;
  readonly bytes: Gauge<'op'>;

  constructor(registry: Registry) {
    this.events = new Counter({
      name: metricName('querier', 'stack_catalog_snapshots_total'),
      help: 'Stack catalog snapshot loads and writes, by outcome (ok, missing, corrupt, failed, too_large); a corrupt or failed one is ignored.',
      labelNames: ['op', 'outcome'],
      registers: [registry],
    });
    this.seconds = new Histogram({
      name: metricName('querier', 'stack_catalog_snapshot_seconds'),
      help: 'Time to load (read, decode, build the catalog) or write (encode, put) one stack catalog snapshot.',
      labelNames: ['op'],
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    });
    this.bytes = new Gauge({
      name: metricName('querier', 'stack_catalog_snapshot_bytes'),
      help: 'Size of the last stack catalog snapshot loaded or written (any tenant).',
      labelNames: ['op'],
      registers: [registry],
    });
  }

  observe(e: CatalogSnapshotEvent): void {
    this.events.inc({ op: e.op, outcome: e.outcome });
    this.seconds.observe({ op: e.op }, e.seconds);
    if (e.outcome === 'ok' && e.bytes !== undefined) this.bytes.set({ op: e.op }, e.bytes);
  }
}

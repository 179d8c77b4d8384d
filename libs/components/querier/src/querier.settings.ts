import { z } from 'zod';
import { bool, byteSize, byteSizeOrOff, ConfigError, duration, durationMs, positiveInt, setting } from '@firn/config';
import { limitsSettings, retentionSettings } from '@firn/limits';
import { insightsOptionsFrom, insightsSettings } from './insights.settings';
import { parseEndpoints } from '@firn/platform';
import { DEFAULT_QUERIER_OPTIONS, type QuerierOptions } from './querier.options';

/** Querier settings, shared by the querier and the all-in-one. */
export function querierSettings() {
  const d = DEFAULT_QUERIER_OPTIONS;
  return {
    maxQueryRangeMs: setting({
      env: 'FIRN_MAX_QUERY_RANGE_HOURS',
      flag: 'max-query-range-hours',
      schema: duration({ bare: 'h', positive: true }),
      default: String(d.maxRangeMs / 3600_000),
      description: 'Longest accepted query range (a duration like 31d; a bare number is hours); longer → INVALID_ARGUMENT naming the limit.',
    }),
    maxQuerySegments: setting({
      env: 'FIRN_MAX_QUERY_SEGMENTS',
      flag: 'max-query-segments',
      schema: positiveInt,
      default: String(d.maxSegments),
      description: 'Most segments one query may scan; more → RESOURCE_EXHAUSTED naming the limit.',
    }),
    scanConcurrency: setting({
      env: 'FIRN_SCAN_CONCURRENCY',
      flag: 'scan-concurrency',
      schema: positiveInt,
      default: String(d.scanConcurrency),
      description: 'Segment scans in flight per query.',
    }),
    footerCacheBytes: setting({
      env: 'FIRN_QUERIER_FOOTER_CACHE_BYTES',
      flag: 'querier-footer-cache-bytes',
      schema: byteSizeOrOff,
      default: '32MiB',
      description:
        "Memory for segment objects' sizes and last 16 KiB (the Parquet footer), so a query opens an already seen segment without a HEAD and two footer reads (a warm flame graph over 128 fleet segments: 768 → 256 object-store requests); about 1 000 segments; 0 = off.",
    }),
    seriesCacheBytes: setting({
      env: 'FIRN_QUERIER_SERIES_CACHE_BYTES',
      flag: 'querier-series-cache-bytes',
      schema: byteSizeOrOff,
      default: '256MiB',
      description:
        'Memory for per-segment series tables (one point per stored series and timestamp), so repeated series queries (QueryRange, SelectSeries, dashboards) read no segment again, and per segment its values summed per series and stack once flame graphs covered it, and the stack and value of each of its rows once flame graphs cut it (their ranges covered part of it), built by the first query over every series or the second label-filtered one, so later flame graphs decode no row of a segment they cover or cut; the 100-node fleet-1h benchmark needs about 150 MiB per hour (its rows mostly carry their own timestamp; agents stamping a whole profile with one time need far less); a query over more than fits keeps what fits and scans the rest; 0 = off (every query scans rows).',
    }),
    queryTimeoutMs: setting({
      env: 'FIRN_QUERY_TIMEOUT_MS',
      flag: 'query-timeout-ms',
      schema: durationMs,
      default: String(d.queryTimeoutMs),
      description: 'Queries running longer are cancelled with DEADLINE_EXCEEDED.',
    }),
    stackCatalogSnapshots: setting({
      env: 'FIRN_STACK_CATALOG_SNAPSHOTS',
      flag: 'stack-catalog-snapshots',
      schema: bool,
      default: String(d.catalogSnapshots.enabled),
      description:
        "Keep each tenant's stack catalog (stack keys, frames, per-segment stack-id maps) in object storage under the tenant's prefix (cache/stack-catalog/): written in the background after queries that grew it, loaded on a tenant's first query, so a restarted querier need not read every segment's stacks.parquet. Queriers sharing a bucket overwrite each other's snapshot (last writer wins; any snapshot is right).",
    }),
    stackCatalogSnapshotDebounceMs: setting({
      env: 'FIRN_STACK_CATALOG_SNAPSHOT_DEBOUNCE_MS',
      flag: 'stack-catalog-snapshot-debounce-ms',
      schema: durationMs,
      default: String(d.catalogSnapshots.debounceMs),
      description:
        "Quiet time after the last query that grew a tenant's stack catalog before its snapshot is written (pending snapshots are also written on shutdown).",
    }),
    stackCatalogSnapshotMaxBytes: setting({
      env: 'FIRN_STACK_CATALOG_SNAPSHOT_MAX_BYTES',
      flag: 'stack-catalog-snapshot-max-bytes',
      schema: byteSize,
      default: `${d.catalogSnapshots.maxBytes / 1024 / 1024}MiB`,
      description: 'A stack catalog snapshot encoding to more bytes is not written (≈ 330 bytes per stack on the fleet data; e.g. 64MiB).',
    }),
    stackCatalogSnapshotPreloadTenants: setting({
      env: 'FIRN_STACK_CATALOG_SNAPSHOT_PRELOAD_TENANTS',
      flag: 'stack-catalog-snapshot-preload-tenants',
      schema: z.coerce.number().int().min(0),
      default: String(d.catalogSnapshots.preloadTenants),
      description:
        'At start, before reporting ready, load the stack catalog snapshots of this many tenants (those written to most recently first); the others load on their first query. 0 = none.',
    }),
    seriesPreload: setting({
      env: 'FIRN_QUERIER_SERIES_PRELOAD',
      flag: 'querier-series-preload',
      schema: duration({}),
      default: '1h',
      description:
        "At start, before reporting ready, read this much of the most recent data (up to each tenant's newest segment) of the FIRN_QUERIER_SERIES_PRELOAD_TENANTS most recently written tenants into the series cache, from the segments' series rollups, so the first QueryRange or SelectSeries after a restart reads no segment; then, with the budget left, the same segments' stack sums (from their rows), so the first flame graph over them decodes no row either. Stops when the series cache is full or after 10 s. 0 = off.",
    }),
    seriesPreloadTenants: setting({
      env: 'FIRN_QUERIER_SERIES_PRELOAD_TENANTS',
      flag: 'querier-series-preload-tenants',
      schema: z.coerce.number().int().min(0),
      default: String(d.seriesPreload.tenants),
      description: 'How many tenants (those written to most recently first) FIRN_QUERIER_SERIES_PRELOAD reads for. 0 = none.',
    }),
    querierWarmUp: setting({
      env: 'FIRN_QUERIER_WARM_UP',
      flag: 'querier-warm-up',
      schema: bool,
      default: String(d.warmUp),
      description:
        "At start, before reporting ready, run two flame graph queries over the most recently written tenant's newest segment, one over every series and one with a label matcher, each rendered as Parca's and as Pyroscope's (Grafana's) flame graph, and one merge over the segment's later half (a range cutting it, as a dashboard's last N minutes cuts a block: its stack rows are read, and kept if the series cache has room), and, when the series preload's window up to that segment holds other segments too, one flame graph over every series of it (so what a query pays once per frame, numbering its stacks, the symbol cache's answer and the reports' strings, is paid for the frames of the data the preload read), then, once the APIs answer, through the querier's own APIs a flame graph of the newest segment as each data source asks for it (Parca's Arrow record over gRPC-web, Pyroscope SelectMergeStacktraces over Connect, compressed), and a dashboard's range queries (Parca QueryRange over gRPC and gRPC-web, Pyroscope SelectSeries, over the newest segment and over the series preload's window); none is metered as the tenant's usage. Answers are discarded: the first user queries do not pay for compiling the query path (stack sums, stack rows, matchers, the scan, Parquet decoding, symbolization, both flame graph builders, the RPC handlers and their response encoding).",
    }),
    querierPeers: setting({
      env: 'FIRN_QUERIER_PEERS',
      flag: 'querier-peers',
      schema: z.string(),
      default: '',
      description:
        'Peer queriers that take a share of every query (fan-out), comma-separated: base URLs (http://querier-1:4102) or dns+http://<name>:<port> (every address of a DNS name, e.g. a headless Service; re-resolved); empty = answer alone.',
    }),
    querierPeersRefreshMs: setting({
      env: 'FIRN_QUERIER_PEERS_REFRESH_MS',
      flag: 'querier-peers-refresh-ms',
      schema: durationMs,
      default: String(d.peersRefreshMs),
      description: 'How often dns+ peers are resolved again.',
    }),
    querierSelfAddress: setting({
      env: 'FIRN_QUERIER_SELF_ADDRESS',
      flag: 'querier-self-address',
      schema: z.string(),
      default: '',
      description: "This querier's own address (e.g. the pod IP), left out of dns+ peers so it does not call itself.",
    }),
    internalToken: setting({
      env: 'FIRN_INTERNAL_TOKEN',
      flag: 'internal-token',
      schema: z.string(),
      default: '',
      description:
        "Shared secret for calls between queriers and from the gateway (required with --querier-peers, on every peer). Unset: internal calls are refused, except the querier's own warm-up calls, made with a random secret of its process.",
      secret: true,
    }),
    // Retention (queries are clipped to it) is one of the per-tenant overrides.
    ...limitsSettings(),
    ...retentionSettings(),
    ...insightsSettings(),
  };
}

export function querierOptionsFrom(
  c: {
    maxQueryRangeMs: number;
    maxQuerySegments: number;
    scanConcurrency: number;
    seriesCacheBytes: number;
    footerCacheBytes: number;
    queryTimeoutMs: number;
    querierPeers: string;
    querierPeersRefreshMs: number;
    querierSelfAddress: string;
    internalToken: string;
    stackCatalogSnapshots: boolean;
    stackCatalogSnapshotDebounceMs: number;
    stackCatalogSnapshotMaxBytes: number;
    stackCatalogSnapshotPreloadTenants: number;
    seriesPreload: number;
    seriesPreloadTenants: number;
    querierWarmUp: boolean;
  } & Parameters<typeof insightsOptionsFrom>[0],
): QuerierOptions {
  const peers = parseEndpoints(c.querierPeers, 'querierPeers', 'FIRN_QUERIER_PEERS (--querier-peers)');
  if (peers.length > 0 && c.internalToken.length < 16) {
    throw new ConfigError('internalToken', 'FIRN_INTERNAL_TOKEN (--internal-token) of at least 16 characters is required when FIRN_QUERIER_PEERS is set');
  }
  return {
    maxRangeMs: c.maxQueryRangeMs,
    maxSegments: c.maxQuerySegments,
    scanConcurrency: c.scanConcurrency,
    seriesCacheBytes: c.seriesCacheBytes,
    footerCacheBytes: c.footerCacheBytes,
    queryTimeoutMs: c.queryTimeoutMs,
    peers,
    peersRefreshMs: c.querierPeersRefreshMs,
    selfAddress: c.querierSelfAddress,
    internalToken: c.internalToken,
    catalogSnapshots: {
      enabled: c.stackCatalogSnapshots,
      debounceMs: c.stackCatalogSnapshotDebounceMs,
      maxBytes: c.stackCatalogSnapshotMaxBytes,
      preloadTenants: c.stackCatalogSnapshotPreloadTenants,
    },
    seriesPreload: { windowMs: c.seriesPreload, tenants: c.seriesPreloadTenants },
    warmUp: c.querierWarmUp,
    insights: insightsOptionsFrom(c),
  };
}

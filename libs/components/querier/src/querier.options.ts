import type { EndpointSpec } from '@firn/platform';

export interface QuerierOptions {
  /** Longest accepted query range. */
  maxRangeMs: number;
  /** Most segments one query may scan (RESOURCE_EXHAUSTED above). */
  maxSegments: number;
  /** Segment scans in flight per query. */
  scanConcurrency: number;
  /** Worker threads for segment sample scans; 1 = scan in the main thread (the default). */
  scanWorkers?: number;
  /** Bytes of cached per-segment series tables; 0 = off. Default 256 MiB. */
  seriesCacheBytes?: number;
  /** Bytes of cached segment object sizes and footers; 0 = off. Default 32 MiB. */
  footerCacheBytes?: number;
  /** A query (all its shares) is cancelled after this long (DEADLINE_EXCEEDED). */
  queryTimeoutMs: number;
  /** Peer queriers that take a share of every query (base URLs or DNS names); empty = answer alone. */
  peers: EndpointSpec[];
  /** How often DNS-named peers are resolved again. */
  peersRefreshMs: number;
  /** This querier's own address (the pod IP), left out of DNS-discovered peers. */
  selfAddress: string;
  /** Shared secret peers present on internal calls. */
  internalToken: string;
  /** Per-tenant stack catalog snapshots in object storage (how a restarted querier skips rebuilding its catalog). */
  catalogSnapshots: { enabled: boolean; debounceMs: number; maxBytes: number; preloadTenants: number };
  /** Series tables read into the cache before ready: the last `windowMs` of data of the `tenants` most recently written tenants (0 = off). */
  seriesPreload: { windowMs: number; tenants: number };
  /** Before ready, flame graphs over the newest segment, unfiltered and label-filtered (compile the query path). */
  warmUp: boolean;
  /** InsightsService (cost, regression, PGO export) and usage metering. */
  insights?: InsightsOptions;
}

export interface InsightsOptions {
  /** Currency of cost reports (prices per tenant come from the per-tenant overrides file). */
  currency: string;
  /** The llvm-symbolizer the PGO export runs. */
  llvmSymbolizer: string;
  /** Local copies of debug files for PGO export; '' = a directory under the OS temp dir. */
  pgoCacheDir: string;
  pgoCacheBytes: number;
  /** How often query usage is flushed to NATS KV (also on shutdown). */
  usageFlushMs: number;
  /** Scheduled deploy regression checks (YAML/JSON); '' = none. */
  deployChecksFile: string;
  deployCheckIntervalMs: number;
}

export const QUERIER_OPTIONS = Symbol('firn.querier-options');
export const QUERY_ENGINE = Symbol('firn.query-engine');

export const DEFAULT_QUERIER_OPTIONS: QuerierOptions = {
  maxRangeMs: 31 * 24 * 3600_000,
  maxSegments: 20_000,
  scanConcurrency: 4,
  queryTimeoutMs: 60_000,
  peers: [],
  peersRefreshMs: 5000,
  selfAddress: '',
  internalToken: '',
  catalogSnapshots: { enabled: true, debounceMs: 30_000, maxBytes: 64 * 1024 * 1024, preloadTenants: 8 },
  seriesPreload: { windowMs: 3_600_000, tenants: 8 },
  warmUp: true,
};

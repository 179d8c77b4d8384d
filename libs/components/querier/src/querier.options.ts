export interface QuerierOptions {
  /** Longest accepted query range. */
  maxRangeMs: number;
  /** Most segments one query may scan (RESOURCE_EXHAUSTED above). */
  maxSegments: number;
  /** Segment scans in flight per query. */
  scanConcurrency: number;
}

export const QUERIER_OPTIONS = Symbol('firn.querier-options');
export const QUERY_ENGINE = Symbol('firn.query-engine');

export const DEFAULT_QUERIER_OPTIONS: QuerierOptions = {
  maxRangeMs: 31 * 24 * 3600_000,
  maxSegments: 20_000,
  scanConcurrency: 4,
};

import { positiveInt, setting } from '@firn/config';
import { DEFAULT_QUERIER_OPTIONS, type QuerierOptions } from './querier.options';

/** Querier settings, shared by the querier and the all-in-one. */
export function querierSettings() {
  const d = DEFAULT_QUERIER_OPTIONS;
  return {
    maxQueryRangeHours: setting({ env: 'FIRN_MAX_QUERY_RANGE_HOURS', flag: 'max-query-range-hours', schema: positiveInt, default: String(d.maxRangeMs / 3600_000), description: 'Longest accepted query range (hours); longer → INVALID_ARGUMENT naming the limit.' }),
    maxQuerySegments: setting({ env: 'FIRN_MAX_QUERY_SEGMENTS', flag: 'max-query-segments', schema: positiveInt, default: String(d.maxSegments), description: 'Most segments one query may scan; more → RESOURCE_EXHAUSTED naming the limit.' }),
    scanConcurrency: setting({ env: 'FIRN_SCAN_CONCURRENCY', flag: 'scan-concurrency', schema: positiveInt, default: String(d.scanConcurrency), description: 'Segment scans in flight per query.' }),
  };
}

export function querierOptionsFrom(c: { maxQueryRangeHours: number; maxQuerySegments: number; scanConcurrency: number }): QuerierOptions {
  return { maxRangeMs: c.maxQueryRangeHours * 3600_000, maxSegments: c.maxQuerySegments, scanConcurrency: c.scanConcurrency };
}

import { Counter, Gauge, metricName, type Registry } from '@firn/observability';
import type { TenantId } from '@firn/tenancy';

/** One tenant's usage as /metrics shows it. */
export interface UsageSample {
  tenant: TenantId;
  ingestedSamples: number;
  ingestedRows: number;
  ingestedBytes: number;
  ingestedSegmentBytes: number;
  storedBytes: number;
  storedSamples: number;
  queries: number;
  queryCpuSeconds: number;
}

/**
 * Per-tenant usage on /metrics, computed at scrape time from durable state (the manifest and the
 * usage KV bucket), so the values survive restarts and are the same on every querier: aggregate
 * with `max by (tenant)`, never `sum`. Counters never go down; `stored_*` are gauges.
 */
export class UsageMetrics {
  constructor(registry: Registry, read: () => UsageSample[]) {
    const counter = (name: string, help: string, pick: (u: UsageSample) => number) =>
      new Counter({
        name: metricName('querier', name),
        help,
        labelNames: ['tenant'],
        registers: [registry],
        collect() {
          this.reset();
          for (const u of read()) this.inc({ tenant: u.tenant }, Math.max(0, pick(u)));
        },
      });
    const gauge = (name: string, help: string, pick: (u: UsageSample) => number) =>
      new Gauge({
        name: metricName('querier', name),
        help,
        labelNames: ['tenant'],
        registers: [registry],
        collect() {
          this.reset();
          for (const u of read()) this.set({ tenant: u.tenant }, pick(u));
        },
      });
    counter('usage_ingested_samples_total', 'Samples ingested per tenant (from the manifest; cluster-wide, durable).', (u) => u.ingestedSamples);
    counter('usage_ingested_rows_total', 'Rows ingested per tenant (from the manifest; cluster-wide, durable).', (u) => u.ingestedRows);
    counter('usage_ingested_bytes_total', 'Normalized sample bytes ingested per tenant (ingest-log payloads; from the manifest).', (u) => u.ingestedBytes);
    counter('usage_ingested_segment_bytes_total', 'Parquet bytes ingesters wrote per tenant (from the manifest).', (u) => u.ingestedSegmentBytes);
    gauge('usage_stored_bytes', 'Bytes of the segments stored per tenant now (from the manifest).', (u) => u.storedBytes);
    gauge('usage_stored_samples', 'Samples in the segments stored per tenant now (from the manifest).', (u) => u.storedSamples);
    counter(
      'usage_queries_total',
      'Queries answered per tenant by every querier (from the usage KV bucket, flushed every FIRN_USAGE_FLUSH_MS).',
      (u) => u.queries,
    );
    counter('usage_query_cpu_seconds_total', 'Querier CPU-seconds per tenant on every querier (from the usage KV bucket).', (u) => u.queryCpuSeconds);
  }
}

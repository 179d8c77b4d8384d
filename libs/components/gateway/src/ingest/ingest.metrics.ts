import { Counter, Gauge, Histogram, metricName, type Registry } from '@firn/observability';

/** Gateway ingest metrics; label values are bounded (source, outcome). */
export class IngestMetrics {
  readonly requests: Counter<'source' | 'outcome'>;
  readonly samples: Counter<'source'>;
  readonly bytes: Counter<'source'>;
  readonly claimChecks: Counter;
  readonly appendSeconds: Histogram;
  readonly inflightBytes: Gauge;

  constructor(registry: Registry) {
    this.requests = new Counter({
      name: metricName('gateway', 'ingest_requests_total'),
      help: 'Ingest requests by source format and outcome (ok, duplicate = a recognised retry, empty, or the error code).',
      labelNames: ['source', 'outcome'],
      registers: [registry],
    });
    this.samples = new Counter({
      name: metricName('gateway', 'ingest_rows_total'),
      help: 'Sample rows accepted (after dropping zeros and summing duplicates).',
      labelNames: ['source'],
      registers: [registry],
    });
    this.bytes = new Counter({
      name: metricName('gateway', 'ingest_payload_bytes_total'),
      help: 'Payload bytes (firn.samples.v1 Arrow) appended to the ingest log.',
      labelNames: ['source'],
      registers: [registry],
    });
    this.claimChecks = new Counter({
      name: metricName('gateway', 'ingest_claim_checks_total'),
      help: 'Writes too large for one NATS message, stored in object storage first.',
      registers: [registry],
    });
    this.appendSeconds = new Histogram({
      name: metricName('gateway', 'ingest_append_seconds'),
      help: 'Time from a parsed request to the JetStream ack (what the client waits for beyond parsing).',
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    });
    this.inflightBytes = new Gauge({
      name: metricName('gateway', 'ingest_inflight_bytes'),
      help: 'Bytes (as received plus inflated) held by ingest requests in flight; bounded by FIRN_INGEST_MAX_INFLIGHT_BYTES.',
      registers: [registry],
    });
  }
}

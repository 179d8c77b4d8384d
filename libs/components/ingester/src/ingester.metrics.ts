import { Counter, Gauge, Histogram, metricName, type Registry } from '@firn/observability';
import { registerParquetMemoryGauge } from '@firn/segments';

export class IngesterMetrics {
  readonly messages: Counter<'outcome'>;
  readonly segments: Counter<'outcome'>;
  readonly rows: Counter;
  readonly segmentBytes: Counter;
  readonly flushSeconds: Histogram;
  readonly bufferedRows: Gauge;
  readonly heldBytes: Gauge;
  readonly budgetWaits: Counter;

  constructor(registry: Registry) {
    const c = 'ingester';
    registerParquetMemoryGauge(registry, c);
    this.messages = new Counter({
      name: metricName(c, 'messages_total'),
      help: 'Ingest-log messages by outcome: buffered, duplicate (already in a valid segment), redelivered_while_held, poison (undecodable; dropped), retried.',
      labelNames: ['outcome'],
      registers: [registry],
    });
    this.segments = new Counter({
      name: metricName(c, 'segments_total'),
      help: 'Segment flushes by outcome: ok, conflict (lost a redelivery race; retracted), failed.',
      labelNames: ['outcome'],
      registers: [registry],
    });
    this.rows = new Counter({ name: metricName(c, 'segment_rows_total'), help: 'Rows written into valid segments.', registers: [registry] });
    this.segmentBytes = new Counter({
      name: metricName(c, 'segment_bytes_total'),
      help: 'Parquet bytes written (samples + stacks objects).',
      registers: [registry],
    });
    this.flushSeconds = new Histogram({
      name: metricName(c, 'flush_seconds'),
      help: 'Time to build, write and publish one segment.',
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    });
    this.bufferedRows = new Gauge({ name: metricName(c, 'buffered_rows'), help: 'Rows waiting in memory for the next flush.', registers: [registry] });
    this.heldBytes = new Gauge({
      name: metricName(c, 'held_bytes'),
      help: 'Estimated memory of the writes held, buffered or being flushed (bounded by FIRN_INGESTER_MAX_BUFFERED_BYTES).',
      registers: [registry],
    });
    this.budgetWaits = new Counter({
      name: metricName(c, 'budget_waits_total'),
      help: 'Times intake paused because the writes held reached the memory budget (a backlog is being worked off).',
      registers: [registry],
    });
  }
}

import { Counter, metricName, type Registry } from '@firn/observability';

/** The ingester's side of the symbolize queue (`firn_ingester_symbolize_*`). */
export class SymbolizeQueueMetrics {
  readonly queued: Counter;
  readonly failures: Counter;

  constructor(registry: Registry) {
    this.queued = new Counter({
      name: metricName('ingester', 'symbolize_queued_addresses_total'),
      help: 'Unsymbolized addresses sent to the symbolizer queue.',
      registers: [registry],
    });
    this.failures = new Counter({
      name: metricName('ingester', 'symbolize_queue_failures_total'),
      help: 'Symbolizer queue messages that could not be published (ingest went on).',
      registers: [registry],
    });
  }
}

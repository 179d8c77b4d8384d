import { Counter, metricName, type Registry } from '@firn/observability';

/** Web UI requests by outcome (file, index = SPA page, not_modified, missing, not_built). */
export class WebUiMetrics {
  readonly requests: Counter<'outcome'>;

  constructor(registry: Registry) {
    this.requests = new Counter({
      name: metricName('gateway', 'ui_requests_total'),
      help: 'Web UI requests by outcome.',
      labelNames: ['outcome'],
      registers: [registry],
    });
  }
}

import { Counter, metricName, type Registry } from '@firn/observability';

/** The gateway's forwarding of query calls to queriers (`firn_gateway_query_forward*`). */
export class QueryProxyMetrics {
  readonly forwarded: Counter<'code'>;
  readonly retried: Counter;

  constructor(registry: Registry) {
    this.forwarded = new Counter({
      name: metricName('gateway', 'query_forwards_total'),
      help: 'Query calls forwarded to queriers, by final gRPC code.',
      labelNames: ['code'],
      registers: [registry],
    });
    this.retried = new Counter({
      name: metricName('gateway', 'query_forward_retries_total'),
      help: 'Forwarded query calls tried again on another querier after one was unavailable or the call died on the wire.',
      registers: [registry],
    });
  }
}

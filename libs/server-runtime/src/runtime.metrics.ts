import { Counter, Histogram, metricName, type Registry } from '@firn/observability';

/** Every RPC a process serves, by procedure (`firn_<component>_rpc_*`; see rpcInterceptor). */
export class RpcMetrics {
  readonly calls: Counter<'procedure' | 'code'>;
  readonly duration: Histogram<'procedure'>;

  constructor(registry: Registry, component: string) {
    this.calls = new Counter({
      name: metricName(component, 'rpc_requests_total'),
      help: 'RPCs handled, by procedure and gRPC code.',
      labelNames: ['procedure', 'code'],
      registers: [registry],
    });
    this.duration = new Histogram({
      name: metricName(component, 'rpc_duration_seconds'),
      help: 'RPC handling time by procedure.',
      labelNames: ['procedure'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [registry],
    });
  }
}

/** Plain HTTP requests on the one port, by route class (`firn_<component>_http_requests_total`). */
export class HttpMetrics {
  readonly requests: Counter<'route' | 'status'>;

  constructor(registry: Registry, component: string) {
    this.requests = new Counter({
      name: metricName(component, 'http_requests_total'),
      help: 'Plain HTTP requests by route class and status.',
      labelNames: ['route', 'status'],
      registers: [registry],
    });
  }
}

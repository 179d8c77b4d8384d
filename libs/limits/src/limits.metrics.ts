import { Counter, metricName, type Registry } from '@firn/observability';

/**
 * `firn_<component>_limit_rejections_total{tenant,limit}`: requests refused by a per-tenant
 * limit. The tenant label is bounded by the number of tenants (hundreds for a SaaS of Firn's
 * size); `limit` by the fixed set of limit names.
 */
export class LimitMetrics {
  readonly rejections: Counter<'tenant' | 'limit'>;
  readonly truncatedStacks: Counter<'tenant'>;

  constructor(registry: Registry, component: string) {
    this.rejections = new Counter({
      name: metricName(component, 'limit_rejections_total'),
      help: 'Requests refused by a per-tenant limit, by tenant and limit.',
      labelNames: ['tenant', 'limit'],
      registers: [registry],
    });
    this.truncatedStacks = new Counter({
      name: metricName(component, 'truncated_stacks_total'),
      help: 'Samples whose stack was cut to max_stack_depth, by tenant.',
      labelNames: ['tenant'],
      registers: [registry],
    });
  }
}

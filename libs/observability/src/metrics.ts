import { Registry, collectDefaultMetrics } from 'prom-client';

export { Counter, Gauge, Histogram, Registry, Summary } from 'prom-client';

const NAME = /^[a-z][a-z0-9_]*$/;

function componentPrefix(component: string): string {
  const c = component.replace(/-/g, '_');
  if (!NAME.test(c)) throw new Error(`bad component name for metrics: ${component}`);
  return `firn_${c}_`;
}

/** Metric name `firn_<component>_<thing>_<unit>`; components must not invent other prefixes. */
export function metricName(component: string, name: string): string {
  if (!NAME.test(name)) throw new Error(`bad metric name: ${name}`);
  return componentPrefix(component) + name;
}

/**
 * A fresh registry for one process (never prom-client's global one), with process/runtime
 * metrics under `firn_<component>_`.
 */
export function createMetricsRegistry(component: string, opts: { defaultMetrics?: boolean } = {}): Registry {
  const registry = new Registry();
  if (opts.defaultMetrics ?? true) {
    collectDefaultMetrics({ register: registry, prefix: componentPrefix(component) });
  }
  return registry;
}

import { Counter, Histogram, metricName, type Registry } from '@firn/observability';

/** Symbol cache lookups (`firn_<component>_symbol_*`; the querier's by default). */
export class SymbolLookupMetrics {
  readonly lookups: Counter<'outcome'>;
  readonly seconds: Histogram;
  readonly remembered: Counter;

  constructor(registry: Registry, component: string) {
    this.lookups = new Counter({
      name: metricName(component, 'symbol_lookups_total'),
      help: 'Unsymbolized frames looked up in the symbol cache, by outcome (hit, negative, miss, error).',
      labelNames: ['outcome'],
      registers: [registry],
    });
    this.remembered = new Counter({
      name: metricName(component, 'symbol_remembered_total'),
      help: 'Unsymbolized frames named from a name the symbol cache gave shortly before, without asking it again.',
      registers: [registry],
    });
    this.seconds = new Histogram({
      name: metricName(component, 'symbol_lookup_seconds'),
      help: "Time of one query's batched symbol cache lookup.",
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    });
  }
}

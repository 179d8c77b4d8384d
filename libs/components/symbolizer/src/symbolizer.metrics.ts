import { Counter, Gauge, Histogram, metricName, type Registry } from '@firn/observability';

const m = (name: string): string => metricName('symbolizer', name);

/** The symbolizer's metrics; label values are bounded (fixed sets, or configured server URLs). */
export class SymbolizerMetrics {
  readonly jobs: Counter<'kind' | 'outcome'>;
  readonly jobSeconds: Histogram<'kind'>;
  readonly addresses: Counter<'outcome'>;
  readonly frames: Counter<'source' | 'outcome'>;
  readonly lookups: Counter<'source'>;
  readonly debuginfodRequests: Counter<'server' | 'outcome'>;
  readonly debuginfodSeconds: Histogram<'server'>;
  readonly cacheDirBytes: Gauge;

  constructor(registry: Registry) {
    const registers = [registry];
    this.jobs = new Counter({
      name: m('jobs_total'),
      help: 'Queue jobs handled, by kind (addresses, uploaded) and outcome (done, retry, poison, failed).',
      labelNames: ['kind', 'outcome'],
      registers,
    });
    this.jobSeconds = new Histogram({
      name: m('job_seconds'),
      help: 'Time to handle one queue job.',
      labelNames: ['kind'],
      buckets: [0.005, 0.01, 0.05, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers,
    });
    this.addresses = new Counter({
      name: m('addresses_total'),
      help: 'Addresses by outcome: resolved, unresolved (negative entry written), cached (already known).',
      labelNames: ['outcome'],
      registers,
    });
    this.frames = new Counter({
      name: m('frames_total'),
      help: 'Addresses symbolized (naming coverage), by what named them (source: gopclntab, dwarf, symtab; none when no debug info was found or readable) and outcome: named, or why not (no_debuginfo, unknown_format, no_symbol, outside_code, unsupported_go_table). Coverage = outcome="named" / all.',
      labelNames: ['source', 'outcome'],
      registers,
    });
    this.lookups = new Counter({
      name: m('debuginfo_lookups_total'),
      help: 'Debuginfo searches by where it was found: upload, debuginfod, none, unavailable.',
      labelNames: ['source'],
      registers,
    });
    this.debuginfodRequests = new Counter({
      name: m('debuginfod_requests_total'),
      help: 'HTTP requests to debuginfod servers by outcome (found, not_found, error, too_large, breaker_open).',
      labelNames: ['server', 'outcome'],
      registers,
    });
    this.debuginfodSeconds = new Histogram({
      name: m('debuginfod_request_seconds'),
      help: 'Duration of debuginfod requests.',
      labelNames: ['server'],
      buckets: [0.01, 0.05, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers,
    });
    this.cacheDirBytes = new Gauge({ name: m('cache_dir_bytes'), help: 'Bytes of debug files in the local cache directory.', registers });
  }
}

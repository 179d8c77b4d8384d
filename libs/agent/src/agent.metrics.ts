import { Counter, Gauge, Histogram, metricName, type Registry } from '@firn/observability';

const n = (name: string) => metricName('agent', name);

/** The agent's metrics (`firn_agent_*`), registered on the injected registry. */
export class AgentMetrics {
  readonly samples: Counter<'kind'>;
  readonly lostSamples: Counter<'reason'>;
  readonly drainDuration: Histogram;
  readonly stackErrors: Counter<'stack'>;
  readonly sendErrors: Counter;
  readonly bytesSent: Counter;
  readonly batchesSent: Counter;
  readonly bufferBytes: Gauge;
  readonly processes: Gauge;
  readonly frames: Counter<'kind' | 'outcome'>;

  constructor(registry: Registry) {
    const registers = [registry];
    this.samples = new Counter({ name: n('samples_total'), help: 'CPU samples taken (kind=sampled) and sent (kind=sent).', labelNames: ['kind'], registers });
    this.lostSamples = new Counter({
      name: n('lost_samples_total'),
      help: 'Samples lost, by reason: map_full (BPF count map), buffer_full (gateway away too long), rejected (gateway said invalid), relabel_drop (dropped by a rule).',
      labelNames: ['reason'],
      registers,
    });
    this.drainDuration = new Histogram({ name: n('drain_duration_seconds'), help: 'Time to drain the BPF maps, symbolize and encode one window.', buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5], registers });
    this.stackErrors = new Counter({ name: n('stack_errors_total'), help: 'Samples whose user or kernel stack could not be recorded (stack map full or collision).', labelNames: ['stack'], registers });
    this.sendErrors = new Counter({ name: n('send_errors_total'), help: 'Failed WriteArrow attempts (each retry counts).', registers });
    this.bytesSent = new Counter({ name: n('bytes_sent_total'), help: 'Arrow IPC bytes the gateway acknowledged.', registers });
    this.batchesSent = new Counter({ name: n('batches_sent_total'), help: 'Batches the gateway acknowledged.', registers });
    this.bufferBytes = new Gauge({ name: n('buffer_bytes'), help: 'Encoded bytes waiting to be sent.', registers });
    this.processes = new Gauge({ name: n('processes'), help: 'Processes seen in the last window.', registers });
    this.frames = new Counter({
      name: n('frames_total'),
      help:
        'Sampled frames (one per sample they are in; an inline chain counts once) by kind (kernel, jit, go, native_symbols, native_stripped, unmapped) and outcome: named on the node, or why not (left_to_server, no_symbols, not_in_symbols, unsupported_go_table, no_perf_map_entry, no_mapping, kallsyms_restricted). Naming coverage = outcome="named" / all.',
      labelNames: ['kind', 'outcome'],
      registers,
    });
  }
}

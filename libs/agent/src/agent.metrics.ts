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
  readonly unwindFrames: Counter<'method'>;
  readonly unwindFallbacks: Counter<'reason'>;
  readonly unwindStops: Counter<'reason'>;
  readonly userStacks: Counter<'outcome'>;
  readonly unwindTables: Gauge<'state'>;
  readonly unwindTableBytes: Gauge;
  readonly unwindTableBuilds: Counter<'outcome'>;
  readonly unwindTablesEvicted: Counter;
  readonly unwindProcesses: Gauge;
  readonly unwindPythonProcesses: Gauge;
  readonly unwindMappingEntries: Gauge;
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
    this.drainDuration = new Histogram({
      name: n('drain_duration_seconds'),
      help: 'Time to drain the BPF maps, symbolize and encode one window.',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    });
    this.stackErrors = new Counter({
      name: n('stack_errors_total'),
      help: 'Samples whose user or kernel stack could not be recorded (stack map full or collision).',
      labelNames: ['stack'],
      registers,
    });
    this.sendErrors = new Counter({ name: n('send_errors_total'), help: 'Failed WriteArrow attempts (each retry counts).', registers });
    this.bytesSent = new Counter({ name: n('bytes_sent_total'), help: 'Arrow IPC bytes the gateway acknowledged.', registers });
    this.batchesSent = new Counter({ name: n('batches_sent_total'), help: 'Batches the gateway acknowledged.', registers });
    this.bufferBytes = new Gauge({ name: n('buffer_bytes'), help: 'Encoded bytes waiting to be sent.', registers });
    this.processes = new Gauge({ name: n('processes'), help: 'Processes seen in the last window.', registers });
    this.unwindFrames = new Counter({
      name: n('unwind_frames_total'),
      help: 'User frames unwound in the kernel, by method: table (.eh_frame), frame_pointer, or python (CPython 3.11 interpreter frames).',
      labelNames: ['method'],
      registers,
    });
    this.unwindFallbacks = new Counter({
      name: n('unwind_fallbacks_total'),
      help: 'Frames unwound by frame pointers although tables are on, by reason: no_mapping (process or code not known yet), no_table (JIT, vdso, file without .eh_frame or over budget), not_ready (table being built), no_fde, unsupported (rule the kernel cannot evaluate).',
      labelNames: ['reason'],
      registers,
    });
    this.unwindStops = new Counter({
      name: n('unwind_stops_total'),
      help: 'User stacks cut short, by reason: read_error, depth_limit, bad_frame.',
      labelNames: ['reason'],
      registers,
    });
    this.userStacks = new Counter({
      name: n('user_stacks_total'),
      help: 'User stacks unwound, by outcome: complete (reached the outermost frame) or truncated.',
      labelNames: ['outcome'],
      registers,
    });
    this.unwindTables = new Gauge({
      name: n('unwind_tables'),
      help: 'Unwind tables by state: pending (queued; built once a sample needs it), ready, no_table, over_budget, failed.',
      labelNames: ['state'],
      registers,
    });
    this.unwindTableBytes = new Gauge({
      name: n('unwind_table_bytes'),
      help: 'Kernel memory of the loaded unwind tables (bounded by --unwind-table-budget-bytes).',
      registers,
    });
    this.unwindTableBuilds = new Counter({
      name: n('unwind_table_builds_total'),
      help: 'Unwind table builds by outcome: ready, no_eh_frame, not_elf, unsupported_arch, malformed, over_budget, failed.',
      labelNames: ['outcome'],
      registers,
    });
    this.unwindTablesEvicted = new Counter({
      name: n('unwind_tables_evicted_total'),
      help: 'Unwind tables dropped from the kernel (unused, or to make room).',
      registers,
    });
    this.unwindProcesses = new Gauge({ name: n('unwind_processes'), help: 'Processes whose mappings are loaded in the kernel.', registers });
    this.unwindPythonProcesses = new Gauge({
      name: n('unwind_python_processes'),
      help: 'Processes running a CPython 3.11 interpreter whose Python frames the kernel walks.',
      registers,
    });
    this.unwindMappingEntries = new Gauge({ name: n('unwind_mapping_entries'), help: 'Entries of the kernel (pid, address) → table trie.', registers });
    this.frames = new Counter({
      name: n('frames_total'),
      help: 'Sampled frames (one per sample they are in; an inline chain counts once) by kind (kernel, jit, go, native_symbols, native_debuginfo (a stripped file named from its debug file on the node), native_stripped, python, unmapped) and outcome: named on the node, or why not (left_to_server, no_symbols, not_in_symbols, unsupported_go_table, no_perf_map_entry, no_mapping, kallsyms_restricted, code_object_unreadable). Naming coverage = outcome="named" / all.',
      labelNames: ['kind', 'outcome'],
      registers,
    });
  }
}

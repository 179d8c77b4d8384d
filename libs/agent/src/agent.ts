import { samplesToArrow } from '@firn/profiles';
import type { Logger } from '@firn/observability';
import type { AgentMetrics } from './agent.metrics';
import { loadLibBpf } from './bpf/libbpf';
import { BpfSampler, type SamplerStats, type UnwindMode } from './bpf/sampler';
import { LabelResolver, type PodResolver } from './labels/label-resolver';
import type { RelabelConfig } from '@firn/profiles';
import { ProcessTable, type ObjectReader } from './proc/process-table';
import type { KernelNames } from './symbols/kernel-names';
import { buildProfile } from './profile-builder';
import { Shipper, type SendFn } from './ship/shipper';
import { UnwindManager, type UnwindManagerStats } from './unwind/unwind-manager';
import { UnwindMaps } from './unwind/unwind-maps';

export interface AgentOptions {
  objectPath: string;
  intervalMs: number;
  frequencyHz: number;
  nodeName: string;
  relabelConfigs: readonly RelabelConfig[];
  bufferBytes: number;
  send: SendFn;
  readObject: ObjectReader;
  kernelSymbols?: KernelNames;
  pods?: PodResolver;
  logger: Logger;
  metrics: AgentMetrics;
  /** How user stacks are unwound (default 'frame-pointers'). */
  unwind?: { mode: UnwindMode; tableBudgetBytes: number };
  /** Called with each window's build ids (for the optional debuginfo uploader). */
  onMappings?: (files: Array<{ buildId: string; path: string }>) => void;
}

/**
 * The agent's lifecycle: attach the sampler, every `intervalMs` drain → symbolize what is local →
 * label → encode Arrow → hand to the shipper; on stop detach first, drain the last window, and give
 * the shipper until the deadline.
 */
export class Agent {
  private readonly sampler: BpfSampler;
  private readonly processes: ProcessTable;
  private readonly labels: LabelResolver;
  readonly shipper: Shipper;
  private timer: NodeJS.Timeout | undefined;
  private windowStartMs = Date.now();
  private ticking: Promise<void> = Promise.resolve();
  private lastStats: SamplerStats | undefined;
  private unwind: UnwindManager | undefined;
  private lastUnwind: UnwindManagerStats | undefined;
  private stopped = false;
  lastDrainMs = 0;

  constructor(private readonly opts: AgentOptions) {
    this.sampler = new BpfSampler({ objectPath: opts.objectPath, frequencyHz: opts.frequencyHz, unwindMode: opts.unwind?.mode });
    this.processes = new ProcessTable({ readObject: opts.readObject });
    this.labels = new LabelResolver({ nodeName: opts.nodeName, relabelConfigs: opts.relabelConfigs, pods: opts.pods });
    const m = opts.metrics;
    this.shipper = new Shipper({
      send: opts.send,
      maxBufferBytes: opts.bufferBytes,
      logger: opts.logger,
      onSent: (bytes, samples) => {
        m.bytesSent.inc(bytes);
        m.batchesSent.inc();
        m.samples.inc({ kind: 'sent' }, samples);
        m.bufferBytes.set(this.shipper.bufferedBytes);
      },
      onError: () => m.sendErrors.inc(),
      onDropped: (_batches, samples, reason) => {
        m.lostSamples.inc({ reason }, samples);
        opts.logger.warn({ reason, samples }, 'dropped a batch');
      },
    });
  }

  get attached(): boolean {
    return this.sampler.attached;
  }

  start(): void {
    this.sampler.start();
    const fds = this.sampler.unwindMaps;
    if (this.opts.unwind?.mode === 'tables' && fds) {
      this.unwind = new UnwindManager({ kernel: new UnwindMaps(loadLibBpf(), fds), logger: this.opts.logger, budgetBytes: this.opts.unwind.tableBudgetBytes });
      this.unwind.start();
    }
    this.windowStartMs = Date.now();
    this.lastDrainMs = this.windowStartMs;
    this.shipper.start();
    this.schedule();
    this.opts.logger.info({ frequency_hz: this.opts.frequencyHz, interval_ms: this.opts.intervalMs }, 'sampling');
  }

  /** Drains one window now (also used by tests and the final drain). */
  tick(): Promise<void> {
    this.ticking = this.ticking.then(() => this.drainOnce()).catch((err: unknown) => this.opts.logger.error({ err: String(err) }, 'drain failed'));
    return this.ticking;
  }

  async stop(deadlineMs: number): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    clearTimeout(this.timer);
    this.sampler.detach();
    await this.unwind?.stop();
    await this.tick();
    await this.shipper.stop(deadlineMs);
    this.sampler.stop();
    if (this.shipper.bufferedBatches > 0) this.opts.logger.warn({ batches: this.shipper.bufferedBatches }, 'exiting with unsent batches');
  }

  private schedule(): void {
    // A chain of timeouts, not an interval: a slow drain widens the next window instead of piling up.
    this.timer = setTimeout(() => {
      void this.tick().then(() => {
        if (!this.stopped) this.schedule();
      });
    }, this.opts.intervalMs);
    this.timer.unref();
  }

  private async drainOnce(): Promise<void> {
    const m = this.opts.metrics;
    const end = m.drainDuration.startTimer();
    const raw = await this.sampler.drain();
    const endMs = Date.now();
    const window = { startMs: this.windowStartMs, endMs, frequencyHz: this.opts.frequencyHz };
    this.windowStartMs = endMs;
    this.lastDrainMs = endMs;
    this.recordStats();
    this.unwind?.maintain();
    this.recordUnwindStats();
    if (raw.length === 0) {
      end();
      return;
    }
    const built = await buildProfile(raw, window, { processes: this.processes, labels: this.labels, kernel: this.opts.kernelSymbols });
    m.processes.set(this.processes.size);
    if (built.droppedByRelabel) m.lostSamples.inc({ reason: 'relabel_drop' }, built.droppedByRelabel);
    for (const [key, count] of built.coverage) {
      const [kind, outcome] = key.split('|');
      m.frames.inc({ kind, outcome }, count);
    }
    if (built.batch.length > 0) {
      const ipc = samplesToArrow(built.batch);
      this.shipper.enqueue(ipc, built.samples);
      m.bufferBytes.set(this.shipper.bufferedBytes);
      if (this.opts.onMappings) this.opts.onMappings(this.readableFiles(built.batch.stacks));
    }
    end();
    this.opts.logger.debug({ rows: built.batch.length, samples: built.samples, window_ms: endMs - window.startMs }, 'window drained');
  }

  private readableFiles(stacks: ReadonlyArray<ReadonlyArray<{ buildId: string }>>): Array<{ buildId: string; path: string }> {
    const out = new Map<string, string>();
    for (const st of stacks) {
      for (const f of st) {
        if (!f.buildId || out.has(f.buildId)) continue;
        const path = this.processes.pathOf(f.buildId);
        if (path) out.set(f.buildId, path);
      }
    }
    return [...out].map(([buildId, path]) => ({ buildId, path }));
  }

  private recordStats(): void {
    const s = this.sampler.stats();
    const m = this.opts.metrics;
    const last = this.lastStats;
    const d = (k: keyof SamplerStats) => Math.max(0, s[k] - (last?.[k] ?? 0));
    m.samples.inc({ kind: 'sampled' }, d('samples'));
    m.lostSamples.inc({ reason: 'map_full' }, d('mapFull'));
    m.stackErrors.inc({ stack: 'user' }, d('userStackErrors'));
    m.stackErrors.inc({ stack: 'kernel' }, d('kernelStackErrors'));
    m.stackErrors.inc({ stack: 'missing' }, d('missingStacks'));
    m.unwindFrames.inc({ method: 'table' }, d('framesTable'));
    m.unwindFrames.inc({ method: 'frame_pointer' }, d('framesFramePointer'));
    m.unwindFrames.inc({ method: 'python' }, d('framesPython'));
    m.unwindFallbacks.inc({ reason: 'no_mapping' }, d('fallbackNoMapping'));
    m.unwindFallbacks.inc({ reason: 'no_table' }, d('fallbackNoTable'));
    m.unwindFallbacks.inc({ reason: 'not_ready' }, d('fallbackNotReady'));
    m.unwindFallbacks.inc({ reason: 'no_fde' }, d('fallbackNoFde'));
    m.unwindFallbacks.inc({ reason: 'unsupported' }, d('fallbackUnsupported'));
    m.unwindStops.inc({ reason: 'read_error' }, d('stopRead'));
    m.unwindStops.inc({ reason: 'depth_limit' }, d('stopDepth'));
    m.unwindStops.inc({ reason: 'bad_frame' }, d('stopBadFrame'));
    m.userStacks.inc({ outcome: 'complete' }, d('stacksComplete'));
    m.userStacks.inc({ outcome: 'truncated' }, d('stacksTruncated'));
    this.lastStats = s;
  }

  private recordUnwindStats(): void {
    if (!this.unwind) return;
    const s = this.unwind.stats();
    const m = this.opts.metrics;
    for (const [state, n] of Object.entries(s.tables)) m.unwindTables.set({ state }, n);
    m.unwindTableBytes.set(s.tableBytes);
    m.unwindProcesses.set(s.processes);
    m.unwindPythonProcesses.set(s.pythonProcesses);
    m.unwindMappingEntries.set(s.mappingEntries);
    const last = this.lastUnwind;
    for (const [outcome, n] of Object.entries(s.builds))
      m.unwindTableBuilds.inc({ outcome }, Math.max(0, n - (last?.builds[outcome as keyof typeof s.builds] ?? 0)));
    m.unwindTablesEvicted.inc(Math.max(0, s.evicted - (last?.evicted ?? 0)));
    this.lastUnwind = s;
  }
}

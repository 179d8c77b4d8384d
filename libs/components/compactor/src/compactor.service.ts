import { Inject, Injectable, type BeforeApplicationShutdown, type OnApplicationBootstrap } from '@nestjs/common';
import { Leases, type Bus } from '@firn/bus';
import { Compactor, type CompactorStep, type JobReport } from '@firn/compaction';
import type { TenantLimitsSource } from '@firn/limits';
import type { ManifestLog } from '@firn/manifest';
import type { Logger, Registry } from '@firn/observability';
import { BUS, MANIFEST_LOG, OBJECT_STORE, TENANT_LIMITS } from '@firn/platform';
import { LOGGER, METRICS } from '@firn/server-runtime';
import type { ObjectStore } from '@firn/storage';
import { CompactorMetrics } from './compactor.metrics';
import { COMPACTOR_OPTIONS, type CompactorOptions } from './compactor.options';

/**
 * Runs the compaction loop: plan → compact due windows (each under its lease) → retention, every
 * `intervalMs`; GC every `gcIntervalMs`. One pass at a time; SIGTERM lets the current job finish
 * (a job cut short would only leave objects for GC) and stops before the next one.
 */
@Injectable()
export class CompactorService implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly metrics: CompactorMetrics;
  private compactor: Compactor | undefined;
  private loop: Promise<void> | undefined;
  private stopping = false;
  private wake: (() => void) | undefined;
  private lastGcMs = 0;

  constructor(
    @Inject(BUS) private readonly bus: Bus,
    @Inject(OBJECT_STORE) private readonly store: ObjectStore,
    @Inject(MANIFEST_LOG) private readonly manifest: ManifestLog,
    @Inject(COMPACTOR_OPTIONS) private readonly opts: CompactorOptions,
    @Inject(LOGGER) private readonly log: Logger,
    @Inject(METRICS) registry: Registry,
    /** Per-tenant overrides (retention); without them every tenant keeps `opts.retentionMs`. */
    @Inject(TENANT_LIMITS) private readonly overrides: TenantLimitsSource | null,
  ) {
    this.metrics = new CompactorMetrics(registry);
  }

  async onApplicationBootstrap(): Promise<void> {
    const overrides = this.overrides;
    const leases = await Leases.open(this.bus, { owner: this.opts.compactorId, ttlMs: this.opts.leaseTtlMs, bucket: this.opts.leaseBucket });
    this.compactor = new Compactor({
      store: this.store,
      manifest: this.manifest,
      leases,
      levels: this.opts.levels,
      retention: overrides ? (tenant) => overrides.for(tenant).retentionMs : () => this.opts.retentionMs,
      graceMs: this.opts.graceMs,
      observer: {
        job: (r) => {
          this.metrics.job(r);
          this.logJob(r);
        },
        backlog: (level, n) => this.metrics.backlog(level, n),
        retention: (tenant, n) => {
          this.metrics.retention(tenant, n);
          this.log.info({ tenant, segments: n }, 'segments past retention removed from the manifest');
        },
        gc: (r) => {
          this.metrics.gc(r);
          if (r.deleted.removed + r.deleted.conflict + r.deleted.orphan > 0) this.log.info({ ...r }, 'garbage collected');
        },
      },
      onStep: (step) => this.crashPoint(step),
    });
    this.loop = this.run();
    this.log.info(
      { compactorId: this.opts.compactorId, levels: this.opts.levels, graceMs: this.opts.graceMs, retentionMs: this.opts.retentionMs },
      'compactor started',
    );
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.stopping = true;
    this.wake?.();
    await this.loop;
  }

  private async run(): Promise<void> {
    const compactor = this.compactor;
    if (!compactor) return;
    while (!this.stopping) {
      try {
        await compactor.runOnce(() => this.stopping);
        if (!this.stopping && Date.now() - this.lastGcMs >= this.opts.gcIntervalMs) {
          this.lastGcMs = Date.now();
          await compactor.collectGarbage();
        }
      } catch (err) {
        // Typically NATS or storage unavailable; the next pass retries.
        this.log.warn({ err }, 'compaction pass failed');
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, this.opts.intervalMs);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  }

  private logJob(r: JobReport): void {
    const fields = {
      tenant: r.job.tenant,
      level: r.job.level,
      window: new Date(r.job.windowStartMs).toISOString(),
      inputs: r.job.inputs.length,
      reason: r.job.reason,
      block: r.blockId,
      seconds: r.seconds,
      bytesIn: r.bytesIn,
      bytesOut: r.bytesOut,
      rowsIn: r.rowsIn,
      rowsOut: r.rowsOut,
    };
    if (r.outcome === 'ok') this.log.info(fields, 'block published');
    else if (r.outcome === 'failed') this.log.error({ ...fields, err: r.error }, 'compaction job failed; objects it wrote are left to GC');
    else this.log.info({ ...fields, outcome: r.outcome }, 'compaction job abandoned');
  }

  private crashPoint(step: CompactorStep): void {
    if (this.opts.crashAt === step) {
      this.log.warn({ step }, 'fault injection: crashing now');
      this.log.flush();
      process.kill(process.pid, 'SIGKILL');
    }
  }
}

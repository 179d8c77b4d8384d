import { create } from '@bufbuild/protobuf';
import type { ManifestLog } from '@firn/manifest';
import { firnManifestV1 } from '@firn/proto';
import { newSegmentId, segmentDay, segmentKeys, segmentMeta, writeSegment } from '@firn/segments';
import type { ObjectStore } from '@firn/storage';
import type { TenantId } from '@firn/tenancy';
import { GarbageCollector, type GcResult } from './gc';
import { isCasConflict, type Lease, type Leases } from '@firn/bus';
import { DEFAULT_LEVELS, validateLevels, type LevelPolicy } from './levels';
import { mergeSegments } from './merge';
import { expiredSegments, planCompactions, type CompactionJob } from './planner';
import type { RetentionPolicy } from './retention';

/** Points of a job where fault-injection tests crash the process. */
export const COMPACTOR_STEPS = ['after-write', 'after-publish'] as const;
export type CompactorStep = (typeof COMPACTOR_STEPS)[number];

/**
 * - ok: block published, inputs removed.
 * - busy: another replica holds the lease.
 * - stale: an input stopped being valid (compacted or expired elsewhere); nothing published.
 * - lost_lease: our lease was taken over before we published; nothing published.
 * - failed: an error; nothing published (written objects, if any, are left to GC).
 */
export type JobOutcome = 'ok' | 'busy' | 'stale' | 'lost_lease' | 'failed';

export interface JobReport {
  job: CompactionJob;
  outcome: JobOutcome;
  seconds: number;
  bytesIn: number;
  bytesOut: number;
  rowsIn: number;
  rowsOut: number;
  samplesOut: number;
  blockId?: string;
  error?: unknown;
}

/** Hooks for metrics and logs; every one optional. */
export interface CompactorObserver {
  job?(r: JobReport): void;
  /** Segments in due jobs per job level, after each planning pass. */
  backlog?(level: number, segments: number): void;
  retention?(tenant: TenantId, removedSegments: number): void;
  gc?(r: GcResult): void;
}

export type CompactorManifest = Pick<ManifestLog, 'state' | 'publish' | 'syncToLatest' | 'waitForSeq' | 'lastTenantSeq'>;

export interface CompactorOptions {
  store: ObjectStore;
  manifest: CompactorManifest;
  leases: Leases;
  levels?: readonly LevelPolicy[];
  /** Default: keep forever. */
  retention?: RetentionPolicy;
  /** GC grace period: longer than the query timeout plus manifest view lag. */
  graceMs: number;
  rowGroupRows?: number;
  observer?: CompactorObserver;
  /** Test hook, called at each step of a job (fault injection). */
  onStep?: (step: CompactorStep, job: CompactionJob) => void | Promise<void>;
  /** Publish attempts when other deltas of the tenant keep landing first. Default 10. */
  maxPublishAttempts?: number;
  now?: () => number;
}

const RETENTION_BATCH = 1000;

/**
 * Plans and runs compactions, applies retention and collects garbage. One instance per
 * process; several processes split work through leases. See README.md for the protocol.
 */
export class Compactor {
  readonly levels: LevelPolicy[];
  private readonly gc: GarbageCollector;
  private readonly now: () => number;

  constructor(private readonly opts: CompactorOptions) {
    this.levels = validateLevels(opts.levels ?? DEFAULT_LEVELS);
    this.now = opts.now ?? Date.now;
    this.gc = new GarbageCollector({ store: opts.store, view: opts.manifest.state, graceMs: opts.graceMs, now: this.now });
  }

  /** Due jobs of every tenant in the (caught-up) view, oldest window first. */
  async plan(): Promise<CompactionJob[]> {
    await this.opts.manifest.syncToLatest();
    const now = this.now();
    const jobs = this.opts.manifest.state.tenants().flatMap((t) => planCompactions(this.opts.manifest.state, t, this.levels, now));
    for (const p of this.levels) {
      this.opts.observer?.backlog?.(
        p.level,
        jobs.filter((j) => j.level === p.level).reduce((n, j) => n + j.inputs.length, 0),
      );
    }
    return jobs;
  }

  /** One pass: every due job (each under its lease), then retention for every tenant. */
  async runOnce(shouldStop: () => boolean = () => false): Promise<JobReport[]> {
    const reports: JobReport[] = [];
    for (const job of await this.plan()) {
      if (shouldStop()) break;
      reports.push(await this.compact(job));
    }
    if (!shouldStop()) await this.applyRetention();
    return reports;
  }

  /** Runs one job under its lease. Never throws: failures are reported as outcome `failed`. */
  async compact(job: CompactionJob): Promise<JobReport> {
    const started = process.hrtime.bigint();
    const report: JobReport = { job, outcome: 'failed', seconds: 0, bytesIn: 0, bytesOut: 0, rowsIn: 0, rowsOut: 0, samplesOut: 0 };
    let lease: Lease | undefined;
    try {
      lease = await this.opts.leases.tryAcquire(job.leaseKey);
      if (!lease) {
        report.outcome = 'busy';
        return report;
      }
      // Renewed while the job runs, so a long merge keeps it; a failed renewal shows up as
      // lost_lease at the fencing check.
      const held: { lease: Lease; renewing: Promise<unknown> } = { lease, renewing: Promise.resolve() };
      const renewer = setInterval(
        () => {
          held.renewing = this.opts.leases.renew(held.lease).then(
            (l) => (held.lease = l),
            () => undefined,
          );
        },
        Math.max(1, Math.floor(this.opts.leases.ttlMs / 3)),
      );
      // The fencing check must not race a renewal that already moved the revision.
      const current = async (): Promise<Lease> => {
        await held.renewing;
        return held.lease;
      };
      try {
        report.outcome = await this.runJob(job, current, report);
      } finally {
        clearInterval(renewer);
        lease = await current();
      }
    } catch (err) {
      report.outcome = 'failed';
      report.error = err;
    } finally {
      if (lease) await this.opts.leases.release(lease).catch(() => undefined);
      report.seconds = Number(process.hrtime.bigint() - started) / 1e9;
      if (report.outcome !== 'busy') this.opts.observer?.job?.(report);
    }
    return report;
  }

  private inputsValid(job: CompactionJob): boolean {
    return job.inputs.every((s) => this.opts.manifest.state.isValid(job.tenant, s.id));
  }

  private async runJob(job: CompactionJob, lease: () => Promise<Lease>, report: JobReport): Promise<JobOutcome> {
    const { manifest, store, leases } = this.opts;
    await manifest.syncToLatest();
    // The plan may predate another replica's publish for this window.
    if (!this.inputsValid(job)) return 'stale';
    const policy = this.levels[job.level - 1];
    const merged = await mergeSegments(store, job.inputs, {
      bucketMs: policy.bucketMs,
      ...(this.opts.rowGroupRows ? { rowGroupRows: this.opts.rowGroupRows } : {}),
    });
    const { built } = merged;
    report.bytesIn = merged.inputBytes;
    report.rowsIn = merged.inputRows;
    const createdAtMs = this.now();
    const id = newSegmentId(createdAtMs);
    const { tenant } = job;
    const keys = segmentKeys(tenant, job.level, id, segmentDay(built.meta.minTimeMs));
    report.bytesOut = await writeSegment(store, keys, built);
    report.rowsOut = built.meta.rows;
    report.samplesOut = built.meta.samples;
    report.blockId = id;
    await this.opts.onStep?.('after-write', job);

    // No coverage: blocks are not ingest writes. A block listing its inputs' sequences would be
    // ordered after them and lose to them under the validity rule.
    const meta = segmentMeta(built.meta, { id, tenant, level: job.level, keys, writerId: leases.owner, createdAtMs });
    const delta = create(firnManifestV1.ManifestDeltaSchema, { tenantId: tenant, added: [meta], removed: job.inputs.map((s) => s.id), origin: leases.owner });
    const attempts = this.opts.maxPublishAttempts ?? 10;
    for (let attempt = 1; ; attempt++) {
      // Fencing: a takeover rewrote the key, so the new holder may be merging these inputs too.
      if (!(await leases.isHeld(await lease()))) return 'lost_lease';
      // Compare-and-set on the tenant's manifest subject: publish only if no delta of the
      // tenant landed after the one at which every input was seen valid.
      const last = await manifest.lastTenantSeq(tenant);
      await manifest.waitForSeq(last);
      if (!this.inputsValid(job)) return 'stale';
      try {
        const seq = await manifest.publish(delta, { msgId: id, expectedLastTenantSeq: last });
        await this.opts.onStep?.('after-publish', job);
        await manifest.waitForSeq(seq);
        return 'ok';
      } catch (err) {
        if (!isCasConflict(err) || attempt >= attempts) throw err;
      }
    }
  }

  /** Removes every tenant's segments wholly older than its retention (objects go after the grace period). */
  async applyRetention(): Promise<number> {
    const { retention, manifest } = this.opts;
    if (!retention) return 0;
    await manifest.syncToLatest();
    const now = this.now();
    let removed = 0;
    for (const tenant of manifest.state.tenants()) {
      const expired = expiredSegments(manifest.state, tenant, retention(tenant), now);
      if (expired.length === 0) continue;
      for (let i = 0; i < expired.length; i += RETENTION_BATCH) {
        const ids = expired.slice(i, i + RETENTION_BATCH).map((s) => s.id);
        await manifest.publish(create(firnManifestV1.ManifestDeltaSchema, { tenantId: tenant, removed: ids, origin: this.opts.leases.owner }));
      }
      removed += expired.length;
      this.opts.observer?.retention?.(tenant, expired.length);
    }
    return removed;
  }

  /** Deletes unreferenced segment objects past the grace period (see GarbageCollector). */
  async collectGarbage(): Promise<GcResult> {
    await this.opts.manifest.syncToLatest();
    const r = await this.gc.run();
    this.opts.observer?.gc?.(r);
    return r;
  }
}

import type { CompactorObserver, GcResult, JobReport } from '@firn/compaction';
import { Counter, Gauge, Histogram, metricName, type Registry } from '@firn/observability';
import { registerParquetMemoryGauge } from '@firn/segments';
import type { TenantId } from '@firn/tenancy';

export class CompactorMetrics implements CompactorObserver {
  readonly backlogSegments: Gauge<'level'>;
  readonly jobs: Counter<'level' | 'outcome'>;
  readonly jobSeconds: Histogram<'level'>;
  readonly bytesIn: Counter<'level'>;
  readonly bytesOut: Counter<'level'>;
  readonly bytesPerSample: Gauge<'level'>;
  readonly retentionRemoved: Counter;
  readonly gcDeleted: Counter<'reason'>;
  readonly gcWaiting: Gauge;

  constructor(registry: Registry) {
    const c = 'compactor';
    registerParquetMemoryGauge(registry, c);
    this.backlogSegments = new Gauge({
      name: metricName(c, 'backlog_segments'),
      help: 'Segments in compaction jobs that are due, by the level of the block they go into.',
      labelNames: ['level'],
      registers: [registry],
    });
    this.jobs = new Counter({
      name: metricName(c, 'jobs_total'),
      help: 'Compaction jobs by outcome: ok, stale (inputs changed meanwhile), lost_lease (fenced), failed.',
      labelNames: ['level', 'outcome'],
      registers: [registry],
    });
    this.jobSeconds = new Histogram({
      name: metricName(c, 'job_duration_seconds'),
      help: 'Time to read, merge, write and publish one block.',
      labelNames: ['level'],
      buckets: [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300],
      registers: [registry],
    });
    this.bytesIn = new Counter({
      name: metricName(c, 'bytes_in_total'),
      help: 'Parquet bytes read from merged segments.',
      labelNames: ['level'],
      registers: [registry],
    });
    this.bytesOut = new Counter({
      name: metricName(c, 'bytes_out_total'),
      help: 'Parquet bytes of published blocks.',
      labelNames: ['level'],
      registers: [registry],
    });
    this.bytesPerSample = new Gauge({
      name: metricName(c, 'block_bytes_per_sample'),
      help: 'Compression of the last published block: bytes per sample (count-unit values; 1 per row otherwise).',
      labelNames: ['level'],
      registers: [registry],
    });
    this.retentionRemoved = new Counter({
      name: metricName(c, 'retention_removed_segments_total'),
      help: "Segments removed from the manifest because they aged past their tenant's retention.",
      registers: [registry],
    });
    this.gcDeleted = new Counter({
      name: metricName(c, 'gc_deleted_objects_total'),
      help: 'Segment objects deleted after the grace period: removed (compacted or expired), conflict (lost a write race), orphan (never published).',
      labelNames: ['reason'],
      registers: [registry],
    });
    this.gcWaiting = new Gauge({
      name: metricName(c, 'gc_waiting_objects'),
      help: 'Unreferenced segment objects still inside the grace period.',
      registers: [registry],
    });
  }

  job(r: JobReport): void {
    const level = String(r.job.level);
    this.jobs.inc({ level, outcome: r.outcome });
    this.jobSeconds.observe({ level }, r.seconds);
    if (r.outcome !== 'ok') return;
    this.bytesIn.inc({ level }, r.bytesIn);
    this.bytesOut.inc({ level }, r.bytesOut);
    if (r.samplesOut > 0) this.bytesPerSample.set({ level }, r.bytesOut / r.samplesOut);
  }

  backlog(level: number, segments: number): void {
    this.backlogSegments.set({ level: String(level) }, segments);
  }

  retention(_tenant: TenantId, removed: number): void {
    this.retentionRemoved.inc(removed);
  }

  gc(r: GcResult): void {
    for (const [reason, n] of Object.entries(r.deleted)) if (n > 0) this.gcDeleted.inc({ reason }, n);
    this.gcWaiting.set(r.waiting);
  }
}

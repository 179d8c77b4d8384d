import { Inject, Injectable, type BeforeApplicationShutdown, type OnApplicationBootstrap } from '@nestjs/common';
import type { Span, Tracer } from '@opentelemetry/api';
import type { Bus, BusMessage, ConsumerHandle } from '@firn/bus';
import type { KeyValueCache } from '@firn/cache';
import {
  DebuginfoFinder,
  DebuginfoStore,
  DebuginfodCache,
  DebuginfodClient,
  DiskCache,
  KvPendingAddresses,
  PENDING_KV_BUCKET,
  SYMBOLIZE_CONSUMER,
  SYMBOLIZE_STREAM,
  SymbolizeWorker,
  decodeJob,
  symbolizeStreamSpec,
  tenantOfSubject,
  type SymbolReader,
  type SymbolizeJob,
} from '@firn/debuginfo';
import { ErrorCode, isFirnError } from '@firn/errors';
import { contextFromHeaders, inSpan, type Logger, type Registry } from '@firn/observability';
import { BUS, CACHE, OBJECT_STORE } from '@firn/platform';
import { LOGGER, METRICS, READINESS, TRACER, type Readiness } from '@firn/server-runtime';
import type { ObjectStore } from '@firn/storage';
import type { TenantId } from '@firn/tenancy';
import { SymbolizerMetrics } from './symbolizer.metrics';
import { SYMBOL_READER, SYMBOLIZER_OPTIONS, type SymbolizerOptions } from './symbolizer.options';

/** Delay before a job whose debuginfo source was unavailable is tried again. */
const RETRY_DELAY_MS = 30_000;
/** A job (one build id, up to a few thousand addresses) finishes well within this, or is redelivered. */
const ACK_WAIT_MS = 120_000;
const MAX_DELIVER = 10;

/**
 * Consumes the symbolize work queue (one durable consumer shared by every replica, `jobs`
 * handlers per replica), resolves addresses with debug info from the tenant's uploads or
 * debuginfod, and writes the results to the symbol cache the queriers read.
 */
@Injectable()
export class SymbolizerService implements OnApplicationBootstrap, BeforeApplicationShutdown {
  readonly metrics: SymbolizerMetrics;
  private readonly consumers: ConsumerHandle[] = [];
  private worker: SymbolizeWorker | undefined;
  private disk: DiskCache | undefined;
  private stopping = false;

  constructor(
    @Inject(BUS) private readonly bus: Bus,
    @Inject(OBJECT_STORE) private readonly store: ObjectStore,
    @Inject(CACHE) private readonly cache: KeyValueCache,
    @Inject(SYMBOL_READER) private readonly reader: SymbolReader,
    @Inject(SYMBOLIZER_OPTIONS) private readonly opts: SymbolizerOptions,
    @Inject(LOGGER) private readonly log: Logger,
    @Inject(METRICS) registry: Registry,
    @Inject(READINESS) readiness: Readiness,
    @Inject(TRACER) private readonly tracer: Tracer,
  ) {
    this.metrics = new SymbolizerMetrics(registry);
    readiness.addCheck('symbolize-consumer', async () => {
      if (this.consumers.length === 0 && !this.stopping) throw new Error('not consuming yet');
    });
  }

  async onApplicationBootstrap(): Promise<void> {
    await this.bus.ensureStream(symbolizeStreamSpec());
    const kv = await this.bus.ensureKv(PENDING_KV_BUCKET, { ttlMs: this.opts.pendingTtlMs });
    const client = new DebuginfodClient({
      ...this.opts.debuginfod,
      onRequest: (server, outcome, seconds) => {
        this.metrics.debuginfodRequests.inc({ server, outcome });
        if (outcome !== 'breaker_open') this.metrics.debuginfodSeconds.observe({ server }, seconds);
      },
    });
    const disk = new DiskCache({ dir: this.opts.cacheDir, maxBytes: this.opts.cacheDirBytes });
    this.disk = disk;
    this.worker = new SymbolizeWorker({
      cache: this.cache,
      // The symbolizer only reads uploads; the gateway enforces the upload limits.
      finder: new DebuginfoFinder({
        uploads: new DebuginfoStore({ store: this.store, maxUploadBytes: Number.MAX_SAFE_INTEGER, staleUploadMs: Number.MAX_SAFE_INTEGER }),
        debuginfod: new DebuginfodCache(this.store, client),
        disk,
      }),
      reader: this.reader,
      pending: new KvPendingAddresses(kv),
      log: this.log,
      positiveTtlSeconds: this.opts.symbolTtlSeconds,
      negativeTtlSeconds: this.opts.negativeTtlSeconds,
      onAddresses: (outcome, n) => this.metrics.addresses.inc({ outcome }, n),
      onLookup: (source) => this.metrics.lookups.inc({ source }),
      onCoverage: (source, outcome, n) => this.metrics.frames.inc({ source, outcome }, n),
    });
    for (let i = 0; i < this.opts.jobs; i++) {
      this.consumers.push(
        await this.bus.consume(SYMBOLIZE_STREAM, SYMBOLIZE_CONSUMER, (m) => this.onMessage(m), {
          ackWaitMs: ACK_WAIT_MS,
          maxDeliver: MAX_DELIVER,
          batch: 8,
          nakDelayMs: RETRY_DELAY_MS,
          onError: (err, msg) => this.log.warn({ err, seq: msg?.streamSeq }, 'symbolize job failed; it will be retried'),
        }),
      );
    }
    this.log.info({ jobs: this.opts.jobs, debuginfod: this.opts.debuginfod.servers, cacheDir: this.opts.cacheDir }, 'consuming the symbolize queue');
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.stopping = true;
    await Promise.all(this.consumers.map((c) => c.stop()));
  }

  /** A job continues the trace of the ingester flush that queued it (the message's `traceparent`). */
  private onMessage(msg: BusMessage): Promise<void> {
    return inSpan(
      this.tracer,
      'symbolize.job',
      (span) => this.handle(msg, span),
      { attributes: { 'firn.symbolize.seq': msg.streamSeq } },
      contextFromHeaders(msg.headers),
    );
  }

  private async handle(msg: BusMessage, span: Span): Promise<void> {
    let tenant: TenantId;
    let job: SymbolizeJob;
    try {
      tenant = tenantOfSubject(msg.subject);
      job = decodeJob(msg.data);
    } catch (err) {
      this.log.error({ err, seq: msg.streamSeq, subject: msg.subject }, 'malformed symbolize job; dropped');
      this.metrics.jobs.inc({ kind: 'unknown', outcome: 'poison' });
      msg.term();
      return;
    }
    span.setAttributes({ 'firn.tenant': tenant, 'firn.symbolize.kind': job.kind, 'firn.build_id': job.buildId });
    const end = this.metrics.jobSeconds.startTimer({ kind: job.kind });
    // Downloads of large debug files can outlast the ack deadline.
    const heartbeat = setInterval(() => msg.working(), ACK_WAIT_MS / 3);
    try {
      const outcome = await (this.worker as SymbolizeWorker).handle(tenant, job);
      this.metrics.jobs.inc({ kind: job.kind, outcome });
      span.setAttribute('firn.symbolize.outcome', outcome);
      if (outcome === 'retry') msg.nak(RETRY_DELAY_MS);
      else msg.ack();
    } catch (err) {
      this.metrics.jobs.inc({ kind: job.kind, outcome: 'failed' });
      if (isFirnError(err, ErrorCode.InvalidArgument)) {
        this.log.error({ err, tenant, buildId: job.buildId }, 'symbolize job cannot succeed; dropped');
        msg.term();
        return;
      }
      throw err;
    } finally {
      clearInterval(heartbeat);
      end();
      if (this.disk) this.metrics.cacheDirBytes.set(this.disk.bytes);
    }
  }
}

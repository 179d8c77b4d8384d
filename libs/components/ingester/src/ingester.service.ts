import { Inject, Injectable, type BeforeApplicationShutdown, type OnApplicationBootstrap } from '@nestjs/common';
import { create } from '@bufbuild/protobuf';
import { ROOT_CONTEXT, trace, type Span, type SpanContext, type Tracer } from '@opentelemetry/api';
import type { Bus, BusMessage, ConsumerHandle } from '@firn/bus';
import { SymbolizeQueue } from '@firn/debuginfo';
import { ErrorCode, isFirnError } from '@firn/errors';
import { INGEST_CONSUMER, INGEST_STREAM, ingestStreamSpec, readIngest } from '@firn/ingest-log';
import type { ManifestLog } from '@firn/manifest';
import { contextFromHeaders, failed, inSpan, spanContextFromHeaders, type Logger, type Registry } from '@firn/observability';
import { BUS, MANIFEST_LOG, OBJECT_STORE } from '@firn/platform';
import { samplesFromArrow, type SampleBatch } from '@firn/profiles';
import { firnManifestV1 } from '@firn/proto';
import { buildSegment, newSegmentId, segmentKeys, segmentMeta, writeSegment } from '@firn/segments';
import { CRASH, LOGGER, METRICS, READINESS, TRACER, type Crash, type Readiness } from '@firn/server-runtime';
import type { ObjectStore } from '@firn/storage';
import type { TenantId } from '@firn/tenancy';
import { IngesterMetrics } from './ingester.metrics';
import { INGESTER_OPTIONS, type FlushStep, type IngesterOptions } from './ingester.options';
import { toSequenceRanges } from './sequence-ranges';

/**
 * The latest delivery of one log message. JetStream may deliver a message again while we still
 * hold it (it waited in the client's prefetch queue past ack-wait); the box then points at the
 * newest delivery and its data is NOT buffered twice.
 */
interface Held {
  msg: BusMessage;
  /** The appending request's span (the message's `traceparent`), which the flush links to. */
  origin?: SpanContext;
}

interface TenantBuffer {
  tenant: TenantId;
  batches: SampleBatch[];
  messages: Held[];
  claimKeys: string[];
  rows: number;
  /** Ingest-log payload bytes of the messages (usage metering: SegmentMeta.ingest_bytes). */
  payloadBytes: number;
  /** Estimated memory the messages and their decoded batches take (heldBytesOf). */
  heldBytes: number;
  openedAtMs: number;
}

/** Span links a flush records (OpenTelemetry's default link limit); `firn.messages` has the full count. */
const MAX_FLUSH_LINKS = 128;

/**
 * Memory a held write costs per byte of its log payload, from decode to the end of its flush: a
 * bound for the worst case, not the typical one. Decoded batches retained (after GC, 2026-12-04):
 * 0.17× on fleet-1h WriteArrow payloads once the process has seen their frames and 0.32× when it
 * has not (frames and stacks are interned process-wide), but 3.45× for payloads whose frames are
 * all new (unsymbolized, unique addresses, 26 deep: a Frame object, a BigInt and interner entries
 * per frame). A flush (merged rows, the Arrow table and Parquet buffers, garbage not yet collected)
 * about doubles that: draining a backlog, heap used once peaked at ≈ 2.2× what a 4× estimate said
 * was held (bench/ingest/backlog.bench.ts).
 */
const DECODED_BYTES_PER_PAYLOAD_BYTE = 8;

/** What holding one write costs: its decoded batch plus the message itself (kept until acked). */
function heldBytesOf(payloadBytes: number, messageBytes: number): number {
  return payloadBytes * DECODED_BYTES_PER_PAYLOAD_BYTE + messageBytes;
}

/** Limits for decoding the log's payloads: the gateway already enforced the tenant's limits. */
const LOG_LIMITS = { maxRows: 50_000_000, maxStackDepth: 100_000, maxBytes: 2 ** 31 - 1 };

/**
 * Consumes the ingest log and turns it into Parquet segments + manifest entries, exactly once
 * in effect (see docs/architecture.md, "Exactly-once write path"):
 *   buffer per tenant → write segment objects → publish manifest delta (covered stream seqs)
 *   → confirm the segment is valid (no earlier valid segment covers the same seqs) → ack.
 * Redelivered messages already covered by a valid segment are acked and dropped.
 */
@Injectable()
export class IngesterService implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly metrics: IngesterMetrics;
  private readonly buffers = new Map<TenantId, TenantBuffer>();
  /** Messages buffered or being flushed, by stream sequence. */
  private readonly inFlight = new Map<number, Held>();
  private readonly flushChains = new Map<TenantId, Promise<void>>();
  /** Estimated memory of every write held, buffered or being flushed (bounded by maxBufferedBytes). */
  private heldBytes = 0;
  private consumer: ConsumerHandle | undefined;
  private timer: NodeJS.Timeout | undefined;
  private lastHeartbeatMs = 0;
  private lastPruneMs = 0;
  private stopping = false;

  constructor(
    @Inject(BUS) private readonly bus: Bus,
    @Inject(OBJECT_STORE) private readonly store: ObjectStore,
    @Inject(MANIFEST_LOG) private readonly manifest: ManifestLog,
    @Inject(INGESTER_OPTIONS) private readonly opts: IngesterOptions,
    @Inject(LOGGER) private readonly log: Logger,
    @Inject(METRICS) registry: Registry,
    @Inject(READINESS) readiness: Readiness,
    @Inject(SymbolizeQueue) private readonly symbolizeQueue: SymbolizeQueue,
    @Inject(CRASH) private readonly crash: Crash,
    @Inject(TRACER) private readonly tracer: Tracer,
  ) {
    this.metrics = new IngesterMetrics(registry);
    readiness.addCheck('ingest-consumer', async () => {
      if (!this.consumer && !this.stopping) throw new Error('not consuming yet');
    });
  }

  async onApplicationBootstrap(): Promise<void> {
    await this.bus.ensureStream(ingestStreamSpec());
    this.consumer = await this.bus.consume(INGEST_STREAM, INGEST_CONSUMER, (m) => this.onMessage(m), {
      manualAck: true,
      ackWaitMs: this.opts.ackWaitMs,
      maxAckPending: this.opts.maxAckPending,
      maxBytes: this.opts.pullMaxBytes,
      onError: (err, msg) => this.log.warn({ err, seq: msg?.streamSeq }, 'ingest message failed; it will be redelivered'),
    });
    this.timer = setInterval(() => this.tick(), Math.min(250, this.opts.flushMaxAgeMs));
    const { writerId, flushMaxAgeMs, maxBufferedBytes, pullMaxBytes } = this.opts;
    this.log.info({ writerId, flushMaxAgeMs, maxBufferedBytes, pullMaxBytes }, 'consuming the ingest log');
  }

  /** Stop intake, then flush everything buffered so nothing waits for redelivery. */
  async beforeApplicationShutdown(): Promise<void> {
    this.stopping = true;
    await this.consumer?.stop();
    if (this.timer) clearInterval(this.timer);
    await Promise.all([...this.buffers.keys()].map((t) => this.flush(t)));
    await Promise.all(this.flushChains.values());
  }

  private async onMessage(msg: BusMessage): Promise<void> {
    const held = this.inFlight.get(msg.streamSeq);
    if (held) {
      held.msg = msg;
      this.metrics.messages.inc({ outcome: 'redelivered_while_held' });
      return;
    }
    if (await this.alreadyStored(msg)) {
      msg.ack();
      this.metrics.messages.inc({ outcome: 'duplicate' });
      return;
    }
    // The appending request's trace continues here (the gateway put it in the message headers).
    const decoded = await inSpan(
      this.tracer,
      'ingester.decode',
      (span) => this.decode(msg, span),
      { attributes: { 'firn.ingest.seq': msg.streamSeq, 'firn.ingest.delivery': msg.deliveryCount } },
      contextFromHeaders(msg.headers),
    );
    if (!decoded) return;
    const { tenant, batch, claimKey, payloadBytes } = decoded;
    let buf = this.buffers.get(tenant);
    if (!buf) {
      buf = { tenant, batches: [], messages: [], claimKeys: [], rows: 0, payloadBytes: 0, heldBytes: 0, openedAtMs: Date.now() };
      this.buffers.set(tenant, buf);
    }
    const box: Held = { msg, origin: spanContextFromHeaders(msg.headers) };
    buf.batches.push(batch);
    buf.messages.push(box);
    if (claimKey) buf.claimKeys.push(claimKey);
    buf.rows += batch.length;
    buf.payloadBytes += payloadBytes;
    const cost = heldBytesOf(payloadBytes, msg.data.byteLength);
    buf.heldBytes += cost;
    this.addHeld(cost);
    this.inFlight.set(msg.streamSeq, box);
    this.metrics.messages.inc({ outcome: 'buffered' });
    this.metrics.bufferedRows.inc(batch.length);
    // Waiting here is the back-pressure: the consumer pulls no more until the flush is done.
    if (buf.rows >= this.opts.flushMaxRows || buf.heldBytes >= this.opts.flushMaxBytes) await this.flush(tenant);
    await this.withinBudget();
  }

  private addHeld(bytes: number): void {
    this.heldBytes += bytes;
    this.metrics.heldBytes.set(this.heldBytes);
  }

  /**
   * Pulls nothing more while the writes held reach the memory budget: flushes the largest
   * buffer, or waits for a flush in progress, until enough is freed. A backlog is then drained
   * at a bounded size, and nothing waits in memory long enough to be redelivered.
   */
  private async withinBudget(): Promise<void> {
    let counted = false;
    while (this.heldBytes >= this.opts.maxBufferedBytes) {
      if (!counted) this.metrics.budgetWaits.inc();
      counted = true;
      let largest: TenantBuffer | undefined;
      for (const b of this.buffers.values()) if (!largest || b.heldBytes > largest.heldBytes) largest = b;
      if (largest) await this.flush(largest.tenant);
      else if (this.flushChains.size > 0) await Promise.race(this.flushChains.values());
      else return;
    }
  }

  /** Reads and decodes a message; undefined for a poison message (terminated here). */
  private async decode(msg: BusMessage, span: Span): Promise<{ tenant: TenantId; batch: SampleBatch; claimKey?: string; payloadBytes: number } | undefined> {
    try {
      const decoded = await readIngest(this.store, msg.subject, msg.data);
      const batch = samplesFromArrow(decoded.payload, LOG_LIMITS);
      span.setAttributes({ 'firn.tenant': decoded.tenant, 'firn.rows': batch.length });
      return { tenant: decoded.tenant, batch, claimKey: decoded.claimKey, payloadBytes: decoded.payload.byteLength };
    } catch (err) {
      if (isFirnError(err, ErrorCode.InvalidArgument)) {
        // Only a bug or tampering produces this; retrying can't help, and blocking the log would.
        failed(span, err);
        this.log.error({ err, seq: msg.streamSeq, subject: msg.subject }, 'poison message in the ingest log; dropped');
        this.metrics.messages.inc({ outcome: 'poison' });
        msg.term();
        return undefined;
      }
      this.metrics.messages.inc({ outcome: 'retried' });
      throw err;
    }
  }

  /**
   * A first delivery can't be in a segment yet. A redelivery may be (its ingester crashed after
   * publishing the manifest entry, before acking): catch up with the manifest log, then decide.
   */
  private async alreadyStored(msg: BusMessage): Promise<boolean> {
    if (this.manifest.isCovered(INGEST_STREAM, msg.streamSeq)) return true;
    if (msg.deliveryCount <= 1) return false;
    await this.manifest.syncToLatest();
    return this.manifest.isCovered(INGEST_STREAM, msg.streamSeq);
  }

  private tick(): void {
    const now = Date.now();
    for (const [tenant, buf] of this.buffers) {
      if (now - buf.openedAtMs >= this.opts.flushMaxAgeMs) void this.flush(tenant);
    }
    // Messages held in memory or mid-flush must not be redelivered to another ingester.
    if (now - this.lastHeartbeatMs >= this.opts.ackWaitMs / 3) {
      this.lastHeartbeatMs = now;
      for (const h of this.inFlight.values()) h.msg.working();
    }
    if (now - this.lastPruneMs >= 30_000) {
      this.lastPruneMs = now;
      void this.pruneCoverage();
    }
  }

  /** Seqs at or below the consumer's ack floor are never redelivered: forget their coverage. */
  private async pruneCoverage(): Promise<void> {
    try {
      const { ackFloor } = await this.bus.consumerState(INGEST_STREAM, INGEST_CONSUMER);
      this.manifest.prune(INGEST_STREAM, ackFloor);
    } catch (err) {
      this.log.debug({ err }, 'could not read the consumer ack floor');
    }
  }

  /** Flushes a tenant's buffer; flushes of one tenant run one after another. */
  flush(tenant: TenantId): Promise<void> {
    const buf = this.buffers.get(tenant);
    if (!buf) return this.flushChains.get(tenant) ?? Promise.resolve();
    this.buffers.delete(tenant);
    this.metrics.bufferedRows.dec(buf.rows);
    const prev = this.flushChains.get(tenant) ?? Promise.resolve();
    const next = prev.then(() => this.flushBuffer(buf));
    this.flushChains.set(tenant, next);
    void next.finally(() => {
      if (this.flushChains.get(tenant) === next) this.flushChains.delete(tenant);
    });
    return next;
  }

  /**
   * One flush serves many requests: its span continues the trace of the message that opened the
   * buffer (so a request that flushed alone is one trace from gateway to segment) and links to
   * every message's appending span, which is how each of the others finds it.
   */
  private async flushBuffer(buf: TenantBuffer): Promise<void> {
    const origins = buf.messages.flatMap((h) => (h.origin ? [h.origin] : []));
    const parent = origins.length > 0 ? trace.setSpanContext(ROOT_CONTEXT, origins[0]) : ROOT_CONTEXT;
    const attributes = { 'firn.tenant': buf.tenant, 'firn.messages': buf.messages.length, 'firn.rows': buf.rows };
    await inSpan(
      this.tracer,
      'ingester.flush',
      (span) => this.flushInSpan(buf, span),
      { attributes, links: origins.slice(0, MAX_FLUSH_LINKS).map((context) => ({ context })) },
      parent,
    );
  }

  private async flushInSpan(buf: TenantBuffer, span: Span): Promise<void> {
    const end = this.metrics.flushSeconds.startTimer();
    try {
      const outcome = await this.writeSegment(buf);
      this.metrics.segments.inc({ outcome });
      span.setAttribute('firn.flush.outcome', outcome);
      // After the ack, off the flush chain: queueing never fails or delays ingest.
      if (outcome === 'ok') void this.symbolizeQueue.enqueue(buf.tenant, buf.batches);
    } catch (err) {
      failed(span, err);
      this.metrics.segments.inc({ outcome: 'failed' });
      this.log.error({ err, tenant: buf.tenant, messages: buf.messages.length }, 'segment flush failed; messages will be redelivered');
      for (const h of buf.messages) h.msg.nak(1000);
    } finally {
      for (const h of buf.messages) this.inFlight.delete(h.msg.streamSeq);
      this.addHeld(-buf.heldBytes);
      end();
    }
  }

  private async writeSegment(buf: TenantBuffer): Promise<'ok' | 'conflict'> {
    const nowMs = Date.now();
    const id = newSegmentId(nowMs);
    const { built, keys } = await inSpan(this.tracer, 'segment.write', async (span) => {
      const built = buildSegment(buf.batches);
      const keys = segmentKeys(buf.tenant, 0, id, new Date(built.meta.minTimeMs).toISOString().slice(0, 10));
      await writeSegment(this.store, keys, built);
      span.setAttributes({ 'firn.segment': id, 'firn.rows': built.meta.rows, 'firn.bytes': built.meta.bytes });
      return { built, keys };
    });
    this.crashPoint('after-segment-write');

    const meta = segmentMeta(built.meta, {
      id,
      tenant: buf.tenant,
      level: 0,
      keys,
      covered: toSequenceRanges(
        INGEST_STREAM,
        buf.messages.map((h) => h.msg.streamSeq),
      ),
      writerId: this.opts.writerId,
      createdAtMs: nowMs,
    });
    meta.ingestBytes = BigInt(buf.payloadBytes);
    // msgId = segment id: a retried publish returns the original sequence instead of a second entry.
    await inSpan(this.tracer, 'manifest.publish', async () => {
      const seq = await this.manifest.publish(create(firnManifestV1.ManifestDeltaSchema, { tenantId: buf.tenant, added: [meta], origin: this.opts.writerId }), {
        msgId: id,
      });
      this.crashPoint('after-manifest-publish');
      // Deltas apply in stream order: once ours is applied, every earlier one is too.
      await this.manifest.waitForSeq(seq);
    });
    // 'removed' is fine too: a compactor may already have merged the fresh segment into a block
    // (removal never changes who won, so the data is stored exactly once).
    if (this.manifest.status(buf.tenant, id) === 'conflict') {
      // Another ingester published a segment covering some of these messages first (we were
      // too slow and they were redelivered). Retract ours; ack what is stored, retry the rest.
      await this.manifest.publish(create(firnManifestV1.ManifestDeltaSchema, { tenantId: buf.tenant, removed: [id], origin: this.opts.writerId }), {
        msgId: `${id}:retract`,
      });
      for (const { msg } of buf.messages) {
        if (this.manifest.isCovered(INGEST_STREAM, msg.streamSeq)) msg.ack();
        else msg.nak(0);
      }
      this.log.warn({ segment: id, tenant: buf.tenant }, 'segment lost a redelivery race and was retracted');
      return 'conflict';
    }
    this.crashPoint('before-ack');
    for (const h of buf.messages) h.msg.ack();
    this.metrics.rows.inc(built.meta.rows);
    this.metrics.segmentBytes.inc(built.meta.bytes);
    this.log.debug({ segment: id, tenant: buf.tenant, rows: built.meta.rows, messages: buf.messages.length }, 'segment flushed');
    // Claim-check objects are now redundant; a leftover one is harmless (collected by age later).
    await Promise.all(buf.claimKeys.map((k) => this.store.delete(k).catch(() => undefined)));
    return 'ok';
  }

  private crashPoint(step: FlushStep): void {
    if (this.opts.crashAt === step) {
      this.log.warn({ step }, 'fault injection: crashing now');
      this.crash(`ingester flush step ${step}`);
    }
  }
}

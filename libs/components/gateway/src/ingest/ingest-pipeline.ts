import { Inject, Injectable } from '@nestjs/common';
import type { Tracer } from '@opentelemetry/api';
import type { Bus } from '@firn/bus';
import { ErrorCode, FirnError } from '@firn/errors';
import { appendIngest, ingestStreamSpec, type AppendResult } from '@firn/ingest-log';
import { currentRequestContext, inSpan, traceHeaders, type Logger, type Registry } from '@firn/observability';
import { BUS, OBJECT_STORE } from '@firn/platform';
import { gunzipWithin, samplesToArrow } from '@firn/profiles';
import { LOGGER, METRICS, TRACER } from '@firn/server-runtime';
import type { ObjectStore } from '@firn/storage';
import type { TenantId } from '@firn/tenancy';
import { GATEWAY_OPTIONS, type GatewayOptions } from '../gateway.options';
import { removeContentEncoding } from './content-encoding';
import type { DecodeContext, DecodedRequest, IngestDecoder, IngestFormat, IngestParams, IngestPart } from './ingest-decoder';
import { IngestLimits } from './ingest-limits';
import { IngestMetrics } from './ingest.metrics';
import { InflightBudget } from './inflight-budget';
import { explicitIdempotencyKey, requestIdentity } from './request-identity';

/** The public ingest API a request came through (stable: logs, and part of a request's identity). */
export type IngestApi = 'parca.WriteRaw' | 'parca.WriteArrow' | 'pyroscope.ingest' | 'pyroscope.Push' | 'otlp.Export' | 'scrape';

export interface IngestRequest {
  /** From the authenticated token, never from the request. */
  tenant: TenantId;
  api: IngestApi;
  /** The request as received, in the pieces its decoder reads. */
  parts: readonly IngestPart[];
  /** Parameters as received (HTTP query string). */
  params?: IngestParams;
  /** Series the envelope declares (WriteRaw), checked against the limit before anything is decoded. */
  series?: number;
  decoder: IngestDecoder;
  /** The client's `Idempotency-Key` header / metadata value as received (validated here). */
  idempotencyKey?: string | readonly string[] | null;
}

export interface AcceptResult {
  /** Sample rows of the request (0: nothing to store, nothing appended). */
  rows: number;
  append?: AppendResult;
  /** A retry of a write already in the log: acknowledged, not stored again. */
  duplicate: boolean;
  /** What the decoder refused while accepting the rest (OTLP partial success). */
  partial?: { rejected: number; message: string };
}

/** A decoded request and its idempotency key. */
type Decoded = DecodedRequest & { key: string };

/**
 * Retry-After for a failed append. Outages of NATS or object storage seen in the fault suite end
 * within seconds of the dependency coming back; agents back off further on repeated failures.
 */
const APPEND_RETRY_AFTER_SECONDS = 2;

/**
 * The one way into the ingest log, shared by every ingest API. Each API is a thin adapter that
 * authenticates, names its parts and picks a decoder; `accept` then owns the rest in this order:
 *
 * 1. size and rate of the request as received (413 / 429 with Retry-After);
 * 2. content encodings and gzip, inflated only after a streaming size check (bombs stop there);
 * 3. decoding by the API's decoder under the tenant's parser limits;
 * 4. the decoded batch's labels, series and time window;
 * 5. the append to the ingest log: success is reported only after JetStream acknowledged it.
 *
 * Steps 1-4 run in an `ingest.decode` span and step 5 in `ingest.append`, whose trace context
 * travels in the log message's headers to the ingester (docs/architecture.md, "Tracing").
 *
 * Every outcome is counted (`firn_gateway_ingest_requests_total{source,outcome}`, refusals by
 * limit in `firn_gateway_limit_rejections_total`).
 */
@Injectable()
export class IngestPipeline {
  private readonly metrics: IngestMetrics;
  private readonly inflight: InflightBudget;
  private streamReady: Promise<void> | undefined;

  constructor(
    @Inject(BUS) private readonly bus: Bus,
    @Inject(OBJECT_STORE) private readonly store: ObjectStore,
    @Inject(LOGGER) private readonly log: Logger,
    @Inject(METRICS) registry: Registry,
    @Inject(GATEWAY_OPTIONS) private readonly opts: GatewayOptions,
    private readonly limits: IngestLimits,
    @Inject(TRACER) private readonly tracer: Tracer,
  ) {
    this.metrics = new IngestMetrics(registry);
    this.inflight = new InflightBudget(opts.maxInflightBytes);
  }

  /** The largest body worth reading for this tenant (HTTP adapters refuse the rest unread, 413). */
  maxBodyBytes(tenant: TenantId): number {
    return this.limits.maxBodyBytes(tenant, this.opts.maxRequestBytes);
  }

  async accept(req: IngestRequest): Promise<AcceptResult> {
    let held = 0;
    const take = (bytes: number): void => {
      this.inflight.take(bytes, held);
      held += bytes;
      this.metrics.inflightBytes.set(this.inflight.inUse);
    };
    try {
      return await this.run(req, take);
    } finally {
      this.inflight.release(held);
      this.metrics.inflightBytes.set(this.inflight.inUse);
    }
  }

  private async run(req: IngestRequest, take: (bytes: number) => void): Promise<AcceptResult> {
    const { tenant, decoder } = req;
    const format = decoder.format;
    let decoded: Decoded;
    try {
      decoded = await inSpan(this.tracer, 'ingest.decode', () => this.decode(req, take), { attributes: { 'firn.api': req.api, 'firn.tenant': tenant } });
    } catch (err) {
      this.countRejected(format, err);
      this.limits.countRejection(tenant, err);
      throw err;
    }
    const { partial, key } = decoded;
    const batch = decoded.batch ?? decoded.checked;
    if (batch.length === 0) {
      this.metrics.requests.inc({ source: format, outcome: 'empty' });
      return { rows: 0, duplicate: false, partial };
    }
    try {
      const append = await inSpan(
        this.tracer,
        'ingest.append',
        async (span) => {
          const res = await this.append(tenant, decoded.batch ? (decoded.encoded ?? samplesToArrow(decoded.batch)) : decoded.encoded, key);
          span.setAttributes({
            'firn.ingest.seq': res.seq,
            'firn.ingest.duplicate': res.duplicate,
            'firn.ingest.bytes': res.bytes,
            'firn.ingest.claim_check': res.claimCheck,
          });
          return res;
        },
        { attributes: { 'firn.tenant': tenant, 'firn.rows': batch.length } },
      );
      if (append.duplicate) {
        // A retry of a write that reached the log (its first answer was lost): stored once already.
        this.metrics.requests.inc({ source: format, outcome: 'duplicate' });
        this.log.debug({ api: req.api, source: format, seq: append.seq }, 'ingest retry recognised; not stored again');
        return { rows: batch.length, append, duplicate: true, partial };
      }
      this.metrics.requests.inc({ source: format, outcome: 'ok' });
      this.metrics.samples.inc({ source: format }, batch.length);
      this.metrics.bytes.inc({ source: format }, append.bytes);
      if (append.claimCheck) this.metrics.claimChecks.inc();
      this.log.debug({ api: req.api, source: format, rows: batch.length, bytes: append.bytes, seq: append.seq, claimCheck: append.claimCheck }, 'ingested');
      return { rows: batch.length, append, duplicate: false, partial };
    } catch (err) {
      const e = retryable(err);
      this.countRejected(format, e);
      throw e;
    }
  }

  /** Steps 1-4: admission, content encodings, the API's decoder, batch checks; and the request's idempotency key. */
  private async decode(req: IngestRequest, take: (bytes: number) => void): Promise<Decoded> {
    const { tenant, decoder } = req;
    const size = req.parts.reduce((n, p) => n + p.bytes.length, 0);
    const l = this.limits.admit(tenant, size, req.series ?? 0);
    const explicitKey = explicitIdempotencyKey(req.idempotencyKey);
    take(size);
    // What the client sent without the transport's encoding (the request's identity), and that
    // with gzip content inflated too (what decoders read).
    const received: IngestPart[] = [];
    const parts: IngestPart[] = [];
    for (const p of req.parts) {
      const body = await removeContentEncoding(p.bytes, p.contentEncoding, l.maxDecompressedBytes, p.what, take);
      const part = { ...p, bytes: body.received, contentEncoding: undefined };
      received.push(part);
      parts.push(body.content === body.received ? part : { ...part, bytes: body.content });
    }
    const ctx: DecodeContext = {
      limits: l,
      parser: this.limits.parserLimits(l),
      maxBytes: Math.min(this.opts.maxRequestBytes, l.maxProfileBytes),
      nowMs: Date.now(),
      params: req.params ?? {},
      gunzip: (bytes, what) => gunzipWithin(bytes, l.maxDecompressedBytes, what, take),
    };
    const decoded = await decoder.decode(parts, ctx);
    this.limits.checkBatch(tenant, decoded.batch ?? decoded.checked, l);
    return { ...decoded, key: requestIdentity(req.api, ctx.params, decoded.identity ?? received, explicitKey) };
  }

  private async append(tenant: TenantId, payload: Uint8Array, idempotencyKey: string): Promise<AppendResult> {
    await (this.streamReady ??= this.bus.ensureStream(ingestStreamSpec({ duplicateWindowMs: this.opts.dedupeWindowMs })).catch((err: unknown) => {
      this.streamReady = undefined;
      throw err;
    }));
    const end = this.metrics.appendSeconds.startTimer();
    const requestId = currentRequestContext()?.requestId ?? crypto.randomUUID();
    try {
      // The append span's context goes with the message: the ingester's decode and flush continue it.
      const res = await appendIngest(this.bus, this.store, { tenant, requestId, payload, idempotencyKey, headers: traceHeaders() });
      end();
      return res;
    } catch (err) {
      // After an outage the stream may have been recreated by a reader (an ingester leaves the
      // duplicate window at JetStream's 2-min default): set the dedupe window again on the next write.
      this.streamReady = undefined;
      throw err;
    }
  }

  private countRejected(format: IngestFormat, err: unknown): void {
    this.metrics.requests.inc({ source: format, outcome: err instanceof FirnError ? err.code : 'internal' });
  }
}

/**
 * A request that decoded fine but could not be appended (NATS down or full, object storage down
 * for a claim check, an ack that timed out) is worth retrying as it is: 503 / UNAVAILABLE with a
 * Retry-After, never the client's fault (429 would blame its rate). A retry of a write whose ack
 * was lost is recognised by its idempotency key.
 */
function retryable(err: unknown): unknown {
  if (!(err instanceof FirnError) || err.code === ErrorCode.InvalidArgument || err.code === ErrorCode.Internal) return err;
  return new FirnError(ErrorCode.Unavailable, `ingest log unavailable, retry later: ${err.message}`, {
    cause: err,
    details: { retry_after_seconds: APPEND_RETRY_AFTER_SECONDS },
  });
}

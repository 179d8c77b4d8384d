import { Inject, Injectable } from '@nestjs/common';
import type { Bus } from '@firn/bus';
import { FirnError } from '@firn/errors';
import { appendIngest, ingestStreamSpec, type AppendResult } from '@firn/ingest-log';
import { currentRequestContext, type Logger, type Registry } from '@firn/observability';
import { BUS, OBJECT_STORE } from '@firn/platform';
import { samplesToArrow, type SampleBatch } from '@firn/profiles';
import { LOGGER, METRICS } from '@firn/server-runtime';
import type { ObjectStore } from '@firn/storage';
import type { TenantId } from '@firn/tenancy';
import { IngestMetrics, type IngestSource } from './ingest.metrics';

/**
 * The one path every ingest API ends in: a validated, normalized SampleBatch for an
 * authenticated tenant becomes one durable entry in the ingest log. Success is reported only
 * after JetStream acknowledged it.
 */
@Injectable()
export class IngestService {
  private readonly metrics: IngestMetrics;
  private streamReady: Promise<void> | undefined;

  constructor(
    @Inject(BUS) private readonly bus: Bus,
    @Inject(OBJECT_STORE) private readonly store: ObjectStore,
    @Inject(LOGGER) private readonly log: Logger,
    @Inject(METRICS) registry: Registry,
  ) {
    this.metrics = new IngestMetrics(registry);
  }

  /**
   * `encoded`: the request's own firn.samples.v1 bytes when they decode to exactly `batch`
   * (validated, nothing truncated). Forwarding them skips re-encoding, which was a quarter of the
   * gateway's CPU for agent writes; the ingester decodes them with the same validating reader.
   */
  async ingest(tenant: TenantId, batch: SampleBatch, source: IngestSource, encoded?: Uint8Array): Promise<AppendResult | undefined> {
    try {
      if (batch.length === 0) {
        this.metrics.requests.inc({ source, outcome: 'empty' });
        return undefined;
      }
      await (this.streamReady ??= this.bus.ensureStream(ingestStreamSpec()).catch((err: unknown) => {
        this.streamReady = undefined;
        throw err;
      }));
      const payload = encoded ?? samplesToArrow(batch);
      const end = this.metrics.appendSeconds.startTimer();
      const requestId = currentRequestContext()?.requestId ?? crypto.randomUUID();
      const res = await appendIngest(this.bus, this.store, { tenant, requestId, payload });
      end();
      this.metrics.requests.inc({ source, outcome: 'ok' });
      this.metrics.samples.inc({ source }, batch.length);
      this.metrics.bytes.inc({ source }, payload.length);
      if (res.claimCheck) this.metrics.claimChecks.inc();
      this.log.debug({ source, rows: batch.length, bytes: payload.length, seq: res.seq, claimCheck: res.claimCheck }, 'ingested');
      return res;
    } catch (err) {
      this.metrics.requests.inc({ source, outcome: err instanceof FirnError ? err.code : 'internal' });
      throw err;
    }
  }

  countRejected(source: IngestSource, err: unknown): void {
    this.metrics.requests.inc({ source, outcome: err instanceof FirnError ? err.code : 'internal' });
  }
}

import type { Bus } from '@firn/bus';
import { traceHeaders, type Logger, type Registry } from '@firn/observability';
import type { Frame, SampleBatch } from '@firn/profiles';
import type { TenantId } from '@firn/tenancy';
import { isBuildId } from '../build-id';
import { SeenSet } from '../lru';
import { encodeJob, symbolizeStreamSpec, symbolizeSubject } from './symbolize-job';
import { SymbolizeQueueMetrics } from './symbolize-queue.metrics';

export interface SymbolizeQueueOptions {
  /** Off = the ingester queues nothing (e.g. no symbolizer deployed). */
  enabled: boolean;
  /** (tenant, build id, address) triples remembered as already queued. */
  seenEntries: number;
  /**
   * How long a queued triple is not queued again. After a debuginfo upload the symbolizer retries
   * its unresolved addresses itself; this bound only matters if that notice was lost.
   */
  seenTtlMs: number;
  /** Addresses per queue message (a message is one build id). */
  maxAddressesPerMessage: number;
}

export const DEFAULT_SYMBOLIZE_QUEUE_OPTIONS: SymbolizeQueueOptions = {
  enabled: true,
  seenEntries: 1_000_000,
  seenTtlMs: 60 * 60_000,
  maxAddressesPerMessage: 2000,
};

/**
 * The ingester's side of the pipeline: after a segment is stored, the addresses of its
 * unsymbolized frames that this process has not queued recently go to the symbolizer's work
 * queue, one message per build id. Never throws: symbolization must not fail or slow ingest
 * beyond the publish itself.
 */
export class SymbolizeQueue {
  private readonly seen: SeenSet<string>;
  /**
   * Per tenant, when each stack array was last looked at whole. The Arrow decoder shares one
   * array per distinct stack across every batch the process decodes, so a flush's stacks are
   * mostly ones an earlier flush looked at: those are skipped without visiting their frames until
   * seenTtlMs has passed (so a frame is queued again at most one age limit later than `seen`
   * alone would), or until a failed publish forgets the tenant's addresses.
   */
  private readonly stacksLookedAt = new Map<TenantId, WeakMap<readonly Frame[], number>>();
  private readonly metrics: SymbolizeQueueMetrics;
  private streamReady: Promise<void> | undefined;
  private lastWarnMs = 0;

  constructor(
    private readonly bus: Pick<Bus, 'publish' | 'ensureStream'>,
    private readonly log: Logger,
    registry: Registry,
    private readonly opts: SymbolizeQueueOptions = DEFAULT_SYMBOLIZE_QUEUE_OPTIONS,
  ) {
    this.seen = new SeenSet(opts.seenEntries, opts.seenTtlMs);
    this.metrics = new SymbolizeQueueMetrics(registry);
  }

  async enqueue(tenant: TenantId, batches: readonly SampleBatch[]): Promise<void> {
    if (!this.opts.enabled) return;
    const byBuild = new Map<string, bigint[]>();
    const now = Date.now();
    // Batches share one array per distinct stack and one object per distinct frame (the Arrow
    // decoder even shares them across batches), so each is looked at once per call, not once
    // per stack slot; equal frames that are distinct objects still meet in `seen`.
    const stacks = new Set<readonly Frame[]>();
    const frames = new Set<Frame>();
    const validBuildIds = new Map<string, boolean>();
    let lookedAt = this.stacksLookedAt.get(tenant);
    if (!lookedAt) this.stacksLookedAt.set(tenant, (lookedAt = new WeakMap()));
    for (const b of batches) {
      for (const stack of b.stacks) {
        if (stacks.has(stack)) continue;
        stacks.add(stack);
        const at = lookedAt.get(stack);
        if (at !== undefined && now - at < this.opts.seenTtlMs) continue;
        lookedAt.set(stack, now);
        for (const f of stack) {
          if (f.functionName !== '' || frames.has(f)) continue;
          frames.add(f);
          let valid = validBuildIds.get(f.buildId);
          if (valid === undefined) validBuildIds.set(f.buildId, (valid = isBuildId(f.buildId)));
          if (!valid) continue;
          const key = `${tenant}\u0000${f.buildId}\u0000${f.address}`;
          if (this.seen.has(key, now)) continue;
          this.seen.add(key, now);
          let list = byBuild.get(f.buildId);
          if (!list) byBuild.set(f.buildId, (list = []));
          list.push(f.address);
        }
      }
    }
    if (byBuild.size === 0) return;
    try {
      await (this.streamReady ??= this.bus.ensureStream(symbolizeStreamSpec()).catch((err: unknown) => {
        this.streamReady = undefined;
        throw err;
      }));
    } catch (err) {
      this.forget(tenant, byBuild);
      this.fail(err, byBuild.size);
      return;
    }
    const subject = symbolizeSubject(tenant);
    // The flush's trace context: the symbolizer's job span continues it.
    const headers = traceHeaders();
    for (const [buildId, addresses] of byBuild) {
      for (let i = 0; i < addresses.length; i += this.opts.maxAddressesPerMessage) {
        const part = addresses.slice(i, i + this.opts.maxAddressesPerMessage);
        try {
          await this.bus.publish(subject, encodeJob({ kind: 'addresses', buildId, addresses: part }), { headers });
          this.metrics.queued.inc(part.length);
        } catch (err) {
          // Forgotten so the next ingest of these frames queues them again.
          this.forget(tenant, new Map([[buildId, part]]));
          this.fail(err, 1);
        }
      }
    }
  }

  private forget(tenant: TenantId, byBuild: Map<string, bigint[]>): void {
    this.stacksLookedAt.delete(tenant);
    for (const [buildId, addresses] of byBuild) for (const a of addresses) this.seen.delete(`${tenant}\u0000${buildId}\u0000${a}`);
  }

  private fail(err: unknown, messages: number): void {
    this.metrics.failures.inc(messages);
    const now = Date.now();
    if (now - this.lastWarnMs < 10_000) return;
    this.lastWarnMs = now;
    this.log.warn({ err: err instanceof Error ? err.message : String(err) }, 'could not queue addresses for symbolization; ingest goes on');
  }
}

/** The gateway's notice that a tenant's upload completed, so the symbolizer retries that build id. */
export async function publishUploaded(bus: Pick<Bus, 'publish' | 'ensureStream'>, tenant: TenantId, buildId: string): Promise<void> {
  await bus.ensureStream(symbolizeStreamSpec());
  // The upload request's trace context: the symbolizer's retry of this build id continues it.
  await bus.publish(symbolizeSubject(tenant), encodeJob({ kind: 'uploaded', buildId }), { headers: traceHeaders() });
}

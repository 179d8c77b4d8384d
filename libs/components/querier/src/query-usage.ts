import { randomUUID } from 'node:crypto';
import { Inject, Injectable, Module, type DynamicModule, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import type { Bus } from '@firn/bus';
import {
  QueryMeter,
  QueryUsageStore,
  USAGE_KV_BUCKET,
  USAGE_SOURCE,
  manifestUsage,
  type QueryTotals,
  type TenantUsageFigures,
  type UsageReport,
  type UsageSource,
} from '@firn/insights';
import type { ManifestLog } from '@firn/manifest';
import type { Logger, Registry } from '@firn/observability';
import type { TenantId } from '@firn/tenancy';
import { BUS, MANIFEST_LOG } from '@firn/platform';
import { LOGGER, METRICS } from '@firn/server-runtime';
import { UsageMetrics, type UsageSample } from './usage.metrics';

const USAGE_OPTIONS = Symbol('firn.usage-options');

interface UsageOptions {
  /** How often totals go to NATS KV. */
  flushMs: number;
}

// A live querier rewrites its entries at least this often, so peers never fold them as stale.
const HEARTBEAT_MS = 3600_000;

/**
 * Per-tenant usage metering on the querier: counts queries and their CPU (QueryMeter, fed by
 * QueryLimits' interceptor around every public query), flushes the totals to the NATS KV bucket
 * FIRN_USAGE every FIRN_USAGE_FLUSH_MS and on shutdown (where they move into the durable base),
 * and reports usage from durable state only: the manifest for ingest and storage, the KV bucket
 * for queries. So the figures after a restart are the figures before it plus new traffic.
 */
@Injectable()
export class QueryUsage implements OnModuleInit, OnApplicationShutdown, UsageSource {
  readonly meter = new QueryMeter();
  private store: QueryUsageStore | undefined;
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();
  private readonly published = new Map<TenantId, { totals: QueryTotals; atMs: number }>();
  /** KV totals as of the last flush (what /metrics shows between flushes). */
  private durable = new Map<TenantId, QueryTotals>();

  constructor(
    @Inject(BUS) private readonly bus: Bus | null,
    @Inject(MANIFEST_LOG) private readonly manifest: ManifestLog,
    @Inject(USAGE_OPTIONS) private readonly opts: UsageOptions,
    @Inject(LOGGER) private readonly log: Logger,
    @Inject(METRICS) registry: Registry,
  ) {
    new UsageMetrics(registry, () => this.samples());
  }

  async onModuleInit(): Promise<void> {
    if (!this.bus) return;
    const kv = await this.bus.ensureKv(USAGE_KV_BUCKET, { history: 1 });
    this.store = new QueryUsageStore({ kv, instanceId: `querier-${randomUUID()}`, staleMs: Math.max(24 * 3600_000, 10 * this.opts.flushMs) });
    this.durable = await this.store.read();
    this.timer = setInterval(() => void this.flush(), this.opts.flushMs);
    this.timer.unref();
  }

  /** After in-flight queries drained: flush, then hand this instance's totals to the durable base. */
  async onApplicationShutdown(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.flush();
    try {
      await this.store?.retire(this.meter.totals().keys());
    } catch (err) {
      this.log.warn({ err }, 'could not retire query usage at shutdown; the last flush stands');
    }
  }

  /** Writes changed totals (and hourly heartbeats) to KV; one flush at a time. */
  flush(): Promise<void> {
    this.flushing = this.flushing.then(async () => {
      if (!this.store) return;
      const now = Date.now();
      const changed = new Map<TenantId, QueryTotals>();
      for (const [t, v] of this.meter.totals()) {
        const p = this.published.get(t);
        if (!p || p.totals.queries !== v.queries || p.totals.cpuMicros !== v.cpuMicros || now - p.atMs > HEARTBEAT_MS) changed.set(t, v);
      }
      try {
        if (changed.size > 0) await this.store.publish(changed);
        for (const [t, v] of changed) this.published.set(t, { totals: v, atMs: now });
        this.durable = await this.store.read();
      } catch (err) {
        this.log.warn({ err }, 'could not flush query usage to NATS KV; will retry');
      }
    });
    return this.flushing;
  }

  async usage(tenants?: readonly TenantId[]): Promise<UsageReport> {
    await this.flush();
    const view = this.manifest.state;
    const names = tenants && tenants.length > 0 ? [...new Set(tenants)].sort() : [...new Set([...view.tenants(), ...this.durable.keys()])].sort();
    const usage = names.map((tenant): TenantUsageFigures => {
      const q = this.durable.get(tenant) ?? { queries: 0, cpuMicros: 0 };
      return { tenant, ...manifestUsage(view, tenant), queries: q.queries, queryCpuMicros: q.cpuMicros };
    });
    return { usage, manifestSeq: this.manifest.lastAppliedSeq, asOfMs: Date.now() };
  }

  private cached: { seq: number; durable: Map<TenantId, QueryTotals>; samples: UsageSample[] } | undefined;

  /**
   * Every usage metric's collect asks, so one scrape would walk the tenant's segments eight
   * times; the figures only change when the manifest applies a delta or a flush re-reads KV.
   */
  private samples(): UsageSample[] {
    const seq = this.manifest.lastAppliedSeq;
    if (this.cached?.seq === seq && this.cached.durable === this.durable) return this.cached.samples;
    const samples = this.computeSamples();
    this.cached = { seq, durable: this.durable, samples };
    return samples;
  }

  private computeSamples(): UsageSample[] {
    const view = this.manifest.state;
    const names = [...new Set([...view.tenants(), ...this.durable.keys()])].sort();
    return names.map((tenant) => {
      const m = manifestUsage(view, tenant);
      const q = this.durable.get(tenant) ?? { queries: 0, cpuMicros: 0 };
      return {
        tenant,
        ingestedSamples: Number(m.ingestedSamples),
        ingestedRows: Number(m.ingestedRows),
        ingestedBytes: Number(m.ingestedBytes),
        ingestedSegmentBytes: Number(m.ingestedSegmentBytes),
        storedBytes: Number(m.storedBytes),
        storedSamples: Number(m.storedSamples),
        queries: q.queries,
        queryCpuSeconds: q.cpuMicros / 1e6,
      };
    });
  }
}

/**
 * Usage metering as a global module: QueryLimits (querier) meters every query through QueryUsage,
 * and the admin usage API (AdminUsageModule) reads USAGE_SOURCE, wherever it is wired.
 */
@Module({})
export class UsageMeterModule {
  static forRoot(opts: UsageOptions): DynamicModule {
    return {
      module: UsageMeterModule,
      global: true,
      providers: [{ provide: USAGE_OPTIONS, useValue: opts }, QueryUsage, { provide: USAGE_SOURCE, useExisting: QueryUsage }],
      exports: [QueryUsage, USAGE_SOURCE],
    };
  }
}

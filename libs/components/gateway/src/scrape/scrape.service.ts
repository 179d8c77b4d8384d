import { readFile, stat } from 'node:fs/promises';
import { Inject, Injectable, type BeforeApplicationShutdown, type OnApplicationBootstrap } from '@nestjs/common';
import type { Tracer } from '@opentelemetry/api';
import type { Bus } from '@firn/bus';
import { inSpan, type Logger, type Registry } from '@firn/observability';
import { BUS } from '@firn/platform';
import { ScrapeCoordinator, Scraper, parseScrapeConfig, type DroppedTarget, type ScrapeConfig, type TargetStatus } from '@firn/scrape';
import { LOGGER, METRICS, TRACER } from '@firn/server-runtime';
import type { TenantId } from '@firn/tenancy';
import { ScrapeDecoder } from '../ingest/decoders/scrape.decoder';
import { IngestPipeline } from '../ingest/ingest-pipeline';
import { ScrapeMetrics } from './scrape.metrics';
import { SCRAPE_OPTIONS, type ScrapeOptions } from './scrape.options';

const RELOAD_MS = 10_000;
/** A replica counts as gone this long after its last heartbeat (5 s apart). */
const MEMBER_TTL_MS = 20_000;

/**
 * The scraper role of the gateway: when a scrape config file is set, scrapes the targets this
 * replica owns and hands every profile to the ingest pipeline under the job's tenant, like any
 * other ingest API. The file is re-read when it changes (a broken edit keeps the running config).
 */
@Injectable()
export class ScrapeService implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly metrics: ScrapeMetrics;
  private scraper: Scraper | undefined;
  private coordinator: ScrapeCoordinator | undefined;
  private reloadTimer: NodeJS.Timeout | undefined;
  private loadedMtimeMs = 0;

  constructor(
    @Inject(SCRAPE_OPTIONS) private readonly opts: ScrapeOptions,
    @Inject(BUS) private readonly bus: Bus,
    @Inject(LOGGER) private readonly log: Logger,
    @Inject(METRICS) registry: Registry,
    private readonly pipeline: IngestPipeline,
    @Inject(TRACER) private readonly tracer: Tracer,
  ) {
    this.metrics = new ScrapeMetrics(registry);
  }

  get enabled(): boolean {
    return this.opts.configFile !== '';
  }

  async onApplicationBootstrap(): Promise<void> {
    if (!this.enabled) return;
    // A broken file at start-up stops the process with the reason (config errors fail fast).
    const jobs = await this.readConfig();
    await this.run(jobs);
    this.reloadTimer = setInterval(() => void this.reload(), RELOAD_MS);
  }

  async beforeApplicationShutdown(): Promise<void> {
    clearInterval(this.reloadTimer);
    await this.scraper?.stop();
    this.scraper = undefined;
  }

  /** Targets of one tenant, with their health, and the ones relabeling dropped. */
  async targets(tenant: TenantId): Promise<{ enabled: boolean; active: TargetStatus[]; dropped: DroppedTarget[] }> {
    if (!this.scraper) return { enabled: this.enabled, active: [], dropped: [] };
    const { active, dropped } = await this.scraper.listTargets();
    const jobs = new Set(active.filter((t) => t.tenant === tenant).map((t) => t.job));
    return { enabled: true, active: active.filter((t) => t.tenant === tenant), dropped: dropped.filter((d) => jobs.has(d.job)) };
  }

  private async readConfig(): Promise<ScrapeConfig[]> {
    const st = await stat(this.opts.configFile);
    const jobs = parseScrapeConfig(await readFile(this.opts.configFile, 'utf8'));
    this.loadedMtimeMs = st.mtimeMs;
    return jobs;
  }

  private async reload(): Promise<void> {
    try {
      const st = await stat(this.opts.configFile);
      if (st.mtimeMs === this.loadedMtimeMs) return;
      const jobs = await this.readConfig();
      await this.scraper?.stop();
      await this.run(jobs);
      this.log.info({ jobs: jobs.map((j) => j.jobName) }, 'scrape config reloaded');
    } catch (err) {
      this.log.error({ err, file: this.opts.configFile }, 'scrape config not reloaded; the running config stays');
    }
  }

  private async run(jobs: ScrapeConfig[]): Promise<void> {
    // A lease outlives the longest scrape (a CPU profile over the whole interval, plus the timeout).
    const leaseTtlMs = Math.max(60_000, ...jobs.map((j) => 3 * (j.intervalMs + j.timeoutMs)));
    this.coordinator = await ScrapeCoordinator.open(this.bus, { replicaId: this.opts.replicaId, memberTtlMs: MEMBER_TTL_MS, leaseTtlMs });
    this.scraper = new Scraper({
      jobs,
      coordinator: this.coordinator,
      log: this.log,
      observer: this.metrics,
      kubernetesEnv: this.opts.kubernetesEnv,
      maxBodyBytes: Math.max(...jobs.map((j) => this.pipeline.maxBodyBytes(j.tenant)), 1),
      // No request to continue: each scraped profile's ingest is a trace of its own.
      sink: (target, profile, body, transform) =>
        inSpan(
          this.tracer,
          'scrape.ingest',
          async () => {
            await this.pipeline.accept({
              tenant: target.tenant,
              api: 'scrape',
              parts: [{ what: `${target.baseUrl}${profile.path}`, bytes: body }],
              decoder: new ScrapeDecoder(profile.name, target.labels, transform),
            });
          },
          { attributes: { 'firn.tenant': target.tenant, 'firn.scrape.profile': profile.name } },
        ),
    });
    this.scraper.start();
    this.log.info({ jobs: jobs.map((j) => j.jobName), replica: this.opts.replicaId }, 'scraping');
  }
}

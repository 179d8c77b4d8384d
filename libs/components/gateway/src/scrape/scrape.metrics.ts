import { Counter, Gauge, Histogram, metricName, type Registry } from '@firn/observability';
import type { ProfileEndpoint, ScrapeObserver, ScrapeOutcome, Target } from '@firn/scrape';

/** Scraper metrics; `instance` is bounded by the configured targets, as in Prometheus' `up`. */
export class ScrapeMetrics implements ScrapeObserver {
  private readonly up: Gauge<'job' | 'instance'>;
  private readonly scrapes: Counter<'job' | 'profile' | 'outcome'>;
  private readonly duration: Histogram<'job' | 'profile'>;
  private readonly discovered: Gauge<'job'>;
  private readonly owned: Gauge<'job'>;

  constructor(registry: Registry) {
    this.up = new Gauge({
      name: metricName('gateway', 'scrape_target_up'),
      help: '1 when the last scrape of every profile of the target succeeded, 0 when one failed (targets this replica scrapes).',
      labelNames: ['job', 'instance'],
      registers: [registry],
    });
    this.scrapes = new Counter({
      name: metricName('gateway', 'scrapes_total'),
      help: 'Profile scrapes by job, profile and outcome.',
      labelNames: ['job', 'profile', 'outcome'],
      registers: [registry],
    });
    this.duration = new Histogram({
      name: metricName('gateway', 'scrape_duration_seconds'),
      help: 'Time to fetch one profile (a CPU profile takes its whole window).',
      labelNames: ['job', 'profile'],
      buckets: [0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60],
      registers: [registry],
    });
    this.discovered = new Gauge({
      name: metricName('gateway', 'scrape_targets_discovered'),
      help: 'Targets discovered for the job after relabeling.',
      labelNames: ['job'],
      registers: [registry],
    });
    this.owned = new Gauge({
      name: metricName('gateway', 'scrape_targets_owned'),
      help: 'Targets of the job this replica currently scrapes.',
      labelNames: ['job'],
      registers: [registry],
    });
  }

  scraped(t: Target, p: ProfileEndpoint, outcome: ScrapeOutcome, seconds: number): void {
    this.scrapes.inc({ job: t.job, profile: p.name, outcome });
    this.duration.observe({ job: t.job, profile: p.name }, seconds);
  }

  health(t: Target, up: boolean): void {
    this.up.set({ job: t.job, instance: instanceOf(t) }, up ? 1 : 0);
  }

  forget(t: Target): void {
    this.up.remove({ job: t.job, instance: instanceOf(t) });
  }

  targets(job: string, discovered: number, owned: number): void {
    this.discovered.set({ job }, discovered);
    this.owned.set({ job }, owned);
  }
}

function instanceOf(t: Target): string {
  return t.labels.find(([k]) => k === 'instance')?.[1] ?? t.baseUrl;
}

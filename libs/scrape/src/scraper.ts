import type { Lease } from '@firn/bus';
import type { Logger } from '@firn/observability';
import type { SampleBatch } from '@firn/profiles';
import type { ScrapeCoordinator, TargetStatus } from './coordinator';
import { CumulativeDeltas } from './delta';
import { FileDiscoverer, KubernetesDiscoverer, StaticDiscoverer, type Discoverer, type TargetGroup } from './discovery';
import type { ProfileEndpoint, ScrapeConfig } from './scrape-config';
import { buildTargets, type DroppedTarget, type Target } from './targets';

/** Where scraped profiles go: the gateway's ingest pipeline, under the target's tenant. */
export type ScrapeSink = (target: Target, profile: ProfileEndpoint, body: Uint8Array, transform: (b: SampleBatch) => SampleBatch) => Promise<void>;

export type ScrapeOutcome = 'ok' | 'http_error' | 'unreachable' | 'timeout' | 'too_large' | 'rejected' | 'lost_lease';

/** Metrics hooks (the gateway's scrape metrics). */
export interface ScrapeObserver {
  scraped(target: Target, profile: ProfileEndpoint, outcome: ScrapeOutcome, seconds: number): void;
  health(target: Target, up: boolean): void;
  forget(target: Target): void;
  targets(job: string, discovered: number, owned: number): void;
}

export interface ScraperOptions {
  jobs: ScrapeConfig[];
  coordinator: ScrapeCoordinator;
  sink: ScrapeSink;
  log: Logger;
  observer?: ScrapeObserver;
  /** Largest profile body read from a target. */
  maxBodyBytes: number;
  /** Kubernetes in-cluster address (KUBERNETES_SERVICE_HOST/PORT), read at the entry point. */
  kubernetesEnv?: { host?: string; port?: string };
  heartbeatMs?: number;
  tickMs?: number;
}

interface TargetState {
  target: Target;
  nextDueMs: number;
  lease?: Lease;
  running?: Promise<void>;
  status: TargetStatus;
}

interface JobState {
  job: ScrapeConfig;
  discoverers: Array<{ d: Discoverer; nextMs: number; groups: TargetGroup[] }>;
  dropped: DroppedTarget[];
}

/**
 * Pull-mode profiling: discovers targets (static, file, Kubernetes pods), relabels them, and
 * scrapes the Go `net/http/pprof` endpoints of the targets this replica owns (see
 * ScrapeCoordinator) every scrape interval: a CPU profile over the interval
 * (`/debug/pprof/profile?seconds=interval-1`) and snapshots of the others, cumulative ones
 * turned into deltas. Each scrape's start is spread over the interval by a hash of the target, so
 * a thousand targets do not fire at once.
 */
export class Scraper {
  private readonly jobs: JobState[];
  private readonly states = new Map<string, TargetState>();
  private readonly deltas = new CumulativeDeltas();
  private timer: NodeJS.Timeout | undefined;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private stopping = false;
  private ticking: Promise<void> | undefined;

  constructor(private readonly opts: ScraperOptions) {
    this.jobs = opts.jobs.map((job) => ({
      job,
      dropped: [],
      discoverers: [
        ...(job.staticConfigs.length ? [new StaticDiscoverer(job.staticConfigs)] : []),
        ...job.fileSdConfigs.map((c) => new FileDiscoverer(c)),
        ...job.kubernetesSdConfigs.map((c) => new KubernetesDiscoverer(c, opts.kubernetesEnv)),
      ].map((d) => ({ d, nextMs: 0, groups: [] as TargetGroup[] })),
    }));
  }

  start(): void {
    const tick = (): void => {
      if (this.stopping) return;
      this.ticking = this.tick()
        .catch((err: unknown) => this.opts.log.warn({ err }, 'scrape scheduling failed'))
        .finally(() => {
          if (!this.stopping) this.timer = setTimeout(tick, this.opts.tickMs ?? 500);
        });
    };
    tick();
    this.heartbeatTimer = setInterval(() => {
      this.opts.coordinator.heartbeat().catch((err: unknown) => this.opts.log.warn({ err }, 'scrape heartbeat failed'));
    }, this.opts.heartbeatMs ?? 5000);
  }

  /** Stops scheduling, lets running scrapes finish, releases every lease and leaves the member set. */
  async stop(): Promise<void> {
    this.stopping = true;
    clearTimeout(this.timer);
    clearInterval(this.heartbeatTimer);
    await this.ticking;
    await Promise.all([...this.states.values()].map((s) => s.running));
    await Promise.all([...this.states.values()].map((s) => (s.lease ? this.opts.coordinator.release(s.lease).catch(() => undefined) : undefined)));
    await this.opts.coordinator.leave();
  }

  /** Targets this replica discovered (active and dropped), with the last known status of each. */
  async listTargets(): Promise<{ active: TargetStatus[]; dropped: DroppedTarget[] }> {
    const shared = new Map((await this.opts.coordinator.statuses()).map((s) => [s.id, s]));
    const active = [...this.states.values()].map((s) => {
      const remote = shared.get(s.target.id);
      return remote && remote.lastScrapeMs >= s.status.lastScrapeMs ? remote : s.status;
    });
    return { active, dropped: this.jobs.flatMap((j) => j.dropped) };
  }

  private async tick(): Promise<void> {
    const now = Date.now();
    await this.discover(now);
    const owned = new Map<string, number>();
    for (const s of this.states.values()) {
      if (s.lease) owned.set(s.target.job, (owned.get(s.target.job) ?? 0) + 1);
      if (s.running || now < s.nextDueMs) continue;
      s.nextDueMs = Math.max(s.nextDueMs + s.target.intervalMs, now + 1);
      await this.claim(s);
      if (s.lease) s.running = this.scrape(s).finally(() => (s.running = undefined));
    }
    for (const j of this.jobs) {
      this.opts.observer?.targets(j.job.jobName, [...this.states.values()].filter((s) => s.target.job === j.job.jobName).length, owned.get(j.job.jobName) ?? 0);
    }
  }

  /** Takes, keeps or hands over the target's lease; leaves `s.lease` set iff this replica should scrape now. */
  private async claim(s: TargetState): Promise<void> {
    const c = this.opts.coordinator;
    const preferred = c.preferred(s.target.id);
    try {
      if (s.lease) {
        if (preferred !== c.replicaId) {
          // Hand over: the preferred replica takes the lease once we let go.
          await c.release(s.lease);
          s.lease = undefined;
          return;
        }
        s.lease = await c.renew(s.lease);
      } else if (preferred === c.replicaId) {
        s.lease = await c.tryAcquire(s.target.id);
      }
    } catch (err) {
      this.opts.log.warn({ err, job: s.target.job, target: s.target.baseUrl }, 'scrape lease not renewed; skipping this scrape');
      s.lease = undefined;
    }
  }

  private async discover(now: number): Promise<void> {
    let changed = false;
    for (const j of this.jobs) {
      for (const d of j.discoverers) {
        if (now < d.nextMs) continue;
        d.nextMs = now + d.d.refreshMs;
        d.groups = await d.d.groups();
        changed = true;
        const why = (d.d as { lastError?: string }).lastError;
        if (why) this.opts.log.warn({ job: j.job.jobName, error: why }, 'scrape discovery failed; keeping the last targets');
      }
    }
    if (!changed) return;
    const seen = new Set<string>();
    for (const j of this.jobs) {
      const { active, dropped } = buildTargets(
        j.job,
        j.discoverers.flatMap((d) => d.groups),
      );
      j.dropped = dropped;
      for (const t of active) {
        seen.add(t.id);
        if (this.states.has(t.id)) continue;
        const offset = Number.parseInt(t.id.slice(0, 8), 16) % t.intervalMs;
        this.states.set(t.id, {
          target: t,
          nextDueMs: now + offset,
          status: {
            id: t.id,
            job: t.job,
            tenant: t.tenant,
            url: t.baseUrl,
            labels: Object.fromEntries(t.labels),
            health: 'unknown',
            owner: '',
            lastScrapeMs: 0,
            lastDurationMs: 0,
            lastError: '',
          },
        });
      }
    }
    for (const [id, s] of this.states) {
      if (seen.has(id)) continue;
      this.states.delete(id);
      this.opts.observer?.forget(s.target);
      const release = async (): Promise<void> => {
        await s.running;
        if (s.lease) await this.opts.coordinator.release(s.lease).catch(() => undefined);
      };
      void release();
    }
    this.deltas.retain((key) => this.states.has(key.split('\u0000')[0]));
  }

  private async scrape(s: TargetState): Promise<void> {
    const t = s.target;
    const started = Date.now();
    const fetched = await Promise.all(t.profiles.map((p) => this.fetchProfile(t, p)));
    let errors = fetched.filter((f) => f.outcome !== 'ok').map((f) => `${f.profile.name}: ${f.error}`);
    // Fencing: if another replica took the target meanwhile, its scrape overlapped ours; keep theirs.
    const lease = s.lease;
    if (!lease || !(await this.opts.coordinator.isHeld(lease).catch(() => false))) {
      for (const f of fetched) this.opts.observer?.scraped(t, f.profile, 'lost_lease', f.seconds);
      s.lease = undefined;
      return;
    }
    for (const f of fetched) {
      let outcome = f.outcome;
      if (f.body) {
        try {
          await this.opts.sink(t, f.profile, f.body, (b) => this.deltas.apply(`${t.id}\u0000${f.profile.name}`, b));
        } catch (err) {
          outcome = 'rejected';
          errors.push(`${f.profile.name}: ${(err as Error).message}`);
        }
      }
      this.opts.observer?.scraped(t, f.profile, outcome, f.seconds);
    }
    errors = errors.slice(0, 5);
    const up = errors.length === 0;
    this.opts.observer?.health(t, up);
    s.status = {
      ...s.status,
      health: up ? 'up' : 'down',
      owner: this.opts.coordinator.replicaId,
      lastScrapeMs: started,
      lastDurationMs: Date.now() - started,
      lastError: errors.join('; '),
    };
    await this.opts.coordinator.putStatus(s.status).catch((err: unknown) => this.opts.log.debug({ err }, 'scrape status not shared'));
    if (!up) this.opts.log.debug({ job: t.job, target: t.baseUrl, errors }, 'scrape failed');
  }

  private async fetchProfile(
    t: Target,
    p: ProfileEndpoint,
  ): Promise<{ profile: ProfileEndpoint; outcome: ScrapeOutcome; seconds: number; body?: Uint8Array; error?: string }> {
    const started = process.hrtime.bigint();
    const seconds = () => Number(process.hrtime.bigint() - started) / 1e9;
    const windowS = p.seconds ? Math.max(1, Math.floor(t.intervalMs / 1000) - 1) : 0;
    const url = `${t.baseUrl}${p.path}${p.seconds ? `?seconds=${windowS}` : ''}`;
    try {
      const res = await fetch(url, {
        signal: AbortSignal.timeout(windowS * 1000 + t.timeoutMs),
        headers: { accept: 'application/octet-stream', 'user-agent': `firn-scraper (replica ${this.opts.coordinator.replicaId})` },
      });
      if (res.status !== 200) {
        await res.body?.cancel();
        return { profile: p, outcome: 'http_error', seconds: seconds(), error: `HTTP ${res.status} from ${url}` };
      }
      const body = await readCapped(res, this.opts.maxBodyBytes);
      if (!body) return { profile: p, outcome: 'too_large', seconds: seconds(), error: `body larger than ${this.opts.maxBodyBytes} bytes from ${url}` };
      return { profile: p, outcome: 'ok', seconds: seconds(), body };
    } catch (err) {
      const e = err as Error & { cause?: { code?: string } };
      const timeout = e.name === 'TimeoutError' || e.name === 'AbortError';
      return {
        profile: p,
        outcome: timeout ? 'timeout' : 'unreachable',
        seconds: seconds(),
        error: `${url}: ${timeout ? 'timed out' : (e.cause?.code ?? e.message)}`,
      };
    }
  }
}

async function readCapped(res: Response, max: number): Promise<Uint8Array | undefined> {
  const declared = Number(res.headers.get('content-length') ?? NaN);
  if (declared > max) {
    await res.body?.cancel();
    return undefined;
  }
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    size += chunk.length;
    if (size > max) return undefined;
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, size);
}

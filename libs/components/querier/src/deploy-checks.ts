import { readFile } from 'node:fs/promises';
import { Inject, Injectable, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { toJson } from '@bufbuild/protobuf';
import { isCasConflict, type Bus, type BusKv } from '@firn/bus';
import { FirnError } from '@firn/errors';
import {
  knownAfterReport,
  labelSightings,
  latestDeploy,
  parseDeployChecks,
  shouldClaim,
  type DeployCheck,
  type DeployClaim,
  type DeployComparison,
} from '@firn/insights';
import type { ManifestLog } from '@firn/manifest';
import type { Logger, Registry } from '@firn/observability';
import { BUS, MANIFEST_LOG } from '@firn/platform';
import { formatProfileType, parseSelector, withMatcher } from '@firn/profiles';
import { firnInsightsV1 } from '@firn/proto';
import { LOGGER, METRICS } from '@firn/server-runtime';
import { InsightsService } from './insights.service';
import { regressionMessage } from './insights.rpc';
import { DeployCheckMetrics } from './querier.metrics';
import { QUERIER_OPTIONS, type QuerierOptions } from './querier.options';

export const DEPLOY_CHECKS_BUCKET = 'FIRN_DEPLOY_CHECKS';

const encode = (c: DeployClaim) => Buffer.from(JSON.stringify(c));

/** An unreadable record counts as none: the worst outcome is one report sent again. */
function decode(bytes: Uint8Array): DeployClaim | undefined {
  try {
    const c = JSON.parse(Buffer.from(bytes).toString('utf8')) as DeployClaim;
    return typeof c?.target === 'string' ? c : undefined;
  } catch {
    return undefined;
  }
}

const CLAIM_STALE_MS = 5 * 60_000;
const LOOKBACK_MS = 7 * 86_400_000;

/**
 * Scheduled regression checks per service (`--deploy-checks-file`): every interval, for each
 * check, the manifest's label summaries tell when each value of the check's label (e.g.
 * `version`) first appeared; once the newest has run for `settle`, its first `window` is compared
 * with the previous value's last `window` and the report is POSTed (JSON) to the check's webhook.
 * Any number of queriers may run this: a compare-and-set claim in the NATS KV bucket
 * FIRN_DEPLOY_CHECKS makes one of them report each deploy once (a failed POST releases the claim,
 * so the next round retries; a claim left by a crashed querier expires after 5 minutes). The
 * record also keeps the values already reported, so a deploy whose first sighting compaction
 * later coarsens is never reported again, nor the other way round.
 */
@Injectable()
export class DeployChecks implements OnModuleInit, OnApplicationShutdown {
  private checks: DeployCheck[] = [];
  private kv: BusKv | undefined;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private readonly owner = `querier-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  private readonly metrics: DeployCheckMetrics;

  constructor(
    private readonly insights: InsightsService,
    @Inject(MANIFEST_LOG) private readonly manifest: ManifestLog,
    @Inject(BUS) private readonly bus: Bus | null,
    @Inject(QUERIER_OPTIONS) private readonly opts: QuerierOptions,
    @Inject(LOGGER) private readonly log: Logger,
    @Inject(METRICS) registry: Registry,
  ) {
    this.metrics = new DeployCheckMetrics(registry);
  }

  async onModuleInit(): Promise<void> {
    const file = this.opts.insights?.deployChecksFile;
    if (!file) return;
    this.checks = parseDeployChecks(await readFile(file, 'utf8'), file);
    if (!this.bus) throw new FirnError('failed_precondition', 'deploy checks need NATS (FIRN_NATS_URL)');
    this.kv = await this.bus.ensureKv(DEPLOY_CHECKS_BUCKET, { history: 1 });
    this.timer = setInterval(() => void this.tick(), this.opts.insights?.deployCheckIntervalMs ?? 60_000);
    this.timer.unref();
    this.log.info({ file, checks: this.checks.length }, 'deploy checks loaded');
  }

  async onApplicationShutdown(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.running;
  }

  /** One round over every check (exposed for tests; normally driven by the timer). */
  tick(): Promise<void> {
    this.running ??= (async () => {
      for (const c of this.checks) {
        try {
          await this.check(c, Date.now());
        } catch (err) {
          this.metrics.reports.inc({ outcome: 'failed' });
          this.log.warn({ err, check: c.name, tenant: c.tenant }, 'deploy check failed; retrying next round');
        }
      }
      this.metrics.rounds.inc();
    })().finally(() => (this.running = undefined));
    return this.running;
  }

  private async check(c: DeployCheck, nowMs: number): Promise<void> {
    const kv = this.kv;
    if (!kv) return; // checks run only once the bucket is open (onModuleInit)
    const { tenant } = c;
    const sel = parseSelector(c.query);
    const segments = this.manifest.state.segmentsOverlapping(tenant, {
      startMs: nowMs - LOOKBACK_MS,
      endMs: nowMs,
      profileType: formatProfileType(sel.profileType),
      matchers: sel.matchers,
    });
    const sightings = labelSightings(
      segments.map((s) => ({ minMs: Number(s.meta.minTimeUnixNano / 1_000_000n), maxMs: Number(s.meta.maxTimeUnixNano / 1_000_000n), labels: s.meta.labels })),
      c.label,
    );
    const key = `${c.tenant}.${c.name}`;
    const cur = await kv.get(key);
    const claim = cur ? decode(cur.value) : undefined;
    const deploy = latestDeploy(sightings, nowMs, c, new Set(claim?.known ?? []));
    if (!deploy || !shouldClaim(claim, deploy.target.value, nowMs, CLAIM_STALE_MS)) return;
    const mine: DeployClaim = { target: deploy.target.value, state: 'sending', atMs: nowMs, owner: this.owner, known: claim?.known ?? [] };
    let revision: number;
    try {
      revision = cur ? await kv.update(key, encode(mine), cur.revision) : await kv.create(key, encode(mine));
    } catch (err) {
      if (isCasConflict(err)) return; // another querier claimed it first
      throw err;
    }
    try {
      await this.send(c, deploy);
    } catch (err) {
      // Release the claim so the next round (here or on another querier) retries at once.
      await kv.update(key, encode({ ...mine, state: 'failed', atMs: Date.now() }), revision).catch(() => undefined);
      throw err;
    }
    await kv
      .update(key, encode({ ...mine, state: 'sent', atMs: Date.now(), known: knownAfterReport(claim, sightings, deploy) }), revision)
      .catch((err: unknown) => this.log.warn({ err, check: c.name, tenant: c.tenant }, 'deploy report sent but not recorded; it may be sent again'));
    this.metrics.reports.inc({ outcome: 'sent' });
    this.log.info({ check: c.name, tenant: c.tenant, from: deploy.baseline.value, to: deploy.target.value }, 'deploy regression report sent');
  }

  private async send(c: DeployCheck, d: DeployComparison): Promise<void> {
    const withValue = (v: string) => withMatcher(c.query, c.label, v);
    const signal = AbortSignal.timeout(120_000);
    const report = await this.insights.regression(
      c.tenant,
      { selector: withValue(d.baseline.value), startMs: d.baseline.startMs, endMs: d.baseline.endMs },
      { selector: withValue(d.target.value), startMs: d.target.startMs, endMs: d.target.endMs },
      { alpha: 0, minRelativeChange: 0, limit: 0, normalization: 'total', correction: 'holm' },
      signal,
    );
    const body = {
      check: c.name,
      tenant: c.tenant,
      label: c.label,
      baseline: { value: d.baseline.value, start: new Date(d.baseline.startMs).toISOString(), end: new Date(d.baseline.endMs).toISOString() },
      target: { value: d.target.value, start: new Date(d.target.startMs).toISOString(), end: new Date(d.target.endMs).toISOString() },
      report: toJson(firnInsightsV1.CompareRegressionResponseSchema, regressionMessage(report)),
    };
    const res = await fetch(c.webhook, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(30_000),
    });
    if (!res.ok) throw FirnError.unavailable(`webhook ${c.webhook} answered HTTP ${res.status}`);
  }
}

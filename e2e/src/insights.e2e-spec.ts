import { spawnSync } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import { Code, ConnectError, createClient } from '@connectrpc/connect';
import { createConnectTransport, createGrpcTransport } from '@connectrpc/connect-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SampleBatchBuilder, samplesToArrow, type Frame } from '@firn/profiles';
import { firnAdminUsageV1, firnInsightsV1, profilestoreV1alpha1 } from '@firn/proto';
import { metricValue, startNats, startS3Server, type S3Server, type TestNats } from '@firn/testing';
import { ROOT, startApp, type RunningApp } from './support/apps';
import { CPU_TYPE } from './support/profiles-data';
import { bearer, makeTokens, s3Env } from './support/write-path';

const I = firnInsightsV1;
const ADMIN = 'insights-e2e-admin-secret-0123456789abcdef';
const HZ19 = 52_631_579n;

function fn(name: string): Frame {
  return { buildId: '', mappingFile: '/srv/shop', address: 0n, functionName: name, fileName: `${name}.c`, line: 1, inlined: false };
}

interface Rows {
  labels: Array<[string, string]>;
  periodNs: bigint;
  stacks: Array<[Frame[], number]>;
}

function batchOf(rows: Rows[], tsMs: number): Uint8Array {
  const b = new SampleBatchBuilder();
  const pt = b.addProfileType(CPU_TYPE);
  for (const r of rows) {
    const series = b.addSeries(r.labels);
    for (const [stack, n] of r.stacks) b.addRow(pt, series, b.addStack(stack), n, tsMs, 10_000_000_000, Number(r.periodNs));
  }
  return samplesToArrow(b.build());
}

/** 30 functions at 2000 samples each; in `bumped`, `compress` has 25 % more. */
function versionRows(version: string, bumped: boolean): Rows {
  const stacks: Array<[Frame[], number]> = Array.from({ length: 30 }, (_, i) => {
    const name = i === 7 ? 'compress' : `work_${i}`;
    return [[fn(name), fn('handle'), fn('main')], name === 'compress' && bumped ? 2500 : 2000];
  });
  return {
    labels: [
      ['service', 'api'],
      ['version', version],
    ],
    periodNs: HZ19,
    stacks,
  };
}

/** A metric's value in a Prometheus text exposition (0 when absent). */
const ROUNDS = 'firn_querier_deploy_check_rounds_total';

/** Waits until every querier has completed `n` more rounds of its deploy checks (polling, no fixed sleep). */
async function moreDeployRounds(apps: RunningApp[], n: number): Promise<void> {
  const rounds = async (a: RunningApp) => metricValue(await (await fetch(`${a.base}/metrics`)).text(), ROUNDS);
  const start = await Promise.all(apps.map(rounds));
  for (let i = 0; ; i++) {
    const now = await Promise.all(apps.map(rounds));
    if (now.every((r, k) => r >= start[k] + n)) return;
    if (i > 240) throw new Error(`deploy check rounds did not advance by ${n}: ${start.join(',')} → ${now.join(',')}`);
    await sleep(500);
  }
}

/**
 * The InsightsService and usage metering on a querier process (gateway, ingester and querier
 * against real NATS and S3), end to end: cost per label group with exact money from a tenant
 * price in the limits file, a regression between two versions, the scheduled deploy check that
 * posts it to a webhook (two queriers, one report), the CLI, and usage figures that survive a
 * graceful restart and a crash of the querier.
 */
describe('insights (cost, regression, usage metering)', () => {
  let dir: string;
  let nats: TestNats;
  let s3: S3Server;
  let gateway: RunningApp;
  let ingester: RunningApp;
  let app: RunningApp;
  /** A second querier running the same deploy checks (no peers): one report between them. */
  let app2: RunningApp;
  let tokens: Record<string, string>;
  let env: Record<string, string>;
  let hooks: Server;
  let hookCalls = 0;
  const posts: Array<Record<string, unknown>> = [];
  const t0 = Date.now() - 20 * 60_000;
  let written = 0n;

  const insights = () => createClient(I.InsightsService, createGrpcTransport({ baseUrl: app.base, interceptors: [bearer(tokens.acme)] }));
  const usage = async (): Promise<firnAdminUsageV1.TenantUsage> => {
    const c = createClient(firnAdminUsageV1.UsageService, createConnectTransport({ baseUrl: app.base, httpVersion: '1.1', interceptors: [bearer(ADMIN)] }));
    const r = await c.getUsage({ tenants: ['acme'] });
    return r.usage[0];
  };
  const write = async (rows: Rows[], tsMs: number) => {
    const w = createClient(profilestoreV1alpha1.ProfileStoreService, createGrpcTransport({ baseUrl: gateway.base, interceptors: [bearer(tokens.acme)] }));
    await w.writeArrow({ ipcBuffer: batchOf(rows, tsMs) });
    written += BigInt(rows.reduce((s, r) => s + r.stacks.reduce((x, [, n]) => x + n, 0), 0));
  };
  const waitIngested = async (): Promise<firnAdminUsageV1.TenantUsage> => {
    for (let i = 0; ; i++) {
      const u = await usage();
      if (u && u.ingestedSamples === written) return u;
      if (i > 120) throw new Error(`ingested ${u?.ingestedSamples} of ${written} samples`);
      await sleep(500);
    }
  };
  const sel = (query: string, fromMs = t0 - 60_000, toMs = Date.now() + 60_000) => ({ query, start: timestampFromMs(fromMs), end: timestampFromMs(toMs) });

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'firn-e2e-insights-'));
    tokens = await makeTokens(join(dir, 'tokens.json'), ['acme', 'globex']);
    await writeFile(join(dir, 'limits.yaml'), 'tenants:\n  acme:\n    price_per_core_hour: 0.04\n');
    // A webhook receiver for the scheduled deploy check; it fails the first call.
    hooks = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        if (++hookCalls === 1) {
          res.writeHead(503).end();
          return;
        }
        posts.push(JSON.parse(body) as Record<string, unknown>);
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => hooks.listen(0, '127.0.0.1', r));
    const hookPort = (hooks.address() as { port: number }).port;
    await writeFile(
      join(dir, 'deploy-checks.yaml'),
      `checks:\n  - {tenant: acme, name: api, query: '${CPU_TYPE}{service="api"}', label: version, webhook: 'http://127.0.0.1:${hookPort}/hook', window: 10m, settle: 0s}\n`,
    );
    [nats, s3] = await Promise.all([startNats(), startS3Server()]);
    env = {
      FIRN_NATS_URL: nats.url,
      ...s3Env(s3),
      FIRN_TOKENS_FILE: join(dir, 'tokens.json'),
      FIRN_INGESTER_FLUSH_MAX_AGE_MS: '200',
      FIRN_ADMIN_TOKEN: ADMIN,
      FIRN_LIMITS_FILE: join(dir, 'limits.yaml'),
      FIRN_USAGE_FLUSH_MS: '300',
      FIRN_COST_CURRENCY: 'EUR',
      FIRN_SYMBOL_CACHE: 'memory',
      FIRN_DEPLOY_CHECKS_FILE: join(dir, 'deploy-checks.yaml'),
      FIRN_DEPLOY_CHECK_INTERVAL_MS: '1000',
    };
    // One after another, so a failed start leaves nothing running that afterAll cannot stop.
    gateway = await startApp('gateway', { env, readyTimeoutMs: 120_000 });
    ingester = await startApp('ingester', { env, readyTimeoutMs: 120_000 });
    app = await startApp('querier', { env, readyTimeoutMs: 120_000 });
    app2 = await startApp('querier', { env, readyTimeoutMs: 120_000 });
    await write(
      [
        {
          labels: [
            ['namespace', 'shop'],
            ['pod', 'shop-1'],
          ],
          periodNs: HZ19,
          stacks: [
            [[fn('hash'), fn('main')], 1900],
            [[fn('parse'), fn('main')], 950],
          ],
        },
        {
          labels: [
            ['namespace', 'db'],
            ['pod', 'db-1'],
          ],
          periodNs: 10_000_000n,
          stacks: [[[fn('scan'), fn('main')], 380]],
        },
      ],
      t0,
    );
    await write([versionRows('1.0', false)], t0 + 60_000);
    // Stored before 1.1 arrives: the deploy check sees 1.1 appear after 1.0.
    await waitIngested();
    await write([versionRows('1.1', true)], t0 + 120_000);
    await waitIngested();
  }, 180_000);

  afterAll(async () => {
    hooks?.close();
    await Promise.all([app?.stop(), app2?.stop(), gateway?.stop(), ingester?.stop()]);
    await Promise.all([nats?.stop(), s3?.stop()]);
    if (dir) await rm(dir, { recursive: true, force: true });
  }, 60_000);

  it('gives exact CPU time and money per namespace from sample counts, periods and the tenant price', async () => {
    const r = await insights().costReport({ selection: sel(`${CPU_TYPE}{namespace=~"shop|db"}`), groupBy: ['namespace'], topFunctions: 2 });
    const shopNs = 2850n * HZ19;
    const dbNs = 380n * 10_000_000n;
    const micros = (ns: bigint) => (ns * 40_000n + 1_800_000_000_000n) / 3_600_000_000_000n;
    expect(r.groups.map((g) => [g.labels.map((l) => l.value).join(), g.samples, g.costMicros])).toEqual([
      ['shop', 2850n, micros(shopNs)],
      ['db', 380n, micros(dbNs)],
    ]);
    expect(r.groups[0].cpuSeconds).toBeCloseTo(Number(shopNs) / 1e9, 9);
    expect(r.groups[0].topFunctions.map((f) => f.functionName)).toEqual(['hash', 'parse']);
    expect(r).toMatchObject({ currency: 'EUR', pricePerCoreHour: 0.04 });
    const prom = await insights().costReport({ selection: sel(`${CPU_TYPE}{namespace="db"}`), groupBy: ['namespace'], format: I.CostFormat.PROMETHEUS });
    expect(prom.text).toContain(`firn_cost_samples{namespace="db"} 380\n`);
  }, 60_000);

  it('names exactly the function that got slower between two versions', async () => {
    const r = await insights().compareRegression({ baseline: sel(`${CPU_TYPE}{version="1.0"}`), target: sel(`${CPU_TYPE}{version="1.1"}`) });
    expect(r.offenders.map((o) => [o.functionName, o.metric])).toEqual([['compress', I.Metric.SELF]]);
    // Normalized by total samples: the target has 500 more in all (60 500 vs 60 000).
    expect(r.offenders[0].self?.relativeChange).toBeCloseTo(2500 / ((2000 * 60_500) / 60_000) - 1, 9);
    expect(r.offenders[0].impactCpuSeconds).toBeGreaterThan(0);
    expect(r.improvements).toEqual([]);
  }, 60_000);

  it('posts the regression report of a new version to the deploy check webhook once, retrying a failed POST, with two queriers checking', async () => {
    for (let i = 0; posts.length === 0; i++) {
      if (i > 240) throw new Error(`no deploy check webhook report (${hookCalls} calls)`);
      await sleep(500);
    }
    // More check rounds on both queriers: still one report, after exactly one failed call.
    await moreDeployRounds([app, app2], 3);
    expect(hookCalls).toBe(2);
    expect(posts).toHaveLength(1);
    const p = posts[0] as {
      check: string;
      baseline: { value: string; start: string; end: string };
      target: { value: string; start: string; end: string };
      report: { offenders: Array<{ functionName: string }>; improvements?: unknown[] };
    };
    expect(p).toMatchObject({ check: 'api', tenant: 'acme', label: 'version', baseline: { value: '1.0' }, target: { value: '1.1' } });
    expect(p.report.offenders.map((o) => o.functionName)).toEqual(['compress']);
    expect(p.report.improvements ?? []).toEqual([]);
    // 1.1's first window starts at its first rows; 1.0's last window ends before it.
    expect(p.target.start).toBe(new Date(t0 + 120_000).toISOString());
    expect(Date.parse(p.baseline.start)).toBeLessThanOrEqual(t0 + 60_000);
    expect(Date.parse(p.baseline.end)).toBeGreaterThan(t0 + 60_000);
    expect(Date.parse(p.baseline.end)).toBeLessThanOrEqual(t0 + 120_000);
    // Between the two queriers: one report sent, one failed attempt.
    const counts = await Promise.all([app, app2].map(async (q) => await (await fetch(`${q.base}/metrics`)).text()));
    const sum = (series: string) => counts.reduce((t, text) => t + metricValue(text, series), 0);
    expect(sum('firn_querier_deploy_reports_total{outcome="sent"}')).toBe(1);
    expect(sum('firn_querier_deploy_reports_total{outcome="failed"}')).toBe(1);
  }, 180_000);

  it('answers bad requests with INVALID_ARGUMENT naming the problem', async () => {
    const bad = async (p: Promise<unknown>, re: RegExp) => {
      const err = await p.then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(ConnectError);
      expect((err as ConnectError).code).toBe(Code.InvalidArgument);
      expect((err as ConnectError).rawMessage).toMatch(re);
    };
    await bad(insights().costReport({ selection: sel('memory:alloc_space:bytes:space:bytes') }), /does not measure CPU time/);
    await bad(insights().costReport({ selection: sel(CPU_TYPE), groupBy: ['__period__'] }), /reserved/);
    await bad(insights().costReport({}), /selection is required/);
    await bad(insights().compareRegression({ baseline: sel(CPU_TYPE) }), /target is required/);
    await bad(insights().exportPgoProfile({ selection: sel(CPU_TYPE), executable: 'shop' }), /format is required/);
  }, 60_000);

  it('serves the CLI: cost as CSV and usage as a table', () => {
    const cli = (...a: string[]) =>
      spawnSync(process.execPath, [resolve(ROOT, 'scripts/run-ts.cjs'), resolve(ROOT, 'libs/admin/src/cli/main.ts'), ...a, '--url', app.base], {
        encoding: 'utf8',
        env: { ...process.env, FIRN_TOKEN: tokens.acme, FIRN_ADMIN_TOKEN: ADMIN },
        timeout: 60_000,
      });
    const csv = cli(
      'cost',
      '--query',
      `${CPU_TYPE}{namespace="db"}`,
      '--from',
      String(Math.floor((t0 - 60_000) / 1000)),
      '--to',
      'now',
      '--group-by',
      'namespace',
      '--format',
      'csv',
    );
    expect(csv.stderr).toBe('');
    expect(csv.stdout.split('\n')[1]).toMatch(/^db,380,3\.8,/);
    const u = cli('usage', '--tenant', 'acme');
    expect(u.status).toBe(0);
    expect(u.stdout).toMatch(new RegExp(`^acme\\t${written}\\t`, 'm'));
  }, 90_000);

  it('keeps usage across a graceful restart and a crash of the querier: figures after equal figures before plus new traffic', async () => {
    const before = await usage();
    expect(before.queries).toBeGreaterThan(0n);
    expect(before.ingestedBytes).toBeGreaterThan(0n);
    expect(before.storedBytes).toBeGreaterThan(0n);
    const port = app.port;
    expect((await app.signal('SIGTERM')).code).toBe(0);
    app = await startApp('querier', { env, port, readyTimeoutMs: 120_000 });
    const afterRestart = await usage();
    expect({ ...afterRestart, storedBytes: 0n, storedSegments: 0n }).toEqual({ ...before, storedBytes: 0n, storedSegments: 0n });
    // Stored bytes may only shrink (compaction); ingest never changes without traffic.
    expect(afterRestart.storedBytes).toBeLessThanOrEqual(before.storedBytes);

    // New traffic: more samples and three queries.
    await write(
      [
        {
          labels: [
            ['namespace', 'shop'],
            ['pod', 'shop-2'],
          ],
          periodNs: HZ19,
          stacks: [[[fn('hash'), fn('main')], 123]],
        },
      ],
      Date.now() - 60_000,
    );
    const ingested = await waitIngested();
    for (let i = 0; i < 3; i++) await insights().costReport({ selection: sel(CPU_TYPE) });
    const now = await usage();
    expect(now.ingestedSamples).toBe(before.ingestedSamples + 123n);
    expect(now.queries).toBe(before.queries + 3n);
    expect(now.queryCpuSeconds).toBeGreaterThan(before.queryCpuSeconds);
    expect(ingested.ingestedSegments).toBeGreaterThan(before.ingestedSegments);

    // A crash after the last flush loses nothing: both the manifest and the flushed KV totals are durable.
    await sleep(1000);
    await app.signal('SIGKILL');
    app = await startApp('querier', { env, port, readyTimeoutMs: 120_000 });
    const afterCrash = await usage();
    expect(afterCrash.ingestedSamples).toBe(now.ingestedSamples);
    expect(afterCrash.queries).toBe(now.queries);
    const metrics = await (await fetch(`${app.base}/metrics`)).text();
    expect(metrics).toContain(`firn_querier_usage_ingested_samples_total{tenant="acme"} ${now.ingestedSamples}`);
    expect(metrics).toMatch(new RegExp(`firn_querier_usage_queries_total\\{tenant="acme"\\} ${now.queries}\\b`));
    // The restarted querier (and the other one) did not report the same deploy again.
    await moreDeployRounds([app, app2], 3);
    expect(hookCalls).toBe(2);
    expect(posts).toHaveLength(1);
  }, 180_000);
});

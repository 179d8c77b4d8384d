import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, startNats, startRedis, startS3Server, type S3Server, type TestNats, type TestRedis } from '@firn/testing';
import { getJson, runAppToExit, startApp, type AppName } from './support/apps';
import { s3Env } from './support/write-path';

/**
 * Every server app as its own process against the real dependencies: NATS JetStream, Redis and an
 * S3-compatible server. Each must answer /healthz, /readyz (naming its dependency checks) and
 * /metrics (firn_<component>_*), and exit 0 after draining on SIGTERM.
 */
describe('server apps as separate processes', () => {
  let nats: TestNats;
  let redis: TestRedis;
  let s3: S3Server;
  let dataDir: string;

  beforeAll(async () => {
    [nats, redis, s3] = await Promise.all([startNats(), startRedis(), startS3Server()]);
    dataDir = await mkdtemp(join(tmpdir(), 'firn-e2e-apps-'));
  }, 60_000);

  afterAll(async () => {
    await Promise.all([nats?.stop(), redis?.stop(), s3?.stop()]);
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  function envFor(app: AppName, storage: 'local' | 's3'): Record<string, string> {
    const common = { FIRN_NATS_URL: nats.url, FIRN_REDIS_URL: redis.url, FIRN_DATA_DIR: join(dataDir, app) };
    if (storage === 'local') return { ...common, FIRN_STORAGE: 'local' };
    return { ...common, ...s3Env(s3) };
  }

  const cases: Array<[AppName, 'local' | 's3', string[]]> = [
    ['gateway', 's3', ['nats', 'object-storage']],
    ['ingester', 'local', ['nats', 'object-storage', 'ingest-consumer']],
    ['querier', 's3', ['nats', 'object-storage', 'symbol-cache']],
    ['compactor', 'local', ['nats', 'object-storage']],
    ['symbolizer', 's3', ['nats', 'object-storage', 'symbol-cache', 'symbolize-consumer']],
  ];

  it.each(cases)('%s (storage %s) serves health, readiness and metrics, then drains on SIGTERM', async (app, storage, deps) => {
    const running = await startApp(app, { env: envFor(app, storage) });
    try {
      const health = await getJson(`${running.base}/healthz`);
      expect(health).toEqual({ status: 200, body: { status: 'ok' } });

      const ready = await getJson(`${running.base}/readyz`);
      expect(ready.status).toBe(200);
      expect(ready.body).toMatchObject({ ready: true, state: 'running' });
      const checks = (ready.body as { checks: Record<string, string> }).checks;
      expect(Object.keys(checks).sort()).toEqual([...deps].sort());
      expect(Object.values(checks).every((v) => v === 'ok')).toBe(true);

      const metrics = await fetch(`${running.base}/metrics`);
      expect(metrics.status).toBe(200);
      const text = await metrics.text();
      const component = app.replace(/-/g, '_');
      expect(text).toContain(`firn_${component}_process_cpu_seconds_total`);
      expect(text).toContain(`firn_${component}_nodejs_eventloop_lag_seconds`);
      const foreign = text.split('\n').filter((l) => /^firn_/.test(l) && !l.startsWith(`firn_${component}_`));
      expect(foreign).toEqual([]);

      const exit = await running.signal('SIGTERM');
      expect(exit.code).toBe(0);
      const lines = exit.log
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as { msg: string; component: string });
      expect(lines.every((l) => l.component === app)).toBe(true);
      const msgs = lines.map((l) => l.msg);
      expect(msgs).toContain('shutting down: draining');
      expect(msgs[msgs.length - 1]).toBe('stopped');
    } finally {
      await running.stop();
    }
  });

  it('stays live but not ready while a dependency is down, and becomes ready when it comes up', async () => {
    const port = await freePort();
    const running = await startApp('gateway', {
      env: { ...envFor('gateway', 'local'), FIRN_NATS_URL: `nats://127.0.0.1:${port}` },
      waitFor: 'live',
    });
    let lateNats: TestNats | undefined;
    try {
      const before = await getJson(`${running.base}/readyz`);
      expect(before.status).toBe(503);
      expect(before.body).toMatchObject({ ready: false, checks: { nats: expect.stringMatching(/not connected/) } });
      expect((await getJson(`${running.base}/healthz`)).status).toBe(200);

      lateNats = await startNats({ port });
      let status = 0;
      for (let i = 0; i < 100 && status !== 200; i++) {
        await new Promise((r) => setTimeout(r, 200));
        status = (await getJson(`${running.base}/readyz`)).status;
      }
      expect(status).toBe(200);
    } finally {
      await running.stop();
      await lateNats?.stop();
    }
  });

  it('reports a Redis outage on /readyz of the querier', async () => {
    const doomed = await startRedis();
    const running = await startApp('querier', { env: { ...envFor('querier', 'local'), FIRN_REDIS_URL: doomed.url } });
    try {
      await doomed.stop();
      const r = await getJson(`${running.base}/readyz`);
      expect(r.status).toBe(503);
      expect((r.body as { checks: Record<string, string> }).checks['symbol-cache']).not.toBe('ok');
      expect((await getJson(`${running.base}/healthz`)).status).toBe(200);
    } finally {
      await running.stop();
      await doomed.stop();
    }
  });
});

describe('config errors', () => {
  it.each([
    [{ FIRN_PORT: 'not-a-port' }, [], 'FIRN_PORT (--port)'],
    [{ FIRN_STORAGE: 'ftp' }, [], 'FIRN_STORAGE (--storage)'],
    [{}, ['--storage', 's3'], 'FIRN_S3_BUCKET (--s3-bucket) is required when FIRN_STORAGE=s3'],
    [{}, ['--nats-url', 'not a url'], 'FIRN_NATS_URL (--nats-url)'],
    [{}, ['--no-such-flag', '1'], '--no-such-flag'],
  ])('exits 2 with one line naming the key (%o %o)', async (env, args, expected) => {
    const r = await runAppToExit('gateway', { env: { FIRN_NATS_URL: 'nats://127.0.0.1:1', ...env }, args });
    expect(r.code).toBe(2);
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^firn-gateway: config error: /);
    expect(lines[0]).toContain(expected);
  });

  it('prints documented settings on --help', async () => {
    const r = await runAppToExit('querier', { args: ['--help'] });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('| `FIRN_REDIS_URL` | `--redis-url` | `redis://127.0.0.1:6379` |');
  });
});

import { mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isFirnError } from '@firn/errors';
import { SampleBatchBuilder } from '@firn/profiles';
import { tenantFromTrustedSource } from '@firn/tenancy';
import { checkBatchLimits } from './ingest-checks';
import { limitExceeded, limitOf } from './limit-error';
import { loadConfig, defineConfig } from '@firn/config';
import { defaultLimitsFrom, limitsSettings, overridesOptionsFrom, retentionSettings } from './limits.settings';
import { RuntimeLimits, parseLegacyRetentionFile, parseLimitsFile } from './runtime-limits';
import { DEFAULT_TENANT_LIMITS } from './tenant-limits';
import { ConcurrencyLimiter, RateLimiter } from './token-bucket';

describe(RateLimiter.name, () => {
  it('allows the burst, then the rate, and says how long to wait', () => {
    let t = 0;
    const r = new RateLimiter(() => t);
    expect(r.take('a', 100, 10, 100)).toBe(0);
    expect(r.take('a', 10, 10, 100)).toBe(1);
    expect(r.take('b', 100, 10, 100)).toBe(0);
    t = 1000;
    expect(r.take('a', 10, 10, 100)).toBe(0);
    expect(r.take('a', 50, 10, 100)).toBe(5);
  });

  it('lets a request larger than the bucket through once the bucket is full', () => {
    let t = 0;
    const r = new RateLimiter(() => t);
    expect(r.take('a', 500, 10, 100)).toBe(0);
    expect(r.take('a', 1, 10, 100)).toBeGreaterThan(40);
    t = 50_000;
    expect(r.take('a', 1, 10, 100)).toBe(0);
  });

  it('forgets buckets that are full again', () => {
    let t = 0;
    const r = new RateLimiter(() => t);
    for (let i = 0; i < 100; i++) r.take(`t${i}`, 10, 10, 100);
    t = 120_000;
    r.take('x', 1, 10, 100);
    expect(r.size).toBe(1);
  });
});

describe(ConcurrencyLimiter.name, () => {
  it('refuses past the maximum and releases once', () => {
    const c = new ConcurrencyLimiter();
    const a = c.tryAcquire('t', 2);
    const b = c.tryAcquire('t', 2);
    expect(c.tryAcquire('t', 2)).toBeUndefined();
    expect(c.tryAcquire('u', 2)).toBeDefined();
    a?.();
    a?.();
    expect(c.current('t')).toBe(1);
    b?.();
    expect(c.current('t')).toBe(0);
  });
});

describe(limitExceeded.name, () => {
  it('names the limit and rounds Retry-After up', () => {
    const e = limitExceeded('ingestRateBytes', 'tenant acme sends faster than 10 B/s', { retryAfterSeconds: 0.2 });
    expect(isFirnError(e, 'resource_exhausted')).toBe(true);
    expect(e.details).toEqual({ limit: 'ingest_rate_bytes', retry_after_seconds: 1 });
    expect(e.message).toContain('ingest_rate_bytes');
    expect(limitOf(e)).toBe('ingest_rate_bytes');
  });
});

describe(RuntimeLimits.name, () => {
  it('applies defaults and per-tenant overrides and reloads a changed file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'firn-limits-'));
    const file = join(dir, 'limits.yaml');
    try {
      await writeFile(file, 'defaults:\n  max_stack_depth: 100\ntenants:\n  acme:\n    ingest_rate_bytes: 1000\n');
      const problems: string[] = [];
      const l = await RuntimeLimits.open({ defaults: DEFAULT_TENANT_LIMITS, file, onProblem: (w) => problems.push(w) });
      try {
        expect(l.for(tenantFromTrustedSource('acme'))).toMatchObject({ ingestRateBytes: 1000, maxStackDepth: 100 });
        expect(l.for(tenantFromTrustedSource('globex'))).toMatchObject({ ingestRateBytes: DEFAULT_TENANT_LIMITS.ingestRateBytes, maxStackDepth: 100 });
        await writeFile(file, JSON.stringify({ tenants: { globex: { max_concurrent_queries: 2 } } }));
        await utimes(file, new Date(), new Date(Date.now() + 5000));
        await l.poll();
        expect(l.for(tenantFromTrustedSource('acme')).ingestRateBytes).toBe(DEFAULT_TENANT_LIMITS.ingestRateBytes);
        expect(l.for(tenantFromTrustedSource('globex')).maxConcurrentQueries).toBe(2);
        await writeFile(file, 'tenants:\n  globex:\n    max_concurent_queries: 3\n');
        await utimes(file, new Date(), new Date(Date.now() + 10_000));
        await l.poll();
        expect(problems).toHaveLength(1);
        expect(l.for(tenantFromTrustedSource('globex')).maxConcurrentQueries).toBe(2);
      } finally {
        l.close();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('reads retention and the other time settings as durations, in the same file as the limits', () => {
    const p = parseLimitsFile(
      'defaults:\n  retention: 30d\n  max_query_range_ms: 7d\ntenants:\n  acme:\n    retention: 0\n    ingest_past_window_ms: 3600000\n',
      'x.yaml',
    );
    expect(p.defaults).toEqual({ retentionMs: 30 * 86_400_000, maxQueryRangeMs: 7 * 86_400_000 });
    expect(p.tenants.get('acme')).toEqual({ retentionMs: 0, ingestPastWindowMs: 3_600_000 });
    expect(() => parseLimitsFile('tenants:\n  acme:\n    retention: a month\n', 'x.yaml')).toThrow(/tenants\.acme\.retention: must be a duration/);
  });

  it('reads the old retention-only file (FIRN_RETENTION_OVERRIDES_FILE) and merges it under the overrides file', async () => {
    const legacy = parseLegacyRetentionFile('default: 30d\ntenants:\n  acme: 7d\n  globex: 0\n', 'r.yaml');
    expect(legacy.defaults).toEqual({ retentionMs: 30 * 86_400_000 });
    expect(Object.fromEntries(legacy.tenants)).toEqual({ acme: { retentionMs: 7 * 86_400_000 }, globex: { retentionMs: 0 } });
    expect(parseLegacyRetentionFile('{"tenants": {"acme": 3600000}}', 'r.json').tenants.get('acme')).toEqual({ retentionMs: 3_600_000 });
    expect(() => parseLegacyRetentionFile('tenants:\n  acme: soon\n', 'r.yaml')).toThrow(/tenants\.acme/);
    expect(() => parseLegacyRetentionFile('retention: 1d\n', 'r.yaml')).toThrow(/retention/);

    const dir = await mkdtemp(join(tmpdir(), 'firn-overrides-'));
    try {
      const file = join(dir, 'overrides.yaml');
      const legacyFile = join(dir, 'retention.yaml');
      await writeFile(file, 'tenants:\n  acme:\n    retention: 1d\n    max_stack_depth: 9\n');
      await writeFile(legacyFile, 'default: 30d\ntenants:\n  acme: 7d\n  globex: 2d\n');
      const l = await RuntimeLimits.open({ defaults: { ...DEFAULT_TENANT_LIMITS, retentionMs: 86_400_000 * 365 }, file, legacyRetentionFile: legacyFile });
      try {
        expect(l.for(tenantFromTrustedSource('acme'))).toMatchObject({ retentionMs: 86_400_000, maxStackDepth: 9 });
        expect(l.for(tenantFromTrustedSource('globex')).retentionMs).toBe(2 * 86_400_000);
        expect(l.for(tenantFromTrustedSource('other')).retentionMs).toBe(30 * 86_400_000);
        await writeFile(legacyFile, 'tenants:\n  globex: 3d\n');
        await utimes(legacyFile, new Date(), new Date(Date.now() + 5000));
        await l.poll();
        expect(l.for(tenantFromTrustedSource('globex')).retentionMs).toBe(3 * 86_400_000);
        expect(l.for(tenantFromTrustedSource('other')).retentionMs).toBe(86_400_000 * 365);
      } finally {
        l.close();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('tells how to migrate an old retention file given as the overrides file', () => {
    for (const old of ['default: 30d\n', 'tenants:\n  acme: 7d\n']) {
      expect(() => parseLimitsFile(old, 'x.yaml')).toThrow(
        /looks like the old retention file.*`defaults: \{retention: 30d\}`.*`tenants: \{acme: \{retention: 7d\}\}`/,
      );
    }
  });

  it('rejects a bad file naming the key', () => {
    expect(() => parseLimitsFile('tenants:\n  acme:\n    max_stack_depth: -1\n', 'x.yaml')).toThrow(/tenants\.acme\.max_stack_depth/);
    expect(() => parseLimitsFile('tenants:\n  Bad/Id: {}\n', 'x.yaml')).toThrow(/tenants\.Bad\/Id/);
  });

  it('reads a per-tenant price per core-hour with at most six decimals', () => {
    const p = parseLimitsFile('defaults:\n  price_per_core_hour: 0.04\ntenants:\n  acme:\n    price_per_core_hour: 0.031415\n', 'x.yaml');
    expect(p.defaults.pricePerCoreHour).toBe(0.04);
    expect(p.tenants.get('acme')?.pricePerCoreHour).toBe(0.031415);
    expect(() => parseLimitsFile('defaults:\n  price_per_core_hour: 0.0000001\n', 'x.yaml')).toThrow(
      /defaults\.price_per_core_hour: a price has at most 6 decimals/,
    );
    expect(() => parseLimitsFile('defaults:\n  price_per_core_hour: -1\n', 'x.yaml')).toThrow(/price_per_core_hour/);
  });
});

describe(overridesOptionsFrom.name, () => {
  const cfg = defineConfig('demo', { ...limitsSettings(), ...retentionSettings() });

  it('keeps the documented env names working (FIRN_LIMITS_FILE, FIRN_LIMITS_POLL_MS, FIRN_RETENTION_RELOAD)', () => {
    const warnings: string[] = [];
    const log = { info: () => undefined, warn: (_: object, msg: string) => void warnings.push(msg) };
    const old = loadConfig(cfg, {
      env: {
        FIRN_LIMITS_FILE: '/etc/firn/limits.yaml',
        FIRN_LIMITS_POLL_MS: '2500',
        FIRN_RETENTION: '30d',
        FIRN_RETENTION_OVERRIDES_FILE: '/etc/firn/retention.yaml',
      },
    });
    expect(overridesOptionsFrom(old, log)).toMatchObject({
      file: '/etc/firn/limits.yaml',
      legacyRetentionFile: '/etc/firn/retention.yaml',
      pollMs: 2500,
      defaults: { retentionMs: 30 * 86_400_000 },
    });
    expect(warnings.join('\n')).toMatch(/FIRN_RETENTION_OVERRIDES_FILE is deprecated/);
    expect(loadConfig(cfg, { env: { FIRN_RETENTION_RELOAD: '30s' } }).overridesPoll).toBe(30_000);
    expect(loadConfig(cfg, { argv: ['--limits-file', 'l.yaml', '--limits-poll-ms', '500'] })).toMatchObject({ overridesFile: 'l.yaml', overridesPoll: 500 });
    const now = loadConfig(cfg, { env: { FIRN_OVERRIDES_FILE: 'o.yaml', FIRN_OVERRIDES_POLL: '1m' } });
    expect([now.overridesFile, now.overridesPoll, now.retentionOverridesFile]).toEqual(['o.yaml', 60_000, '']);
    expect(defaultLimitsFrom(now).retentionMs).toBe(0);
  });
});

describe(checkBatchLimits.name, () => {
  const now = Date.UTC(2026, 0, 1);
  function batch(labels: Array<[string, string]>, ts: number) {
    const b = new SampleBatchBuilder();
    b.add('cpu:samples:count:cpu:nanoseconds', labels, [], 1, ts, 0, 0);
    return b.build();
  }

  it('enforces label limits and the time window', () => {
    const l = { ...DEFAULT_TENANT_LIMITS, maxLabelNames: 1, ingestPastWindowMs: 3600_000 };
    expect(() => checkBatchLimits(batch([['a', '1']], now), l, now)).not.toThrow();
    expect(() =>
      checkBatchLimits(
        batch(
          [
            ['a', '1'],
            ['b', '2'],
          ],
          now,
        ),
        l,
        now,
      ),
    ).toThrow(/too many labels/);
    expect(() => checkBatchLimits(batch([], now + 11 * 60_000), l, now)).toThrow(/in the future/);
    expect(() => checkBatchLimits(batch([], now - 2 * 3600_000), l, now)).toThrow(/older than 1 h/);
    expect(() => checkBatchLimits(batch([], 1_700_000_000), { ...l, ingestPastWindowMs: 0 }, now)).toThrow(/before the year 2000/);
  });
});

import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '@firn/config';
import { DEFAULT_LEVELS } from '@firn/compaction';
import { compactorConfig } from './compactor.server';
import { compactorOptionsFrom } from './compactor.settings';

describe(compactorOptionsFrom.name, () => {
  it('defaults to the documented levels, a 1 h grace period and no retention', () => {
    const o = compactorOptionsFrom(loadConfig(compactorConfig, { env: {} }));
    expect(o.levels).toEqual(DEFAULT_LEVELS);
    expect([o.graceMs, o.retentionMs, o.crashAt]).toEqual([3_600_000, 0, undefined]);
    expect(o.compactorId).toMatch(/-\d+$/);
  });

  it('reads durations with units from env and flags', () => {
    const cfg = loadConfig(compactorConfig, {
      env: { FIRN_RETENTION: '30d', FIRN_COMPACTOR_L2_BUCKET: '15s', FIRN_COMPACTOR_CRASH_AT: 'after-write', FIRN_COMPACTOR_ID: 'c7' },
      argv: ['--compactor-l1-window', '10m', '--compactor-grace', '90s'],
    });
    const o = compactorOptionsFrom(cfg);
    expect(o.retentionMs).toBe(30 * 86_400_000);
    expect(o.levels[0].windowMs).toBe(600_000);
    expect(o.levels[1].bucketMs).toBe(15_000);
    expect([o.graceMs, o.crashAt, o.compactorId]).toEqual([90_000, 'after-write', 'c7']);
  });

  it('still reads the retention env names the compactor documented (FIRN_RETENTION_OVERRIDES_FILE, FIRN_RETENTION_RELOAD)', () => {
    const cfg = loadConfig(compactorConfig, {
      env: { FIRN_RETENTION_OVERRIDES_FILE: '/etc/firn/retention.yaml', FIRN_RETENTION_RELOAD: '1m', FIRN_LIMITS_FILE: '/etc/firn/limits.yaml' },
    });
    expect([cfg.retentionOverridesFile, cfg.overridesPoll, cfg.overridesFile]).toEqual(['/etc/firn/retention.yaml', 60_000, '/etc/firn/limits.yaml']);
  });

  it('names the variable of a bad duration', () => {
    expect(() => loadConfig(compactorConfig, { env: { FIRN_RETENTION: 'a month' } })).toThrow(ConfigError);
    expect(() => loadConfig(compactorConfig, { env: { FIRN_RETENTION: 'a month' } })).toThrow(/FIRN_RETENTION.*duration/);
  });
});

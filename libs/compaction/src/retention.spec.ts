import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseDuration } from '@firn/config';
import { tenantFromTrustedSource } from '@firn/tenancy';
import { FileRetention, parseRetentionOverrides } from './retention';

describe(parseDuration.name, () => {
  it('reads units, compounds and plain ms', () => {
    expect(parseDuration('30d')).toBe(30 * 86_400_000);
    expect(parseDuration('1h30m')).toBe(5_400_000);
    expect(parseDuration('500ms')).toBe(500);
    expect(parseDuration('0')).toBe(0);
    expect(parseDuration('2500')).toBe(2500);
  });

  it('rejects anything else', () => {
    for (const bad of ['', '3 days', '1x', 'h', '-1d', '1.5h']) expect(() => parseDuration(bad)).toThrow(/not a duration/);
  });
});

describe(FileRetention.name, () => {
  it('applies the default, per-tenant overrides, and keeps the last good file on a bad reload', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'firn-retention-'));
    try {
      const file = join(dir, 'retention.yaml');
      await writeFile(file, 'tenants:\n  acme: 7d\n  globex: 0\n');
      const r = new FileRetention({ defaultMs: 86_400_000, file });
      await r.start();
      expect(r.policy(tenantFromTrustedSource('acme'))).toBe(7 * 86_400_000);
      expect(r.policy(tenantFromTrustedSource('globex'))).toBe(0);
      expect(r.policy(tenantFromTrustedSource('other'))).toBe(86_400_000);
      await writeFile(file, '{"default": "2d", "tenants": {"acme": 3600000}}');
      await r.load();
      expect(r.policy(tenantFromTrustedSource('acme'))).toBe(3_600_000);
      expect(r.policy(tenantFromTrustedSource('other'))).toBe(2 * 86_400_000);
      await writeFile(file, 'tenants: [oops');
      await expect(r.load()).rejects.toThrow(/YAML/);
      expect(r.policy(tenantFromTrustedSource('acme'))).toBe(3_600_000);
      r.stop();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('names the bad entry of an overrides file', () => {
    expect(() => parseRetentionOverrides('tenants:\n  acme: soon\n')).toThrow(/tenants\.acme/);
    expect(() => parseRetentionOverrides('retention: 1d\n')).toThrow(/unknown key/);
  });
});

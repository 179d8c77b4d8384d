import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isFirnError } from '@firn/errors';
import { authenticate, basicToken } from './auth';
import { Scope, requireScope, tenantFromTrustedSource, tenantOfKey, tenantPrefix } from './tenant';
import { StaticTokenStore, issueToken, readTokenFile, writeTokenFile } from './tokens';

describe(StaticTokenStore.name, () => {
  it('authenticates an issued token and rejects tampered, revoked and expired ones', async () => {
    const a = issueToken('acme', [Scope.WriteProfiles]);
    const b = issueToken('globex', [Scope.ReadProfiles]);
    const expired = issueToken('acme', [Scope.ReadProfiles]);
    const revoked = issueToken('acme', [Scope.ReadProfiles]);
    const store = new StaticTokenStore([
      a.record,
      b.record,
      { ...expired.record, expiresAt: new Date(Date.now() - 1000).toISOString() },
      { ...revoked.record, revoked: true },
    ]);
    expect(await store.authenticate(a.token)).toMatchObject({ tenant: 'acme', scopes: ['write:profiles'] });
    expect(await store.authenticate(b.token)).toMatchObject({ tenant: 'globex' });
    const tampered = a.token.slice(0, -1) + (a.token.endsWith('A') ? 'B' : 'A');
    expect(await store.authenticate(tampered)).toBeUndefined();
    expect(await store.authenticate(expired.token)).toBeUndefined();
    expect(await store.authenticate(revoked.token)).toBeUndefined();
    expect(await store.authenticate('garbage')).toBeUndefined();
  });

  it('never stores the secret', () => {
    const t = issueToken('acme', [Scope.Admin]);
    expect(JSON.stringify(t.record)).not.toContain(t.token.split('_').slice(2).join('_'));
  });
});

describe(authenticate.name, () => {
  it('maps missing and bad tokens to unauthenticated', async () => {
    const store = new StaticTokenStore([]);
    await expect(authenticate(store, undefined)).rejects.toSatisfy((e) => isFirnError(e, 'unauthenticated'));
    await expect(authenticate(store, 'Bearer nope')).rejects.toSatisfy((e) => isFirnError(e, 'unauthenticated'));
  });
});

describe(basicToken.name, () => {
  const basic = (userPass: string) => `Basic ${Buffer.from(userPass).toString('base64')}`;

  it('takes the token from the password, whatever the user part says', async () => {
    const a = issueToken('acme', [Scope.ReadProfiles]);
    const store = new StaticTokenStore([a.record]);
    // Grafana Cloud style: user = a stack id; or the tenant; or another tenant's name.
    for (const user of ['123456', 'acme', 'globex', '']) {
      expect(await authenticate(store, basic(`${user}:${a.token}`))).toMatchObject({ tenant: 'acme' });
    }
    expect(await authenticate(store, basic(`${a.token}:`))).toMatchObject({ tenant: 'acme' });
    expect(await authenticate(store, `bAsIc   ${Buffer.from(`x:${a.token}`).toString('base64')}`)).toMatchObject({ tenant: 'acme' });
  });

  it('answers malformed and wrong Basic credentials with unauthenticated', async () => {
    const store = new StaticTokenStore([]);
    for (const h of ['Basic !!!', 'Basic ' + Buffer.from('no-colon').toString('base64'), basic('user:'), basic('user:firn_000000000000_wrong')]) {
      await expect(authenticate(store, h)).rejects.toSatisfy((e) => isFirnError(e, 'unauthenticated'));
    }
    expect(basicToken('Bearer x')).toBeUndefined();
  });
});

describe(requireScope.name, () => {
  it('denies a missing scope and lets admin through', () => {
    const t = tenantFromTrustedSource('acme');
    expect(() => requireScope({ tenant: t, scopes: [Scope.ReadProfiles], tokenId: 'x' }, Scope.WriteProfiles)).toThrow(/lacks scope write:profiles/);
    expect(() => requireScope({ tenant: t, scopes: [Scope.Admin], tokenId: 'x' }, Scope.WriteProfiles)).not.toThrow();
  });
});

describe(tenantFromTrustedSource.name, () => {
  it('rejects ids that could escape a key prefix', () => {
    for (const bad of ['', '../x', 'A', 'a/b', 'x'.repeat(64)]) expect(() => tenantFromTrustedSource(bad)).toThrow();
  });
});

describe(tenantOfKey.name, () => {
  it('reads the tenant back from a key under its prefix, and nothing from any other key', () => {
    const acme = tenantFromTrustedSource('acme');
    expect(tenantPrefix(acme)).toBe('tenants/acme/');
    expect(tenantOfKey(`${tenantPrefix(acme)}segments/L0/x`)).toEqual({ tenant: acme, rest: 'segments/L0/x' });
    for (const other of ['tenants/', 'tenants/acme', 'tenants//x', 'tenants/ACME/x', 'tenants/../x', 'manifest/tenants/acme', 'acme/x']) {
      expect(tenantOfKey(other)).toBeUndefined();
    }
  });
});

describe(writeTokenFile.name, () => {
  it('round-trips records with owner-only permissions', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'firn-tokens-'));
    try {
      const path = join(dir, 'tokens.json');
      expect(await readTokenFile(path)).toEqual([]);
      const t = issueToken('acme', [Scope.ReadProfiles]);
      await writeTokenFile(path, [t.record]);
      expect(await readTokenFile(path)).toEqual([t.record]);
      expect((await stat(path)).mode & 0o777).toBe(0o600);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

import { describe, expect, it } from 'vitest';
import { isFirnError } from '@firn/errors';
import { authenticateAdmin } from './auth';
import { KvTenantStore } from './kv-tenant-store';
import { MemoryRecordKv } from './memory-kv';
import { Scope } from './tenant';

describe(KvTenantStore.name, () => {
  it('issues tokens for existing tenants only and authenticates them', async () => {
    const store = await KvTenantStore.open(new MemoryRecordKv());
    try {
      await expect(store.createToken({ tenant: 'acme', scopes: [Scope.ReadProfiles] })).rejects.toSatisfy((e) => isFirnError(e, 'not_found'));
      await store.createTenant('acme', 'Acme Inc.');
      await expect(store.createTenant('acme')).rejects.toSatisfy((e) => isFirnError(e, 'already_exists'));
      await expect(store.createToken({ tenant: 'acme', scopes: ['root'] })).rejects.toThrow(/unknown scope "root"/);
      const t = await store.createToken({ tenant: 'acme', scopes: [Scope.ReadProfiles], description: 'grafana' });
      expect(await store.authenticate(t.token)).toEqual({ tenant: 'acme', scopes: ['read:profiles'], tokenId: t.record.id });
      expect(JSON.stringify(await store.listTokens())).not.toContain(t.token.split('_').slice(2).join('_'));
      expect((await store.listTenants()).map((x) => x.id)).toEqual(['acme']);
    } finally {
      await store.close();
    }
  });

  it('sees a token created and revoked through another replica', async () => {
    const kv = new MemoryRecordKv();
    const a = await KvTenantStore.open(kv);
    const b = await KvTenantStore.open(kv);
    try {
      await a.createTenant('acme');
      const t = await a.createToken({ tenant: 'acme', scopes: [Scope.WriteProfiles] });
      expect(await b.authenticate(t.token)).toMatchObject({ tenant: 'acme' });
      const revoked = await a.revokeToken(t.record.id);
      expect(revoked.revoked).toBe(true);
      expect(revoked.revokedAt).toBeDefined();
      expect(await b.authenticate(t.token)).toBeUndefined();
      expect(await a.authenticate(t.token)).toBeUndefined();
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('catches up on a missed change at the next refresh', async () => {
    const kv = new MemoryRecordKv();
    const a = await KvTenantStore.open(kv);
    const b = await KvTenantStore.open(kv);
    try {
      await a.createTenant('acme');
      const t = await a.createToken({ tenant: 'acme', scopes: [Scope.WriteProfiles] });
      expect(await b.authenticate(t.token)).toBeDefined();
      kv.putSilently(`token.${t.record.id}`, new TextEncoder().encode(JSON.stringify({ ...t.record, revoked: true })));
      expect(await b.authenticate(t.token)).toBeDefined();
      await b.refresh();
      expect(await b.authenticate(t.token)).toBeUndefined();
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('rejects expired tokens and out-of-range lifetimes', async () => {
    let now = new Date('2026-01-01T00:00:00Z');
    const store = await KvTenantStore.open(new MemoryRecordKv(), { clock: () => now });
    try {
      await store.createTenant('acme');
      await expect(store.createToken({ tenant: 'acme', scopes: [Scope.ReadProfiles], ttlSeconds: 5 })).rejects.toThrow(/ttl_seconds/);
      const t = await store.createToken({ tenant: 'acme', scopes: [Scope.ReadProfiles], ttlSeconds: 3600 });
      expect(await store.authenticate(t.token)).toBeDefined();
      now = new Date('2026-01-01T01:00:01Z');
      expect(await store.authenticate(t.token)).toBeUndefined();
    } finally {
      await store.close();
    }
  });

  it('ignores a malformed record instead of keeping an older readable one', async () => {
    const kv = new MemoryRecordKv();
    const problems: string[] = [];
    const store = await KvTenantStore.open(kv, { onProblem: (what) => problems.push(what) });
    try {
      await store.createTenant('acme');
      const t = await store.createToken({ tenant: 'acme', scopes: [Scope.ReadProfiles] });
      const e = await kv.get(`token.${t.record.id}`);
      await kv.update(`token.${t.record.id}`, new TextEncoder().encode('{"not":"a token"}'), e?.revision ?? 0);
      expect(await store.authenticate(t.token)).toBeUndefined();
      expect(problems).toContain('ignored a malformed tenant or token record');
    } finally {
      await store.close();
    }
  });
});

describe(authenticateAdmin.name, () => {
  it('accepts the bootstrap secret and admin-scoped tokens only', async () => {
    const store = await KvTenantStore.open(new MemoryRecordKv());
    try {
      await store.createTenant('ops');
      const admin = await store.createToken({ tenant: 'ops', scopes: [Scope.Admin] });
      const reader = await store.createToken({ tenant: 'ops', scopes: [Scope.ReadProfiles] });
      const secret = 'x'.repeat(40);
      expect((await authenticateAdmin(store, secret, `Bearer ${secret}`)).tokenId).toBe('bootstrap');
      expect((await authenticateAdmin(store, secret, `Bearer ${admin.token}`)).tokenId).toBe(admin.record.id);
      await expect(authenticateAdmin(store, secret, `Bearer ${reader.token}`)).rejects.toSatisfy((e) => isFirnError(e, 'permission_denied'));
      await expect(authenticateAdmin(store, '', 'Bearer ')).rejects.toSatisfy((e) => isFirnError(e, 'unauthenticated'));
      await expect(authenticateAdmin(store, secret, `Bearer ${'y'.repeat(40)}`)).rejects.toSatisfy((e) => isFirnError(e, 'unauthenticated'));
    } finally {
      await store.close();
    }
  });
});

import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectBus, type Bus } from '@firn/bus';
import { isFirnError } from '@firn/errors';
import { createLogger } from '@firn/observability';
import { Scope } from '@firn/tenancy';
import { startNats, type TestNats } from '@firn/testing';
import { NatsRecordKv, TENANTS_BUCKET, openTokenStore, type OpenedTokenStore } from './tenant-store';

const log = createLogger({ component: 'tenant-store-spec', level: 'silent' });

async function eventually<T>(fn: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (ok(v) || Date.now() > deadline) return v;
    await sleep(20);
  }
}

describe(NatsRecordKv.name, () => {
  let nats: TestNats;
  let busA: Bus;
  let busB: Bus;
  let a: OpenedTokenStore;
  let b: OpenedTokenStore;

  beforeAll(async () => {
    nats = await startNats();
    busA = await connectBus({ servers: [nats.url], name: 'replica-a' });
    busB = await connectBus({ servers: [nats.url], name: 'replica-b' });
    const cfg = { tokenStore: 'nats' as const, tokensFile: '', tokenRefreshMs: 60_000 };
    a = await openTokenStore(cfg, { bus: busA, log });
    b = await openTokenStore(cfg, { bus: busB, log });
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
    await busA?.close();
    await busB?.close();
    await nats?.stop();
  });

  it('maps create conflicts to already_exists', async () => {
    const kv = new NatsRecordKv(await busA.ensureKv(TENANTS_BUCKET));
    await kv.create('x.conflict', new Uint8Array([1]));
    await expect(kv.create('x.conflict', new Uint8Array([2]))).rejects.toSatisfy((e) => isFirnError(e, 'already_exists'));
    const e = await kv.get('x.conflict');
    await expect(kv.update('x.conflict', new Uint8Array([3]), (e?.revision ?? 0) + 10)).rejects.toSatisfy((e2) => isFirnError(e2, 'aborted'));
  });

  it('propagates a revocation to the other replica through the watch', async () => {
    const dirA = a.directory;
    if (!dirA) throw new Error('nats mode must have a directory');
    await dirA.createTenant('acme');
    const t = await dirA.createToken({ tenant: 'acme', scopes: [Scope.WriteProfiles] });
    expect(await b.tokens.authenticate(t.token)).toMatchObject({ tenant: 'acme' });
    await dirA.revokeToken(t.record.id);
    const seen = await eventually(
      () => b.tokens.authenticate(t.token),
      (p) => p === undefined,
      5000,
    );
    expect(seen).toBeUndefined();
    expect((await b.directory?.listTokens('acme'))?.map((r) => r.revoked)).toEqual([true]);
  });
});

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isFirnError } from '@firn/errors';
import { connectBus, type Bus } from './bus';
import { Leases } from './leases';
import { startNatsServer, type NatsServerProcess } from './nats-server-process';

describe(Leases.name, () => {
  let dir: string;
  let nats: NatsServerProcess;
  let bus: Bus;
  let n = 0;
  const bucket = (): string => `LEASES_T${++n}`;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'firn-leases-spec-'));
    nats = await startNatsServer({ dataDir: dir });
    bus = await connectBus({ servers: [nats.url], name: 'lease-test' });
  }, 30_000);

  afterAll(async () => {
    await bus?.close();
    await nats?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('lets exactly one of two racing compactors win each key', async () => {
    const b = bucket();
    const [a, c] = await Promise.all([Leases.open(bus, { owner: 'a', ttlMs: 30_000, bucket: b }), Leases.open(bus, { owner: 'c', ttlMs: 30_000, bucket: b })]);
    const keys = Array.from({ length: 40 }, (_, i) => `t1.w${i}`);
    const results = await Promise.all(keys.map((k) => Promise.all([a.tryAcquire(k), c.tryAcquire(k)])));
    for (const [x, y] of results) expect([x, y].filter(Boolean)).toHaveLength(1);
  });

  it('refuses a held lease, hands it over after release', async () => {
    const b = bucket();
    const a = await Leases.open(bus, { owner: 'a', ttlMs: 30_000, bucket: b });
    const c = await Leases.open(bus, { owner: 'c', ttlMs: 30_000, bucket: b });
    const la = await a.tryAcquire('k');
    expect(la).toBeDefined();
    expect(await c.tryAcquire('k')).toBeUndefined();
    await a.release(la!);
    const lc = await c.tryAcquire('k');
    expect(lc?.owner).toBe('c');
    expect(await c.isHeld(lc!)).toBe(true);
  });

  it('fences a stale owner once its lease expired and was taken over', async () => {
    const b = bucket();
    const kv = await bus.ensureKv(b, { history: 1, ttlMs: 60_000 });
    const stale = new Leases({ kv, owner: 'stale', ttlMs: 1000 });
    // The taker's clock is past the stale owner's expiry (as after a long GC pause of the owner).
    const taker = new Leases({ kv, owner: 'taker', ttlMs: 1000, now: () => Date.now() + 5000 });
    const old = await stale.tryAcquire('t1.w0');
    expect(old).toBeDefined();
    const fresh = await taker.tryAcquire('t1.w0');
    expect(fresh).toBeDefined();
    expect(fresh!.revision).toBeGreaterThan(old!.revision);
    expect(await stale.isHeld(old!)).toBe(false);
    const err = await stale.renew(old!).catch((e: unknown) => e);
    expect(isFirnError(err, 'aborted')).toBe(true);
    // Releasing a lease that was taken over leaves the new holder's key alone.
    await stale.release(old!);
    expect(await new Leases({ kv, owner: 'taker', ttlMs: 1000, now: () => Date.now() + 5000 }).isHeld(fresh!)).toBe(true);
  });

  it('frees the key of a holder that died once the bucket ttl passed', async () => {
    const b = bucket();
    const dead = await Leases.open(bus, { owner: 'dead', ttlMs: 1000, bucket: b });
    const next = await Leases.open(bus, { owner: 'next', ttlMs: 1000, bucket: b });
    expect(await dead.tryAcquire('k')).toBeDefined();
    expect(await next.tryAcquire('k')).toBeUndefined();
    await expect.poll(() => next.tryAcquire('k'), { timeout: 10_000, interval: 250 }).toBeDefined();
  });
});

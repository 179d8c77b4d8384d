import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectBus, type Bus } from '@firn/bus';
import { tenantFromTrustedSource } from '@firn/tenancy';
import { startNats, type TestNats } from '@firn/testing';
import { ScrapeCoordinator } from './coordinator';

describe(ScrapeCoordinator.name, () => {
  let nats: TestNats;
  let bus: Bus;

  beforeAll(async () => {
    nats = await startNats();
    bus = await connectBus({ servers: [nats.url], name: 'scrape-coordinator-test' });
  }, 30_000);

  afterAll(async () => {
    await bus?.close();
    await nats?.stop();
  });

  it('spreads targets over live replicas, agrees on the owner everywhere, and lets one replica at a time hold a target', async () => {
    const opts = { memberTtlMs: 5_000, leaseTtlMs: 30_000 };
    const a = await ScrapeCoordinator.open(bus, { ...opts, replicaId: 'a' });
    const b = await ScrapeCoordinator.open(bus, { ...opts, replicaId: 'b' });
    await a.heartbeat();
    expect(a.liveMembers).toEqual(['a', 'b']);
    expect(b.liveMembers).toEqual(['a', 'b']);
    const ids = Array.from({ length: 200 }, (_, i) => `target${i}`);
    const owners = ids.map((id) => a.preferred(id));
    expect(ids.map((id) => b.preferred(id))).toEqual(owners);
    const share = owners.filter((o) => o === 'a').length;
    expect(share).toBeGreaterThan(60);
    expect(share).toBeLessThan(140);

    const [la, lb] = await Promise.all([a.tryAcquire('target0'), b.tryAcquire('target0')]);
    expect([la, lb].filter(Boolean)).toHaveLength(1);
    const held = (la ?? lb)!;
    const holder = la ? a : b;
    const other = la ? b : a;
    expect(await other.tryAcquire('target0')).toBeUndefined();
    await holder.release(held);
    expect(await other.tryAcquire('target0')).toBeDefined();

    // A replica that leaves drops out of placement at once.
    await b.leave();
    await a.heartbeat();
    expect(a.liveMembers).toEqual(['a']);
    expect(ids.every((id) => a.preferred(id) === 'a')).toBe(true);
  });

  it('shares target status between replicas', async () => {
    const a = await ScrapeCoordinator.open(bus, { replicaId: 's1', memberTtlMs: 5_000, leaseTtlMs: 30_000 });
    const b = await ScrapeCoordinator.open(bus, { replicaId: 's2', memberTtlMs: 5_000, leaseTtlMs: 30_000 });
    const status = {
      id: 'abc',
      job: 'j',
      tenant: tenantFromTrustedSource('t'),
      url: 'http://h:1',
      labels: { job: 'j' },
      health: 'down' as const,
      owner: 's1',
      lastScrapeMs: 1,
      lastDurationMs: 2,
      lastError: 'HTTP 500',
    };
    await a.putStatus(status);
    expect(await b.statuses()).toContainEqual(status);
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectBus, type Bus, type BusKv } from '@firn/bus';
import { startNats, type TestNats } from '@firn/testing';
import { tenantFromTrustedSource } from '@firn/tenancy';
import { QueryUsageStore } from './query-usage-store';

const acme = tenantFromTrustedSource('acme');

describe(QueryUsageStore.name, () => {
  let nats: TestNats;
  let bus: Bus;
  let n = 0;
  const bucket = async (): Promise<BusKv> => bus.ensureKv(`USAGE_T${++n}`);

  beforeAll(async () => {
    nats = await startNats();
    bus = await connectBus({ servers: [nats.url], name: 'usage-test' });
  }, 30_000);

  afterAll(async () => {
    await bus?.close();
    await nats?.stop();
  });

  it('adds up every querier, survives a graceful restart exactly and never counts twice', async () => {
    const kv = await bucket();
    const a = new QueryUsageStore({ kv, instanceId: 'a' });
    const b = new QueryUsageStore({ kv, instanceId: 'b' });
    await Promise.all([a.publish(new Map([[acme, { queries: 3, cpuMicros: 30 }]])), b.publish(new Map([[acme, { queries: 2, cpuMicros: 5 }]]))]);
    // Republishing the same absolute totals (a retry, a heartbeat) changes nothing.
    await a.publish(new Map([[acme, { queries: 3, cpuMicros: 30 }]]));
    expect(await a.read()).toEqual(new Map([[acme, { queries: 5, cpuMicros: 35 }]]));
    // a stops gracefully: its totals move into the base; a new process a2 starts from zero.
    await a.retire([acme]);
    await a.retire([acme]);
    const a2 = new QueryUsageStore({ kv, instanceId: 'a2' });
    await a2.publish(new Map([[acme, { queries: 1, cpuMicros: 1 }]]));
    expect((await b.read([acme])).get(acme)).toEqual({ queries: 6, cpuMicros: 36 });
  });

  it('folds a crashed querier after it goes stale, and a wrongly folded live one keeps counting on top', async () => {
    const kv = await bucket();
    let now = 1_000_000;
    const clock = () => now;
    const crashed = new QueryUsageStore({ kv, instanceId: 'crashed', staleMs: 60_000, now: clock });
    const live = new QueryUsageStore({ kv, instanceId: 'live', staleMs: 60_000, now: clock });
    await crashed.publish(new Map([[acme, { queries: 10, cpuMicros: 100 }]]));
    await live.publish(new Map([[acme, { queries: 1, cpuMicros: 1 }]]));
    now += 120_000;
    // live writes again: crashed is stale and is folded into base, keeping its totals.
    await live.publish(new Map([[acme, { queries: 2, cpuMicros: 2 }]]));
    expect((await live.read()).get(acme)).toEqual({ queries: 12, cpuMicros: 102 });
    // crashed was only paused: it finds its entry folded and writes just what came since.
    now += 1;
    await crashed.publish(new Map([[acme, { queries: 15, cpuMicros: 150 }]]));
    expect((await live.read()).get(acme)).toEqual({ queries: 17, cpuMicros: 152 });
  });

  it('loses no update when queriers race on the same tenant', async () => {
    const kv = await bucket();
    const stores = Array.from({ length: 6 }, (_, i) => new QueryUsageStore({ kv, instanceId: `q${i}` }));
    await Promise.all(stores.map((s, i) => s.publish(new Map([[acme, { queries: i + 1, cpuMicros: 10 }]]))));
    expect((await stores[0].read()).get(acme)).toEqual({ queries: 21, cpuMicros: 60 });
  });
});

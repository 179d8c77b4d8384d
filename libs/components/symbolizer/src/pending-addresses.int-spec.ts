import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectBus, type Bus } from '@firn/bus';
import { KvPendingAddresses } from '@firn/debuginfo';
import { tenantFromTrustedSource } from '@firn/tenancy';
import { startNats, type TestNats } from '@firn/testing';

const BUILD_ID = 'ab'.repeat(20);
const acme = tenantFromTrustedSource('acme');
const ascending = (xs: bigint[]): bigint[] => [...xs].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));

// The symbolizer's pending-address list against a real NATS KV bucket: replicas update one entry
// per build id with compare-and-set, so racing writers must not lose each other's addresses.
describe(KvPendingAddresses.name, () => {
  let nats: TestNats;
  let bus: Bus;
  let n = 0;
  const bucket = () => bus.ensureKv(`PENDING_T${++n}`);

  beforeAll(async () => {
    nats = await startNats();
    bus = await connectBus({ servers: [nats.url], name: 'pending-addresses-test' });
  }, 30_000);

  afterAll(async () => {
    await bus?.close();
    await nats?.stop();
  });

  it('keeps every address when replicas add to the same build id at once', async () => {
    const kv = await bucket();
    const replicas = [new KvPendingAddresses(kv), new KvPendingAddresses(kv), new KvPendingAddresses(kv)];
    await Promise.all(replicas.map((r, i) => Promise.all([0n, 1n].map((k) => r.add(acme, BUILD_ID, [BigInt(i) * 16n + k])))));
    expect(ascending(await replicas[0].list(acme, BUILD_ID))).toEqual([0n, 1n, 16n, 17n, 32n, 33n]);
  });

  it('caps the list per build id and forgets it on clear', async () => {
    const pending = new KvPendingAddresses(await bucket(), 3);
    await pending.add(acme, BUILD_ID, [1n, 2n]);
    await pending.add(acme, BUILD_ID, [2n, 3n, 4n, 5n]);
    expect(ascending(await pending.list(acme, BUILD_ID))).toEqual([1n, 2n, 3n]);
    await pending.clear(acme, BUILD_ID);
    expect(await pending.list(acme, BUILD_ID)).toEqual([]);
    // A cleared (deleted) entry is written again from scratch.
    await pending.add(acme, BUILD_ID, [9n]);
    expect(await pending.list(acme, BUILD_ID)).toEqual([9n]);
  });
});

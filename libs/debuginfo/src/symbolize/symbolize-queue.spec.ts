import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Bus } from '@firn/bus';
import { createLogger, Registry } from '@firn/observability';
import { SampleBatchBuilder, type Frame } from '@firn/profiles';
import { tenantFromTrustedSource } from '@firn/tenancy';
import { decodeJob, symbolizeSubject } from './symbolize-job';
import { SymbolizeQueue } from './symbolize-queue';

const log = createLogger({ level: 'silent', component: 'test' });
const frame = (buildId: string, address: bigint, functionName = ''): Frame => ({
  buildId,
  mappingFile: '/bin/x',
  address,
  functionName,
  fileName: '',
  line: 0,
  inlined: false,
});

function batch(stacks: Frame[][]) {
  const b = new SampleBatchBuilder();
  stacks.forEach((s, i) => b.add('process_cpu:samples:count:cpu:nanoseconds', [['service_name', 'x']], s, 1, 1000 + i, 0, 0));
  return b.build();
}

function fakeBus(fail = false) {
  const published: Array<{ subject: string; data: Uint8Array }> = [];
  const bus = {
    ensureStream: async () => undefined,
    publish: async (subject: string, data: Uint8Array) => {
      if (fail) throw new Error('nats down');
      published.push({ subject, data });
      return { stream: 'FIRN_SYMBOLIZE', seq: published.length, duplicate: false };
    },
  } as unknown as Pick<Bus, 'publish' | 'ensureStream'>;
  return { bus, published };
}

describe(SymbolizeQueue.name, () => {
  const tenant = tenantFromTrustedSource('acme');
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('queues unseen unsymbolized addresses once, one message per build id', async () => {
    const { bus, published } = fakeBus();
    const q = new SymbolizeQueue(bus, log, new Registry(), { enabled: true, seenEntries: 100, seenTtlMs: 60_000, maxAddressesPerMessage: 2 });
    const b = batch([
      [frame('aa', 1n), frame('aa', 2n), frame('bb', 7n), frame('', 9n), frame('aa', 3n, 'named')],
      [frame('aa', 1n), frame('aa', 4n)],
    ]);
    await q.enqueue(tenant, [b]);
    expect(published.every((p) => p.subject === symbolizeSubject(tenant))).toBe(true);
    const jobs = published.map((p) => decodeJob(p.data));
    expect(jobs).toEqual([
      { kind: 'addresses', buildId: 'aa', addresses: [1n, 2n] },
      { kind: 'addresses', buildId: 'aa', addresses: [4n] },
      { kind: 'addresses', buildId: 'bb', addresses: [7n] },
    ]);
    await q.enqueue(tenant, [b]);
    expect(published).toHaveLength(3);
  });

  it('remembers queued frames per tenant, and equal frames that are distinct objects as one', async () => {
    const { bus, published } = fakeBus();
    const q = new SymbolizeQueue(bus, log, new Registry(), { enabled: true, seenEntries: 100, seenTtlMs: 60_000, maxAddressesPerMessage: 100 });
    // The same frame objects for two tenants (the Arrow decoder shares them process-wide).
    const shared = batch([[frame('aa', 1n), frame('aa', 2n)]]);
    const other = tenantFromTrustedSource('globex');
    await q.enqueue(tenant, [shared]);
    await q.enqueue(other, [shared]);
    await q.enqueue(other, [shared]);
    // New objects with the same content: already queued for acme.
    await q.enqueue(tenant, [batch([[frame('aa', 2n), frame('aa', 1n), frame('aa', 5n)]])]);
    expect(published.map((p) => [p.subject, decodeJob(p.data)])).toEqual([
      [symbolizeSubject(tenant), { kind: 'addresses', buildId: 'aa', addresses: [1n, 2n] }],
      [symbolizeSubject(other), { kind: 'addresses', buildId: 'aa', addresses: [1n, 2n] }],
      [symbolizeSubject(tenant), { kind: 'addresses', buildId: 'aa', addresses: [5n] }],
    ]);
  });

  it('queues the same frames again once the age limit has passed, and not before', async () => {
    let now = 1_000_000;
    vi.spyOn(Date, 'now').mockImplementation(() => now);
    const { bus, published } = fakeBus();
    const q = new SymbolizeQueue(bus, log, new Registry(), { enabled: true, seenEntries: 100, seenTtlMs: 60_000, maxAddressesPerMessage: 100 });
    const b = batch([[frame('aa', 1n), frame('aa', 2n)], [frame('aa', 2n)]]);
    await q.enqueue(tenant, [b]);
    now += 59_999;
    await q.enqueue(tenant, [b]);
    expect(published).toHaveLength(1);
    now += 1;
    await q.enqueue(tenant, [b]);
    expect(published.map((p) => decodeJob(p.data))).toEqual([
      { kind: 'addresses', buildId: 'aa', addresses: [1n, 2n] },
      { kind: 'addresses', buildId: 'aa', addresses: [1n, 2n] },
    ]);
  });

  it('never throws when NATS fails and queues the addresses again next time', async () => {
    const failing = fakeBus(true);
    const registry = new Registry();
    const q = new SymbolizeQueue(failing.bus, log, registry, { enabled: true, seenEntries: 100, seenTtlMs: 60_000, maxAddressesPerMessage: 100 });
    const b = batch([[frame('aa', 1n)]]);
    await expect(q.enqueue(tenant, [b])).resolves.toBeUndefined();
    expect((await registry.getSingleMetric('firn_ingester_symbolize_queue_failures_total')?.get())?.values[0]?.value).toBe(1);
    // Same queue object, NATS back: the address was forgotten, so it goes out now.
    let sent = 0;
    (failing.bus as unknown as { publish: () => Promise<unknown> }).publish = async () => {
      sent++;
      return { stream: 's', seq: 1, duplicate: false };
    };
    await q.enqueue(tenant, [b]);
    expect(sent).toBe(1);
  });
});

import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { appendIngest } from '@firn/ingest-log';
import { tenantFromTrustedSource } from '@firn/tenancy';
import { clusterWrite, eventually, startTestCluster, storedTotals, type ClusterComponent, type TestCluster } from '@firn/test-cluster';
import { metricValue } from '@firn/testing';
import { FLUSH_STEPS, type FlushStep } from './ingester.options';
import { ingesterServer } from './ingester.server';

const MESSAGES = 6;
const BASE_MS = Date.UTC(2026, 10, 22, 3, 0, 0);
/** Short, so a dead ingester's messages come back quickly; live ingesters keep theirs with working(). */
const ACK_WAIT = { FIRN_INGESTER_ACK_WAIT_MS: '1500' };

/** Which messages end up stored by whom, per crash: how many the survivor must find already stored. */
const DUPLICATES: Record<FlushStep | 'killed-while-buffering', number> = {
  // The segment was written but never published: not valid, so everything is written again.
  'after-segment-write': 0,
  // Published (valid) but not acked: every redelivery is found in the manifest and dropped.
  'after-manifest-publish': MESSAGES,
  'before-ack': MESSAGES,
  // Nothing written: the survivor writes it all.
  'killed-while-buffering': 0,
};
const CASES = [...FLUSH_STEPS, 'killed-while-buffering'] as const;

/**
 * The ingester's exactly-once protocol against real NATS and S3, in one process: an ingester
 * crashes at each step of its flush (or is killed while buffering), another one gets the
 * redelivered messages, and the valid segments hold exactly what was appended (read back through a
 * fresh manifest view, as every querier reads them): nothing lost, nothing counted twice. The
 * process-per-component version is e2e/src/flush-crash.e2e-spec.ts.
 */
describe('ingester exactly-once (in-process cluster)', () => {
  let cluster: TestCluster;
  const tenantOf = (c: string): string => `t-${c}`;

  beforeAll(async () => {
    cluster = await startTestCluster();
  });

  // A failed case must not leave its ingesters consuming into the next one.
  let ingesters: ClusterComponent[] = [];
  const track = (c: ClusterComponent): ClusterComponent => (ingesters.push(c), c);
  afterEach(async () => {
    for (const i of ingesters) i.kill('case over');
    ingesters = [];
  });

  afterAll(async () => {
    await cluster?.stop();
  });

  /** Appends writes as the gateway does (one ingest-log message each); returns their total. */
  async function append(tenant: string): Promise<number> {
    let total = 0;
    for (let i = 0; i < MESSAGES; i++) {
      const w = clusterWrite(i, BASE_MS + i * 10_000);
      await appendIngest(cluster.bus, cluster.store, { tenant: tenantFromTrustedSource(tenant), requestId: `r${i}`, payload: w.payload });
      total += w.total;
    }
    return total;
  }

  /** The sum of every sample value in the tenant's valid segments. */
  const stored = async (tenant: string) => [...(await storedTotals(cluster.bus, cluster.store, tenant)).totals.values()].reduce((x, y) => x + y, 0);

  it.each(CASES)('stores every write once when an ingester dies: %s', async (c) => {
    const tenant = tenantOf(c);
    const crashAt: Record<string, string> = c === 'killed-while-buffering' ? {} : { FIRN_INGESTER_CRASH_AT: c };
    // Long enough that every append lands in the first (crashing) flush; "never" when killed.
    const flushAge = c === 'killed-while-buffering' ? '60000' : '1000';
    const doomed = track(
      await cluster.start(ingesterServer, {
        name: `doomed-${c}`,
        env: { ...ACK_WAIT, ...crashAt, FIRN_INGESTER_FLUSH_MAX_AGE_MS: flushAge, FIRN_INGESTER_ID: `doomed-${c}` },
      }),
    );
    const expected = await append(tenant);

    if (c === 'killed-while-buffering') {
      const buffered = await eventually(
        async () => metricValue(await doomed.metrics(), 'firn_ingester_messages_total{outcome="buffered"}'),
        (n) => n === MESSAGES,
      );
      expect(buffered).toBe(MESSAGES);
      doomed.kill();
    }
    expect(await doomed.killed).toContain(c === 'killed-while-buffering' ? 'killed' : c);

    const survivor = track(
      await cluster.start(ingesterServer, {
        name: `survivor-${c}`,
        env: { ...ACK_WAIT, FIRN_INGESTER_FLUSH_MAX_AGE_MS: '200', FIRN_INGESTER_ID: `survivor-${c}` },
      }),
    );
    // The survivor has handled every redelivery once it has either stored or dropped each message.
    const handled = async () => {
      const m = await survivor.metrics();
      return {
        buffered: metricValue(m, 'firn_ingester_messages_total{outcome="buffered"}'),
        duplicate: metricValue(m, 'firn_ingester_messages_total{outcome="duplicate"}'),
      };
    };
    const done = await eventually(handled, (h) => h.buffered + h.duplicate >= MESSAGES);
    expect(
      await eventually(
        () => stored(tenant),
        (t) => t >= expected,
      ),
    ).toBe(expected);
    expect(done).toEqual({ buffered: MESSAGES - DUPLICATES[c], duplicate: DUPLICATES[c] });
    await survivor.stop();
    // Read again once nothing is in flight: still exactly what was appended.
    expect(await stored(tenant)).toBe(expected);
  });
});

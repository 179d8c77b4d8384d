import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appendIngest, ingestStreamSpec } from '@firn/ingest-log';
import { tenantFromTrustedSource } from '@firn/tenancy';
import { clusterWrite, eventually, startTestCluster, storedTotals, type TestCluster } from '@firn/test-cluster';
import { metricValue } from '@firn/testing';
import { ingesterServer } from './ingester.server';

const MESSAGES = 40;
const BASE_MS = Date.UTC(2026, 11, 3, 3, 0, 0);

/**
 * A backlog larger than the ingester's memory budget, against real NATS and S3 in one process:
 * the ingester must work it off in budget-sized flushes (no flush by rows can happen, and by age only
 * here but for the last partial buffer), never hold more than the budget plus one write, keep every message it holds alive (no
 * redelivery, no duplicate), and store exactly what was appended.
 */
describe('ingester memory budget (in-process cluster)', () => {
  let cluster: TestCluster;

  beforeAll(async () => {
    cluster = await startTestCluster();
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  it('drains a backlog bigger than its budget in bounded flushes, exactly once', async () => {
    const tenant = 't-budget';
    let expected = 0;
    let largest = 0;
    await cluster.bus.ensureStream(ingestStreamSpec());
    for (let i = 0; i < MESSAGES; i++) {
      const w = clusterWrite(i, BASE_MS + i * 10_000);
      await appendIngest(cluster.bus, cluster.store, { tenant: tenantFromTrustedSource(tenant), requestId: `r${i}`, payload: w.payload });
      expected += w.total;
      largest = Math.max(largest, w.payload.byteLength);
    }
    // A write's estimated cost is ≈ 9 × its payload (decode to flush, plus the message): room for ≈ 6.
    const perWrite = 9 * largest + 1024;
    const budget = 6 * perWrite;
    const ingester = await cluster.start(ingesterServer, {
      name: 'budgeted',
      env: {
        FIRN_INGESTER_MAX_BUFFERED_BYTES: String(budget),
        FIRN_INGESTER_FLUSH_MAX_BYTES: '1GiB',
        FIRN_INGESTER_FLUSH_MAX_AGE_MS: '3s',
        FIRN_INGESTER_ID: 'budgeted',
      },
    });
    let maxHeld = 0;
    const metrics = async () => {
      const m = await ingester.metrics();
      maxHeld = Math.max(maxHeld, metricValue(m, 'firn_ingester_held_bytes'));
      return m;
    };
    await eventually(
      metrics,
      (text) => metricValue(text, 'firn_ingester_messages_total{outcome="buffered"}') === MESSAGES && metricValue(text, 'firn_ingester_held_bytes') < budget,
      30_000,
      10,
    );
    const stored = async () => [...(await storedTotals(cluster.bus, cluster.store, tenant)).totals.values()].reduce((x, y) => x + y, 0);
    expect(await eventually(stored, (t) => t >= expected)).toBe(expected);
    const m = await metrics();
    // Flushed because of the budget: several segments (by age, only the last partial buffer).
    expect(metricValue(m, 'firn_ingester_segments_total{outcome="ok"}')).toBeGreaterThanOrEqual(MESSAGES / 7);
    expect(metricValue(m, 'firn_ingester_budget_waits_total')).toBeGreaterThan(0);
    expect(maxHeld).toBeGreaterThan(0);
    expect(maxHeld).toBeLessThanOrEqual(budget + perWrite);
    expect(metricValue(m, 'firn_ingester_messages_total{outcome="redelivered_while_held"}')).toBe(0);
    expect(metricValue(m, 'firn_ingester_messages_total{outcome="duplicate"}')).toBe(0);
    await ingester.stop();
  });
});

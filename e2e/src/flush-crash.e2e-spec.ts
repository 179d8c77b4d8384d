import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient } from '@connectrpc/connect';
import { createGrpcTransport } from '@connectrpc/connect-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectBus, type Bus } from '@firn/bus';
import { FLUSH_STEPS } from '@firn/ingester';
import { samplesToArrow } from '@firn/profiles';
import { profilestoreV1alpha1 } from '@firn/proto';
import { S3Store } from '@firn/storage';
import { startNats, startS3Server, type S3Server, type TestNats } from '@firn/testing';
import { startApp, type RunningApp } from './support/apps';
import { addTotals, agentWrite, stackPool } from './support/profiles-data';
import { bearer, makeTokens, s3Env, sortedEntries, storedTotals, waitForIngestDrained } from './support/write-path';

/**
 * Fault injection at every step of the ingester's flush protocol: the ingester SIGKILLs itself at
 * the step during its first flush; a fresh ingester takes over the redelivered messages. Totals
 * read back must equal what was acknowledged: nothing lost, nothing counted twice.
 */
describe.each(FLUSH_STEPS)('ingester crash %s', (step) => {
  let nats: TestNats;
  let s3: S3Server;
  let dir: string;
  let gateway: RunningApp | undefined;
  let ingester: RunningApp | undefined;
  let bus: Bus;
  let store: S3Store;

  beforeAll(async () => {
    [nats, s3] = await Promise.all([startNats(), startS3Server()]);
    dir = await mkdtemp(join(tmpdir(), 'firn-e2e-crash-'));
    bus = await connectBus({ servers: [nats.url], name: 'e2e-crash' });
    store = new S3Store({
      endpoint: s3.endpoint,
      bucket: s3.bucket,
      region: s3.region,
      accessKeyId: s3.accessKeyId,
      secretAccessKey: s3.secretAccessKey,
      forcePathStyle: true,
    });
  }, 60_000);

  afterAll(async () => {
    await Promise.all([gateway?.stop(), ingester?.stop()]);
    await bus?.close();
    await store?.close();
    await Promise.all([nats?.stop(), s3?.stop()]);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('loses nothing and counts nothing twice', async () => {
    const tokens = await makeTokens(join(dir, 'tokens.json'), ['acme']);
    const env = {
      FIRN_NATS_URL: nats.url,
      ...s3Env(s3),
      FIRN_TOKENS_FILE: join(dir, 'tokens.json'),
      // Long enough that every write below lands in the first (crashing) flush.
      FIRN_INGESTER_FLUSH_MAX_AGE_MS: '1500',
      FIRN_INGESTER_ACK_WAIT_MS: '2000',
    };
    gateway = await startApp('gateway', { env });
    ingester = await startApp('ingester', { env: { ...env, FIRN_INGESTER_CRASH_AT: step } });

    const client = createClient(profilestoreV1alpha1.ProfileStoreService, createGrpcTransport({ baseUrl: gateway.base, interceptors: [bearer(tokens.acme)] }));
    const expected = new Map<string, number>();
    const pool = stackPool(3, 100);
    for (let i = 0; i < 8; i++) {
      const w = agentWrite({ seed: i, pool, node: `node-${i % 3}`, round: i, baseMs: Date.UTC(2026, 10, 22) });
      await client.writeArrow({ ipcBuffer: samplesToArrow(w.batch) });
      addTotals(expected, w.totals);
    }

    const exit = await ingester.proc.exited;
    expect(exit.signal).toBe('SIGKILL');
    expect(ingester.proc.logTail()).toContain(`"step":"${step}"`);
    await ingester.stop();

    ingester = await startApp('ingester', { env });
    await waitForIngestDrained(bus);
    const stored = await storedTotals(bus, store, 'acme');
    expect(sortedEntries(stored.totals)).toEqual(sortedEntries(expected));

    const metrics = await (await fetch(`${ingester.base}/metrics`)).text();
    const duplicates = Number(/firn_ingester_messages_total\{outcome="duplicate"\} (\d+)/.exec(metrics)?.[1] ?? 0);
    // A message can be redelivered more than once (ack-wait is short here), so "at least".
    if (step === 'after-segment-write') expect(duplicates).toBe(0);
    else expect(duplicates).toBeGreaterThanOrEqual(8); // all eight were in the crashed ingester's valid segment
  }, 120_000);
});

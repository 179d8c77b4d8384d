import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { create } from '@bufbuild/protobuf';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import { createClient } from '@connectrpc/connect';
import { createGrpcTransport } from '@connectrpc/connect-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectBus, type Bus } from '@firn/bus';
import { RedisCache } from '@firn/cache';
import { encodeResolved, symbolKey } from '@firn/debuginfo';
import { SampleBatchBuilder, samplesFromPprof, samplesToArrow, type Frame } from '@firn/profiles';
import { profilestoreV1alpha1, queryV1alpha1 } from '@firn/proto';
import { S3Store } from '@firn/storage';
import { tenantFromTrustedSource } from '@firn/tenancy';
import { freePort, startNats, startRedis, startS3Server, type S3Server, type TestNats, type TestRedis } from '@firn/testing';
import { startApp, type RunningApp } from './support/apps';
import { arrowRequest, foldedRequest, rawRequest, type Gateway, type IngestRequestCase } from './support/ingest-requests';
import { CPU_TYPE, addTotals, stackPool, totalsOf } from './support/profiles-data';
import { RetryLog, untilAccepted } from './support/retrying-client';
import { bearer, makeTokens, s3Env, sortedEntries, storedTotals, waitForIngestDrained } from './support/write-path';

const Q = queryV1alpha1;
const TENANTS = ['gwkill', 'natsrestart', 's3outage', 'redis', 'calm', 'busy'];
/** Generous: starting an app (compiling its TypeScript) takes minutes on a loaded 2-core machine. */
const READY_MS = 240_000;
/** busy's rate: its clients below send about six times this. */
const BUSY_RATE = 16 * 1024;

/**
 * The fault suite: every component real and separate (gateway, two ingesters, querier, NATS
 * JetStream, an S3 server, Redis), clients that retry like agents do (same bytes, honouring
 * Retry-After), and one fault at a time. The check is always the same: the totals read back from
 * the stored segments equal, request by request (each has its own series), what the clients had
 * acknowledged: nothing lost, nothing counted twice.
 */
describe('fault suite: exact totals through crashes and outages', () => {
  let dir: string;
  let nats: TestNats;
  let s3: S3Server;
  let redis: TestRedis;
  let env: Record<string, string>;
  let gateway: RunningApp;
  const ingesters: RunningApp[] = [];
  let querier: RunningApp;
  let bus: Bus;
  let store: S3Store;
  let gw: Gateway;
  const pool = stackPool(77, 200);
  const baseMs = Date.now() - 10 * 60_000;
  const fromS = Math.floor(baseMs / 1000);

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'firn-e2e-faults-'));
    await Promise.all([mkdir(join(dir, 'nats')), mkdir(join(dir, 's3'))]);
    // A small max_payload, so the larger writes below travel as claim checks through S3.
    [nats, s3, redis] = await Promise.all([
      startNats({ dataDir: join(dir, 'nats'), maxPayloadBytes: 256 * 1024 }),
      startS3Server({ dataDir: join(dir, 's3') }),
      startRedis(),
    ]);
    const tokens = await makeTokens(join(dir, 'tokens.json'), TENANTS);
    await writeFile(join(dir, 'limits.yaml'), `tenants:\n  busy:\n    ingest_rate_bytes: ${BUSY_RATE}\n    ingest_burst_bytes: ${BUSY_RATE}\n`);
    env = {
      FIRN_NATS_URL: nats.url,
      ...s3Env(s3),
      FIRN_TOKENS_FILE: join(dir, 'tokens.json'),
      FIRN_LIMITS_FILE: join(dir, 'limits.yaml'),
      FIRN_REDIS_URL: redis.url,
      FIRN_SYMBOL_LOOKUP_TIMEOUT_MS: '1000',
      FIRN_INGESTER_FLUSH_MAX_AGE_MS: '500',
      FIRN_INGESTER_ACK_WAIT_MS: '5000',
    };
    const port = await freePort();
    // One at a time: on a loaded 2-core machine four processes compiling at once each take minutes.
    gateway = await startApp('gateway', { env, port, readyTimeoutMs: READY_MS });
    querier = await startApp('querier', { env, readyTimeoutMs: READY_MS });
    for (const id of ['faults-a', 'faults-b']) ingesters.push(await startApp('ingester', { env: { ...env, FIRN_INGESTER_ID: id }, readyTimeoutMs: READY_MS }));
    gw = { base: gateway.base, tokens };
    bus = await connectBus({ servers: [nats.url], name: 'e2e-faults' });
    store = new S3Store({
      endpoint: s3.endpoint,
      bucket: s3.bucket,
      region: s3.region,
      accessKeyId: s3.accessKeyId,
      secretAccessKey: s3.secretAccessKey,
      forcePathStyle: true,
    });
  }, 900_000);

  afterAll(async () => {
    try {
      process.kill(redis.pid, 'SIGCONT');
    } catch {
      // already gone
    }
    await Promise.all([gateway?.stop(), querier?.stop(), ...ingesters.map((i) => i.stop())]);
    await bus?.close();
    await store?.close();
    await Promise.all([nats?.stop(), s3?.stop(), redis?.stop()]);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  /**
   * Sends every case until accepted, `concurrency` at a time; returns once all are. With
   * `faultStarted`, the second half of the cases waits for it, so requests meet the fault however
   * fast or slow the machine is (without it, a fast machine could finish before the fault and a
   * slow one start after it).
   */
  async function runClients(cases: IngestRequestCase[], concurrency: number, log: RetryLog, faultStarted?: Promise<void>): Promise<void> {
    let next = 0;
    const half = Math.floor(cases.length / 2);
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next < cases.length) {
          const i = next++;
          const c = cases[i];
          if (faultStarted && i >= half) await faultStarted;
          await untilAccepted(c.what, log, (signal) => c.send(signal));
        }
      }),
    );
  }

  /** A promise and the function that resolves it. */
  function trigger(): { promise: Promise<void>; fire: () => void } {
    let fire: () => void = () => undefined;
    const promise = new Promise<void>((r) => (fire = r));
    return { promise, fire };
  }

  function mixed(tenant: string, n: number, seedBase: number): IngestRequestCase[] {
    return Array.from({ length: n }, (_, i) => {
      const tag = `${tenant}-${i}`;
      if (i % 3 === 0) return arrowRequest(gw, tenant, tag, seedBase + i, pool, baseMs);
      if (i % 3 === 1) return rawRequest(gw, tenant, tag, seedBase + i, pool, baseMs);
      return foldedRequest(gw, tenant, tag, 15, fromS);
    });
  }

  async function expectExact(tenant: string, cases: IngestRequestCase[]): Promise<void> {
    const expected = new Map<string, number>();
    for (const c of cases) addTotals(expected, c.expected);
    await waitForIngestDrained(bus, 180_000);
    const stored = await storedTotals(bus, store, tenant);
    expect(sortedEntries(stored.totals)).toEqual(sortedEntries(expected));
  }

  it('gateway SIGKILLed twice under retrying clients: every request stored exactly once', async () => {
    const cases = mixed('gwkill', 60, 1000);
    const log = new RetryLog();
    const killed = trigger();
    const clients = runClients(cases, 6, log, killed.promise);
    for (let k = 0; k < 2; k++) {
      await sleep(1500);
      await gateway.signal('SIGKILL');
      killed.fire();
      gateway = await startApp('gateway', { env, port: gateway.port, readyTimeoutMs: READY_MS });
    }
    await clients;
    console.log(`gateway SIGKILL ×2: ${log.summary()}`);
    expect(log.count('network') + log.count('grpc')).toBeGreaterThan(0);
    await expectExact('gwkill', cases);
  }, 900_000);

  it('NATS stopped for 5 s and restarted: clients told to retry (503/UNAVAILABLE with Retry-After), every request stored once', async () => {
    const cases = mixed('natsrestart', 45, 2000);
    const log = new RetryLog();
    const stopped = trigger();
    const clients = runClients(cases, 4, log, stopped.promise);
    await sleep(1500);
    await nats.stop();
    stopped.fire();
    await sleep(5000);
    nats = await startNats({ dataDir: join(dir, 'nats'), port: nats.port, maxPayloadBytes: 256 * 1024 });
    await clients;
    console.log(`NATS restart: ${log.summary()}`);
    expect(log.count('http 503') + log.count('grpc 14')).toBeGreaterThan(0);
    expect(log.withoutRetryAfter).toEqual([]);
    await expectExact('natsrestart', cases);
  }, 300_000);

  it('object storage down for 15 s: claim-check writes told to retry, ingesters hold their messages, every request stored once', async () => {
    // First the writes large enough to go through S3 as claim checks (NATS max_payload is 256 KiB
    // here), then ordinary ones, which travel inline while S3 is down.
    const cases = [...Array.from({ length: 4 }, (_, i) => bigArrow(`s3outage-big-${i}`, 3100 + i)), ...mixed('s3outage', 30, 3000)];
    const log = new RetryLog();
    await s3.stop();
    const clients = runClients(cases, 4, log);
    await sleep(15_000);
    s3 = await startS3Server({ dataDir: join(dir, 's3'), port: s3.port });
    await clients;
    console.log(`S3 outage: ${log.summary()}`);
    expect(log.count('grpc 14')).toBeGreaterThan(0);
    expect(log.withoutRetryAfter).toEqual([]);
    await expectExact('s3outage', cases);
    expect((await store.list('tenants/s3outage/claims/')).objects).toEqual([]);
  }, 300_000);

  it('Redis hung: queries still answer with the exact totals, the names read before, the rest unsymbolized, and name it once Redis is back', async () => {
    const tenant = 'redis';
    const buildId = 'feedfacecafebeef0011223344556677';
    const b = new SampleBatchBuilder();
    const frame = (address: bigint): Frame => ({ buildId, mappingFile: '/usr/bin/app', address, functionName: '', fileName: '', line: 0, inlined: false });
    // 0x3030 has no name in the cache yet: the querier asks about it on every query.
    b.add(CPU_TYPE, [['node', 'redis-node']], [frame(0x1010n), frame(0x2020n), frame(0x3030n)], 42, baseMs, 10_000_000_000, 52_631_578);
    const named = (addresses: bigint[]) =>
      addresses.map((a) => ({
        key: symbolKey(tenantFromTrustedSource(tenant), buildId, a),
        value: encodeResolved([{ functionName: `fn_${a.toString(16)}`, fileName: 'app.c', line: 1, inlined: false }]),
      }));
    const cache = new RedisCache({ url: redis.url });
    await cache.setMany(named([0x1010n, 0x2020n]));
    await cache.close();
    const lookupErrors = async (): Promise<number> =>
      (await (await fetch(`${querier.base}/metrics`)).text())
        .split('\n')
        .filter((l) => l.startsWith('firn_querier_symbol_lookups_total{') && l.includes('outcome="error"'))
        .reduce((n, l) => n + Number(l.split(' ').pop()), 0);
    const client = createClient(queryV1alpha1.QueryService, createGrpcTransport({ baseUrl: querier.base, interceptors: [bearer(gw.tokens[tenant])] }));
    const ipc = samplesToArrow(b.build());
    const writer = createClient(
      profilestoreV1alpha1.ProfileStoreService,
      createGrpcTransport({ baseUrl: gateway.base, interceptors: [bearer(gw.tokens[tenant])] }),
    );
    await untilAccepted('redis write', new RetryLog(), (signal) => writer.writeArrow({ ipcBuffer: ipc }, { signal }).then(() => undefined));
    await waitForIngestDrained(bus);
    const query = async (): Promise<{ total: number; names: string[] }> => {
      const res = await client.query(
        create(Q.QueryRequestSchema, {
          mode: Q.QueryRequest_Mode.MERGE,
          options: {
            case: 'merge',
            value: create(Q.MergeProfileSchema, {
              query: `${CPU_TYPE}{node="redis-node"}`,
              start: timestampFromMs(baseMs - 60_000),
              end: timestampFromMs(baseMs + 60_000),
            }),
          },
          reportType: Q.QueryRequest_ReportType.PPROF,
        }),
      );
      const p = samplesFromPprof(res.report.value as Uint8Array, {
        name: 'q',
        seriesLabels: [],
        nowMs: 0,
        limits: { maxDecompressedBytes: 1e8, maxSamples: 1e6, maxStackDepth: 1e4 },
      });
      return { total: Number(res.total), names: p.stacks.flatMap((s) => s.map((f) => f.functionName)) };
    };
    let before = await query();
    for (let i = 0; i < 100 && before.total !== 42; i++) {
      await sleep(300);
      before = await query();
    }
    expect(before).toEqual({ total: 42, names: ['fn_1010', 'fn_2020', ''] });
    const errors = await lookupErrors();
    process.kill(redis.pid, 'SIGSTOP');
    try {
      // The lookup of the unnamed frame times out (FIRN_SYMBOL_LOOKUP_TIMEOUT_MS); the names read
      // before are used as read (FIRN_SYMBOL_NAME_RECHECK).
      const during = await query();
      expect(during).toEqual({ total: 42, names: ['fn_1010', 'fn_2020', ''] });
      expect(await lookupErrors()).toBeGreaterThanOrEqual(errors + 1);
    } finally {
      process.kill(redis.pid, 'SIGCONT');
    }
    const back = new RedisCache({ url: redis.url });
    await back.setMany(named([0x3030n]));
    await back.close();
    let after = await query();
    for (let i = 0; i < 50 && after.names[2] === ''; i++) {
      await sleep(300);
      after = await query();
    }
    expect(after).toEqual({ total: 42, names: ['fn_1010', 'fn_2020', 'fn_3030'] });
  }, 180_000);

  it('one tenant at six times its ingest rate next to a calm one: the calm one never refused, both stored exactly', async () => {
    const busy = Array.from({ length: 90 }, (_, i) => arrowRequest(gw, 'busy', `busy-${i}`, 5000 + i, pool, baseMs));
    const calm = Array.from({ length: 30 }, (_, i) =>
      i % 2 === 0 ? arrowRequest(gw, 'calm', `calm-${i}`, 6000 + i, pool, baseMs) : foldedRequest(gw, 'calm', `calm-${i}`, 10, fromS),
    );
    const bytes = busy.reduce((n, c) => n + c.bytes.length, 0);
    const busyLog = new RetryLog();
    const calmLog = new RetryLog();
    // busy offers its bytes over ~3 s (with retries honouring Retry-After); calm sends steadily.
    const start = Date.now();
    const busyClients = runClients(busy, 24, busyLog);
    const calmClients = (async () => {
      for (const c of calm) {
        await untilAccepted(c.what, calmLog, (signal) => c.send(signal));
        await sleep(150);
      }
    })();
    await Promise.all([busyClients, calmClients]);
    console.log(
      `overload: busy offered ${(bytes / 1024).toFixed(0)} KiB (${(bytes / BUSY_RATE / 3).toFixed(1)}× its rate over 3 s), accepted in ${((Date.now() - start) / 1000).toFixed(1)} s: ${busyLog.summary()}; calm: ${calmLog.summary()}`,
    );
    expect(bytes / BUSY_RATE / 3).toBeGreaterThan(5);
    expect(busyLog.count('grpc 8')).toBeGreaterThan(0);
    expect(busyLog.withoutRetryAfter).toEqual([]);
    expect(calmLog.retries).toBe(0);
    await expectExact('busy', busy);
    await expectExact('calm', calm);
  }, 300_000);

  /** A WriteArrow larger than a NATS message: the gateway stores it in S3 first (claim check). */
  function bigArrow(tag: string, seed: number): IngestRequestCase {
    const b = new SampleBatchBuilder();
    const series: Array<[string, string]> = [['node', tag]];
    for (let i = 0; i < 5000; i++)
      b.add(
        CPU_TYPE,
        series,
        pool[(seed + i) % pool.length].map((f) => ({ ...f, line: f.line + i })),
        1 + (i % 5),
        baseMs,
        0,
        0,
      );
    const batch = b.build();
    const ipcBuffer = samplesToArrow(batch);
    expect(ipcBuffer.length).toBeGreaterThan(256 * 1024);
    const writer = createClient(
      profilestoreV1alpha1.ProfileStoreService,
      createGrpcTransport({ baseUrl: gw.base, interceptors: [bearer(gw.tokens['s3outage'])] }),
    );
    return {
      what: `big WriteArrow ${tag}`,
      tenant: 's3outage',
      expected: totalsOf(batch),
      bytes: ipcBuffer,
      send: async (signal) => void (await writer.writeArrow({ ipcBuffer }, { signal })),
    };
  }
});

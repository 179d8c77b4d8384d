import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Code, ConnectError, createClient } from '@connectrpc/connect';
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from '@connectrpc/connect-node';
import { toBinary } from '@bufbuild/protobuf';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectBus, type Bus } from '@firn/bus';
import { samplesToPprof } from '@firn/profiles';
import { otlpCollectorProfilesV1development as otlpCollector, profilestoreV1alpha1, pushV1 } from '@firn/proto';
import { LocalDirStore } from '@firn/storage';
import { startNats, type TestNats } from '@firn/testing';
import { startApp, type RunningApp } from './support/apps';
import { arrowRequest, foldedRequest, rawRequest, type Gateway, type IngestRequestCase } from './support/ingest-requests';
import { otlpRequestFromBatch } from './support/otlp';
import { CPU_TYPE, addTotals, agentWrite, stackPool } from './support/profiles-data';
import { bearer, makeTokens, sortedEntries, storedTotals, waitForIngestDrained } from './support/write-path';

/**
 * Long enough that every copy of a request below reaches the gateway within it even on a loaded
 * 2-core machine (five concurrent copies there can take several seconds), short enough to wait out.
 */
const WINDOW_MS = 30_000;

/**
 * Retries are stored once, through every ingest API and transport of a real gateway, and the
 * dedupe window ends as docs/architecture.md ("Idempotent ingest") says. Totals are read back
 * from the segments the ingester wrote.
 */
describe('idempotent ingest through a gateway process', () => {
  let dir: string;
  let nats: TestNats;
  let gateway: RunningApp;
  let ingester: RunningApp;
  let bus: Bus;
  let store: LocalDirStore;
  let gw: Gateway;
  const expected = new Map<string, number>();
  const pool = stackPool(41, 50);
  const baseMs = Date.now() - 120_000;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'firn-e2e-idem-'));
    nats = await startNats();
    const tokens = await makeTokens(join(dir, 'tokens.json'), ['idem']);
    const env = {
      FIRN_NATS_URL: nats.url,
      FIRN_STORAGE: 'local',
      FIRN_DATA_DIR: join(dir, 'data'),
      FIRN_TOKENS_FILE: join(dir, 'tokens.json'),
      FIRN_INGEST_DEDUPE_WINDOW_MS: String(WINDOW_MS),
      FIRN_MAX_REQUEST_BYTES: String(1024 * 1024),
      FIRN_INGESTER_FLUSH_MAX_AGE_MS: '300',
    };
    [gateway, ingester] = await Promise.all([startApp('gateway', { env }), startApp('ingester', { env })]);
    gw = { base: gateway.base, tokens };
    bus = await connectBus({ servers: [nats.url], name: 'e2e-idempotency' });
    store = new LocalDirStore({ dir: join(dir, 'data', 'objects') });
  }, 240_000);

  afterAll(async () => {
    await Promise.all([gateway?.stop(), ingester?.stop()]);
    await bus?.close();
    await nats?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  async function expectStored(): Promise<void> {
    await waitForIngestDrained(bus);
    const stored = await storedTotals(bus, store, 'idem');
    expect(sortedEntries(stored.totals)).toEqual(sortedEntries(expected));
  }

  it('stores a request sent five times at once, and once more, exactly once on every API', async () => {
    const cases: IngestRequestCase[] = [
      arrowRequest(gw, 'idem', 'arrow', 1, pool, baseMs),
      rawRequest(gw, 'idem', 'raw', 2, pool, baseMs),
      foldedRequest(gw, 'idem', 'folded', 20, Math.floor(baseMs / 1000)),
    ];
    for (const c of cases) {
      await Promise.all(Array.from({ length: 5 }, () => c.send(AbortSignal.timeout(30_000))));
      await c.send(AbortSignal.timeout(30_000));
      addTotals(expected, c.expected);
    }
    // gRPC-web and Connect carry WriteArrow too: the same bytes through three transports are one write.
    const again = arrowRequest(gw, 'idem', 'transports', 3, pool, baseMs);
    const ipc = { ipcBuffer: again.bytes };
    for (const transport of [createGrpcTransport, createGrpcWebTransport, createConnectTransport]) {
      const c = createClient(
        profilestoreV1alpha1.ProfileStoreService,
        transport({ baseUrl: gateway.base, httpVersion: transport === createGrpcTransport ? '2' : '1.1', interceptors: [bearer(gw.tokens['idem'])] }),
      );
      await Promise.all([c.writeArrow(ipc), c.writeArrow(ipc)]);
    }
    addTotals(expected, again.expected);
    await expectStored();
    const metrics = await (await fetch(`${gateway.base}/metrics`)).text();
    const duplicates = [...metrics.matchAll(/firn_gateway_ingest_requests_total\{source="\w+",outcome="duplicate"\} (\d+)/g)].reduce(
      (n, m) => n + Number(m[1]),
      0,
    );
    expect(duplicates).toBe(3 * 5 + 5);
  }, 180_000);

  it('stores a Pyroscope Push and an OTLP export (gRPC and OTLP/HTTP) sent five times at once, and once more, exactly once; a new Idempotency-Key counts again', async () => {
    const token = gw.tokens['idem'];
    const interceptors = [bearer(token)];
    const pusher = createClient(pushV1.PusherService, createConnectTransport({ baseUrl: gateway.base, httpVersion: '1.1', interceptors }));
    const otlpGrpc = createClient(otlpCollector.ProfilesService, createGrpcTransport({ baseUrl: gateway.base, interceptors }));
    const batchOf = (tag: string, seed: number) => agentWrite({ seed, pool, node: `idem-${tag}`, round: 0, baseMs }).batch;
    const pushBatch = batchOf('push', 11);
    const rawProfile = samplesToPprof(pushBatch, CPU_TYPE, { includeLabels: false });
    const pushLabels = [['__name__', 'process_cpu'], ['service_name', 'idem-push'], ...pushBatch.series[0]].map(([name, value]) => ({ name, value }));
    const otlpBody = toBinary(otlpCollector.ExportProfilesServiceRequestSchema, otlpRequestFromBatch(batchOf('otlp-http', 12)));
    const otlpGrpcReq = otlpRequestFromBatch(batchOf('otlp-grpc', 13));
    const cases: Array<{ what: string; send: (headers?: Record<string, string>) => Promise<void> }> = [
      { what: 'Push', send: async (headers) => void (await pusher.push({ series: [{ labels: pushLabels, samples: [{ rawProfile }] }] }, { headers })) },
      { what: 'OTLP gRPC', send: async (headers) => void (await otlpGrpc.export(otlpGrpcReq, { headers })) },
      {
        what: 'OTLP/HTTP',
        send: async (headers = {}) => {
          const res = await fetch(`${gateway.base}/v1development/profiles`, {
            method: 'POST',
            headers: { authorization: `Bearer ${token}`, 'content-type': 'application/x-protobuf', ...headers },
            body: otlpBody,
          });
          await res.arrayBuffer();
          expect(res.status).toBe(200);
        },
      },
    ];
    /** What the store holds beyond `expected` (the entries this case added). */
    const added = async (): Promise<Map<string, number>> => {
      await waitForIngestDrained(bus);
      const out = new Map<string, number>();
      for (const [k, v] of (await storedTotals(bus, store, 'idem')).totals) if (v !== (expected.get(k) ?? 0)) out.set(k, v - (expected.get(k) ?? 0));
      return out;
    };
    for (const c of cases) {
      await Promise.all(Array.from({ length: 5 }, () => c.send()));
      await c.send();
      const once = await added();
      expect(once.size, c.what).toBeGreaterThan(0);
      // The same content under a key of its own is another request: exactly one more copy.
      await c.send({ 'idempotency-key': `another-${c.what.replace(/\W/g, '-')}` });
      const twice = await added();
      expect(sortedEntries(twice), c.what).toEqual(sortedEntries(new Map([...once].map(([k, v]) => [k, 2 * v]))));
      addTotals(expected, twice);
    }
    await expectStored();
  }, 180_000);

  it('honours Idempotency-Key (HTTP header, gRPC metadata) over the body', async () => {
    const fromS = Math.floor(baseMs / 1000);
    const first = foldedRequest(gw, 'idem', 'keyed-a', 5, fromS, { 'idempotency-key': 'upload-1' });
    const other = foldedRequest(gw, 'idem', 'keyed-b', 7, fromS, { 'idempotency-key': 'upload-1' });
    await first.send(AbortSignal.timeout(30_000));
    await other.send(AbortSignal.timeout(30_000));
    addTotals(expected, first.expected);
    const a = arrowRequest(gw, 'idem', 'keyed-arrow-a', 4, pool, baseMs, { 'idempotency-key': 'batch-7' });
    const b = arrowRequest(gw, 'idem', 'keyed-arrow-b', 5, pool, baseMs, { 'idempotency-key': 'batch-7' });
    await a.send(AbortSignal.timeout(30_000));
    await b.send(AbortSignal.timeout(30_000));
    addTotals(expected, a.expected);
    const bad = await fetch(`${gateway.base}/ingest?name=x.cpu&from=${fromS}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${gw.tokens['idem']}`, 'idempotency-key': 'has spaces in it' },
      body: 'a;b 1',
    });
    expect(bad.status).toBe(400);
    await expectStored();
  }, 120_000);

  it('counts the same untimed body once within the dedupe window and again after it; a timed one likewise', async () => {
    const untimedBody = 'main;untimed;leaf 4\nmain;untimed;other 6\n';
    const untimed = () =>
      fetch(`${gateway.base}/ingest?name=untimed.cpu`, { method: 'POST', headers: { authorization: `Bearer ${gw.tokens['idem']}` }, body: untimedBody });
    const timed = foldedRequest(gw, 'idem', 'timed-later', 3, Math.floor(baseMs / 1000));
    expect((await Promise.all([untimed(), untimed()])).map((r) => r.status)).toEqual([200, 200]);
    await timed.send(AbortSignal.timeout(30_000));
    await sleep(WINDOW_MS + 2000);
    expect((await untimed()).status).toBe(200);
    await timed.send(AbortSignal.timeout(30_000));
    addTotals(expected, timed.expected);
    addTotals(expected, timed.expected);
    await waitForIngestDrained(bus);
    const stored = await storedTotals(bus, store, 'idem');
    const untimedTotal = [...stored.totals].filter(([k]) => k.includes('untimed')).reduce((n, [, v]) => n + v, 0);
    // Twice: once for the two copies within the window, once for the copy after it (10 × 10 ms each).
    expect(untimedTotal).toBe(2 * 10 * 10_000_000);
    for (const [k, v] of stored.totals) if (k.includes('untimed')) expected.set(k, v);
    expect(sortedEntries(stored.totals)).toEqual(sortedEntries(expected));
  }, 120_000);

  it('says 413 without Retry-After for an oversized request on every transport', async () => {
    const big = new Uint8Array(2 * 1024 * 1024);
    const connect = await fetch(`${gateway.base}/parca.profilestore.v1alpha1.ProfileStoreService/WriteArrow`, {
      method: 'POST',
      headers: { authorization: `Bearer ${gw.tokens['idem']}`, 'content-type': 'application/proto' },
      body: big,
    });
    expect([connect.status, connect.headers.get('retry-after')]).toEqual([413, null]);
    const ingest = await fetch(`${gateway.base}/ingest?name=big.cpu`, { method: 'POST', headers: { authorization: `Bearer ${gw.tokens['idem']}` }, body: big });
    expect([ingest.status, ingest.headers.get('retry-after')]).toEqual([413, null]);
    const grpc = createClient(
      profilestoreV1alpha1.ProfileStoreService,
      createGrpcTransport({ baseUrl: gateway.base, interceptors: [bearer(gw.tokens['idem'])] }),
    );
    const err = await grpc.writeArrow({ ipcBuffer: big }).then(
      () => undefined,
      (e: unknown) => ConnectError.from(e),
    );
    expect([err?.code, err?.metadata.get('retry-after')]).toEqual([Code.ResourceExhausted, null]);
  }, 60_000);
});

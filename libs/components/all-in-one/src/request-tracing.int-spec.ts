import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { create } from '@bufbuild/protobuf';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import { createClient, type Interceptor } from '@connectrpc/connect';
import { createGrpcTransport } from '@connectrpc/connect-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SettingsDef } from '@firn/config';
import { gatewayServer } from '@firn/gateway';
import { ingesterServer } from '@firn/ingester';
import { SampleBatchBuilder, samplesToArrow, type Frame } from '@firn/profiles';
import { profilestoreV1alpha1, queryV1alpha1 } from '@firn/proto';
import { querierServer } from '@firn/querier';
import { runServer, type RunningServer, type ServerSpec } from '@firn/server-runtime';
import { symbolizerServer } from '@firn/symbolizer';
import { Scope, issueToken, writeTokenFile } from '@firn/tenancy';
import { freePort, startNats, type TestNats } from '@firn/testing';

// The servers' batch span processors export every 100 ms instead of every 5 s (read at start).
process.env.OTEL_BSP_SCHEDULE_DELAY = '100';

/** One span as an OTLP/HTTP receiver got it. */
interface ReceivedSpan {
  service: string;
  name: string;
  traceId: string;
  spanId: string;
  parentSpanId: string;
  links: Array<{ traceId: string; spanId: string }>;
}

interface OtlpReceiver {
  url: string;
  spans: ReceivedSpan[];
  close(): Promise<void>;
}

interface OtlpAttribute {
  key: string;
  value: { stringValue?: string };
}

/** OTLP/JSON `ExportTraceServiceRequest` (ids are hex strings in OTLP/JSON). */
interface OtlpTraceRequest {
  resourceSpans?: Array<{
    resource?: { attributes?: OtlpAttribute[] };
    scopeSpans?: Array<{
      spans?: Array<{ name: string; traceId: string; spanId: string; parentSpanId?: string; links?: Array<{ traceId: string; spanId: string }> }>;
    }>;
  }>;
}

/**
 * A real OTLP/HTTP traces endpoint: `POST /v1/traces` with the OTLP/JSON encoding the servers'
 * exporter (@opentelemetry/exporter-trace-otlp-http) sends. Anything else is refused, so a
 * change of the exporter's encoding fails here loudly instead of silently receiving nothing.
 */
async function startOtlpReceiver(): Promise<OtlpReceiver> {
  const spans: ReceivedSpan[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.method !== 'POST' || req.url !== '/v1/traces' || !req.headers['content-type']?.startsWith('application/json')) {
        res.writeHead(415).end();
        return;
      }
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as OtlpTraceRequest;
      for (const rs of body.resourceSpans ?? []) {
        const service = rs.resource?.attributes?.find((a) => a.key === 'service.name')?.value.stringValue ?? '';
        for (const ss of rs.scopeSpans ?? []) {
          for (const s of ss.spans ?? []) {
            spans.push({
              service,
              name: s.name,
              traceId: s.traceId,
              spanId: s.spanId,
              parentSpanId: s.parentSpanId ?? '',
              links: (s.links ?? []).map((l) => ({ traceId: l.traceId, spanId: l.spanId })),
            });
          }
        }
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/v1/traces`, spans, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

/** A caller's own span, sent as W3C `traceparent`: every Firn span of the request must join its trace. */
function callerSpan(): { traceId: string; spanId: string; header: Interceptor } {
  const traceId = randomBytes(16).toString('hex');
  const spanId = randomBytes(8).toString('hex');
  return {
    traceId,
    spanId,
    header: (next) => (req) => {
      req.header.set('traceparent', `00-${traceId}-${spanId}-01`);
      return next(req);
    },
  };
}

function bearer(token: string): Interceptor {
  return (next) => (req) => {
    req.header.set('authorization', `Bearer ${token}`);
    return next(req);
  };
}

const CPU_TYPE = 'parca_agent:samples:count:cpu:nanoseconds:delta';
const BUILD_ID = 'ab'.repeat(20);

/** Address-only frames (as the agent sends them), so the ingester queues them for the symbolizer. */
function stack(seed: number): Frame[] {
  return [0, 1, 2].map((d) => ({
    buildId: BUILD_ID,
    mappingFile: '/usr/bin/app',
    address: BigInt(0x1000 + seed * 0x100 + d * 0x10),
    functionName: '',
    fileName: '',
    line: 0,
    inlined: false,
  }));
}

function writeRequest(seed: number, value: number, tsMs: number): Uint8Array {
  const b = new SampleBatchBuilder();
  b.add(CPU_TYPE, [['node', 'n1']], stack(seed), value, tsMs, 0, 0);
  return samplesToArrow(b.build());
}

/**
 * A gateway, an ingester, a symbolizer and two queriers (peers: the first splits its queries with
 * the second), each a real server on its own port in this process, all exporting to one OTLP
 * receiver. One ingest request must be one trace from the gateway's API to the ingester's flush
 * (and on to the symbolizer), and one query one trace from the gateway through the querier front
 * to the peer's scan, every span joined to its parent.
 */
describe('request tracing', () => {
  let nats: TestNats;
  let dir: string;
  let otlp: OtlpReceiver;
  const servers: RunningServer[] = [];
  let gatewayUrl: string;
  let token: string;
  const nowMs = Date.now();

  beforeAll(async () => {
    [nats, otlp, dir] = await Promise.all([startNats(), startOtlpReceiver(), mkdtemp(join(tmpdir(), 'firn-tracing-'))]);
    const issued = issueToken('acme', [Scope.WriteProfiles, Scope.ReadProfiles]);
    token = issued.token;
    await writeTokenFile(join(dir, 'tokens.json'), [issued.record]);
    const env = {
      FIRN_NATS_URL: nats.url,
      FIRN_STORAGE: 'local',
      FIRN_DATA_DIR: join(dir, 'data'),
      FIRN_TOKENS_FILE: join(dir, 'tokens.json'),
      FIRN_INTERNAL_TOKEN: 'tracing-test-internal-token-0123456789',
      FIRN_SYMBOL_CACHE: 'memory',
      FIRN_SYMBOLIZER_CACHE_DIR: join(dir, 'symbolizer-cache'),
      FIRN_INGESTER_FLUSH_MAX_AGE_MS: '1000',
      FIRN_OTLP_ENDPOINT: otlp.url,
      FIRN_LOG_LEVEL: 'silent',
    };
    const [front, peer, gw] = await Promise.all([freePort(), freePort(), freePort()]);
    const start = async <D extends SettingsDef>(spec: ServerSpec<D>, port: number, extra: Record<string, string> = {}): Promise<void> => {
      servers.push(await runServer(spec, { argv: ['--host', '127.0.0.1', '--port', String(port)], env: { ...env, ...extra } }));
    };
    await start(ingesterServer, 0);
    await start(symbolizerServer, 0);
    await start(querierServer, peer);
    // No series tables (so no stack sums) on the front: it hands every query a peer share, where
    // one holding sums would keep their segments.
    await start(querierServer, front, { FIRN_QUERIER_PEERS: `http://127.0.0.1:${peer}`, FIRN_QUERIER_SERIES_CACHE_BYTES: '0' });
    await start(gatewayServer, gw, { FIRN_QUERIERS: `http://127.0.0.1:${front}` });
    gatewayUrl = `http://127.0.0.1:${gw}`;
  }, 120_000);

  afterAll(async () => {
    for (const s of servers.reverse()) await s.shutdown('test');
    await Promise.all([nats?.stop(), otlp?.close()]);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  /** Waits until the receiver holds a span of `traceId` matching `pick`. */
  async function span(traceId: string, pick: (s: ReceivedSpan) => boolean, what: string, timeoutMs = 30_000): Promise<ReceivedSpan> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = otlp.spans.find((s) => s.traceId === traceId && pick(s));
      if (found) return found;
      if (Date.now() > deadline) {
        const seen = otlp.spans.filter((s) => s.traceId === traceId).map((s) => `${s.service}/${s.name}`);
        throw new Error(`no span ${what} in trace ${traceId}; it has: ${seen.join(', ') || 'nothing'}`);
      }
      await sleep(100);
    }
  }

  const named = (service: string, name: string) => (s: ReceivedSpan) => s.service === service && s.name === name;
  const child = (parent: ReceivedSpan, service: string, name: string) => (s: ReceivedSpan) => named(service, name)(s) && s.parentSpanId === parent.spanId;

  async function write(seed: number, value: number): Promise<{ traceId: string; spanId: string }> {
    const caller = callerSpan();
    const client = createClient(
      profilestoreV1alpha1.ProfileStoreService,
      createGrpcTransport({ baseUrl: gatewayUrl, interceptors: [bearer(token), caller.header] }),
    );
    await client.writeArrow({ ipcBuffer: writeRequest(seed, value, nowMs - 60_000 + seed) });
    return caller;
  }

  it('does make one ingest request one trace from the gateway API to the ingester flush and the symbolizer', async () => {
    const caller = await write(1, 7);
    const t = caller.traceId;
    const api = await span(t, named('firn-gateway', 'parca.profilestore.v1alpha1.ProfileStoreService/WriteArrow'), 'gateway WriteArrow');
    expect(api.parentSpanId).toBe(caller.spanId);
    await span(t, child(api, 'firn-gateway', 'ingest.decode'), 'ingest.decode under the API span');
    const append = await span(t, child(api, 'firn-gateway', 'ingest.append'), 'ingest.append under the API span');
    // Across the ingest log: the message headers carry the append span's context.
    await span(t, child(append, 'firn-ingester', 'ingester.decode'), 'ingester.decode under ingest.append');
    const flush = await span(t, child(append, 'firn-ingester', 'ingester.flush'), 'ingester.flush under ingest.append');
    expect(flush.links).toEqual([{ traceId: t, spanId: append.spanId }]);
    await span(t, child(flush, 'firn-ingester', 'segment.write'), 'segment.write under the flush');
    await span(t, child(flush, 'firn-ingester', 'manifest.publish'), 'manifest.publish under the flush');
    // Across the symbolize queue: the job continues the flush that queued its addresses.
    await span(t, child(flush, 'firn-symbolizer', 'symbolize.job'), 'symbolize.job under the flush');
  });

  it('does link a flush of several requests to each of them', async () => {
    const [a, b] = await Promise.all([write(2, 5), write(3, 11)]);
    const appends = await Promise.all([a, b].map((c) => span(c.traceId, named('firn-gateway', 'ingest.append'), 'ingest.append')));
    const flushes = await Promise.all([a, b].map((c) => span(c.traceId, named('firn-ingester', 'ingester.flush'), 'a flush', 5000).catch(() => undefined)));
    // One flush took both messages: it is in the trace of the first and links to both appends.
    const flush = flushes.find((f) => f !== undefined);
    expect(flushes.filter((f) => f !== undefined)).toHaveLength(1);
    expect(flush?.links.map((l) => l.spanId).sort()).toEqual(appends.map((s) => s.spanId).sort());
    expect(appends.map((s) => s.spanId)).toContain(flush?.parentSpanId);
  });

  it('does make one query one trace from the gateway through the querier front to its peer', async () => {
    const merge = create(queryV1alpha1.QueryRequestSchema, {
      mode: queryV1alpha1.QueryRequest_Mode.MERGE,
      options: {
        case: 'merge',
        value: create(queryV1alpha1.MergeProfileSchema, {
          query: `${CPU_TYPE}{}`,
          start: timestampFromMs(nowMs - 3600_000),
          end: timestampFromMs(nowMs + 60_000),
        }),
      },
      reportType: queryV1alpha1.QueryRequest_ReportType.TOP,
    });
    // Both segments (the first test's and the second's) must be in the front's manifest view, so
    // the query has two shares: one scanned here, one by the peer.
    let caller = callerSpan();
    for (let i = 0; i < 50; i++) {
      caller = callerSpan();
      const client = createClient(queryV1alpha1.QueryService, createGrpcTransport({ baseUrl: gatewayUrl, interceptors: [bearer(token), caller.header] }));
      if (Number((await client.query(merge)).total) === 7 + 5 + 11) break;
      await sleep(200);
    }
    const t = caller.traceId;
    const QUERY = 'parca.query.v1alpha1.QueryService/Query';
    const gw = await span(t, named('firn-gateway', QUERY), 'gateway Query');
    expect(gw.parentSpanId).toBe(caller.spanId);
    const front = await span(t, child(gw, 'firn-querier', QUERY), 'the front querier under the gateway');
    await span(t, child(front, 'firn-querier', 'query.scan'), 'the local share scan');
    const share = await span(t, child(front, 'firn-querier', 'query.peer'), 'the peer share');
    const peer = await span(t, child(share, 'firn-querier', 'firn.query.v1.PartialQueryService/Partial'), 'the peer querier under its share');
    await span(t, child(peer, 'firn-querier', 'query.scan'), "the peer's scan");
    await span(t, child(front, 'firn-querier', 'query.merge'), 'the merge on the front');
    await span(t, child(front, 'firn-querier', 'query.symbolize'), 'symbolization on the front');
  });
});

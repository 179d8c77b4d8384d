import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { setTimeout as sleep } from 'node:timers/promises';
import { trace } from '@opentelemetry/api';
import { create, toBinary } from '@bufbuild/protobuf';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectBus, type Bus } from '@firn/bus';
import { isFirnError } from '@firn/errors';
import { INGEST_STREAM, readIngest } from '@firn/ingest-log';
import { DEFAULT_TENANT_LIMITS, RuntimeLimits } from '@firn/limits';
import { createLogger, createMetricsRegistry, type Registry } from '@firn/observability';
import { SampleBatchBuilder, samplesFromArrow, samplesToArrow, samplesToPprof } from '@firn/profiles';
import { googleV1 } from '@firn/proto';
import { LocalDirStore } from '@firn/storage';
import { tenantFromTrustedSource } from '@firn/tenancy';
import { gzipBomb, startNats, type TestNats } from '@firn/testing';
import { DEFAULT_GATEWAY_OPTIONS } from '../gateway.options';
import { ArrowDecoder } from './decoders/arrow.decoder';
import { PprofSeriesDecoder } from './decoders/pprof-series.decoder';
import { PyroscopeIngestDecoder } from './decoders/pyroscope.decoder';
import type { IngestDecoder } from './ingest-decoder';
import { IngestLimits } from './ingest-limits';
import { IngestPipeline, type IngestRequest } from './ingest-pipeline';

const TYPE = 'parca_agent:samples:count:cpu:nanoseconds:delta';
const acme = tenantFromTrustedSource('acme');

/** Fixed, so a batch built again for a retry has the same bytes. */
const T0 = Date.now() - 60_000;

function batch(seed: number, tsMs = T0) {
  const b = new SampleBatchBuilder();
  const frame = (fn: string) => ({ buildId: '', mappingFile: '', address: 0n, functionName: fn, fileName: '', line: 0, inlined: false });
  for (let i = 0; i < 5; i++) b.add(TYPE, [['node', `n${seed}`]], [frame(`leaf${i}`), frame('main')], i + 1 + seed, tsMs, 10_000_000_000, 52_631_578);
  return b.build();
}

/** Wraps a decoder and counts its calls, to prove what is refused before decoding. */
function spy(inner: IngestDecoder): IngestDecoder & { calls: number } {
  const s = { format: inner.format, calls: 0, decode: (...a: Parameters<IngestDecoder['decode']>) => (s.calls++, inner.decode(...a)) };
  return s;
}

/** A pprof without time_nanos (the gateway places it at its receive time). */
function timelessPprof(value: number): Uint8Array {
  const P = googleV1;
  const profile = create(P.ProfileSchema, {
    stringTable: ['', 'samples', 'count', 'main'],
    sampleType: [create(P.ValueTypeSchema, { type: 1n, unit: 2n })],
    function: [create(P.FunctionSchema, { id: 1n, name: 3n })],
    location: [create(P.LocationSchema, { id: 1n, line: [create(P.LineSchema, { functionId: 1n })] })],
    sample: [create(P.SampleSchema, { locationId: [1n], value: [BigInt(value)] })],
  });
  return gzipSync(toBinary(P.ProfileSchema, profile));
}

function multipart(boundary: string, pprof: Uint8Array): { body: Uint8Array; contentType: string } {
  const head = Buffer.from(
    `--${boundary}\r\nContent-Disposition: form-data; name="profile"; filename="profile.pprof"\r\nContent-Type: application/octet-stream\r\n\r\n`,
  );
  return { body: Buffer.concat([head, pprof, Buffer.from(`\r\n--${boundary}--\r\n`)]), contentType: `multipart/form-data; boundary=${boundary}` };
}

interface Fixture {
  nats: TestNats;
  bus: Bus;
  dir: string;
  registry: Registry;
  pipeline: IngestPipeline;
  lastSeq(): Promise<number>;
  close(): Promise<void>;
}

async function fixture(opts: Partial<typeof DEFAULT_GATEWAY_OPTIONS> = {}, tenantLimits: Partial<typeof DEFAULT_TENANT_LIMITS> = {}): Promise<Fixture> {
  const nats = await startNats();
  const bus = await connectBus({ servers: [nats.url], name: 'ingest-pipeline-test', requestTimeoutMs: 2000 });
  const dir = await mkdtemp(join(tmpdir(), 'firn-ingest-pipeline-'));
  const registry = createMetricsRegistry('gateway', { defaultMetrics: false });
  const o = { ...DEFAULT_GATEWAY_OPTIONS, maxRequestBytes: 256 * 1024, ...opts };
  const limits = new IngestLimits(
    RuntimeLimits.fixed({ ...DEFAULT_TENANT_LIMITS, maxProfileBytes: 256 * 1024, maxDecompressedBytes: 1024 * 1024, ...tenantLimits }),
    o,
    registry,
  );
  const pipeline = new IngestPipeline(
    bus,
    new LocalDirStore({ dir }),
    createLogger({ component: 'gateway', level: 'silent' }),
    registry,
    o,
    limits,
    trace.getTracer('test'),
  );
  return {
    nats,
    bus,
    dir,
    registry,
    pipeline,
    lastSeq: async () => (await bus.streamState(INGEST_STREAM).catch(() => ({ lastSeq: 0 }))).lastSeq,
    async close() {
      await bus.close();
      await nats.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** The timestamps of the rows in log entry `seq`. */
async function timestampsAt(f: Fixture, seq: number): Promise<number[]> {
  const m = await f.bus.getMessage(INGEST_STREAM, seq);
  if (!m) throw new Error(`no ingest log message at seq ${seq}`);
  const e = await readIngest(new LocalDirStore({ dir: f.dir }), m.subject, m.data);
  return [...new Set(samplesFromArrow(e.payload, { maxRows: 1e6, maxStackDepth: 1e4, maxBytes: 1e9 }).timestampMs)];
}

describe(IngestPipeline.name, () => {
  let f: Fixture;
  let registry: Registry;
  let pipeline: IngestPipeline;
  let lastSeq: () => Promise<number>;

  beforeAll(async () => {
    f = await fixture();
    ({ registry, pipeline, lastSeq } = f);
  }, 30_000);

  afterAll(async () => {
    await f?.close();
  });

  it('appends one log entry per accepted request, whichever API and decoder it came through', async () => {
    const start = await lastSeq();
    const arrow = await pipeline.accept({
      tenant: acme,
      api: 'parca.WriteArrow',
      parts: [{ what: 'ipc_buffer', bytes: samplesToArrow(batch(1)) }],
      decoder: new ArrowDecoder(),
    });
    const raw = await pipeline.accept({
      tenant: acme,
      api: 'parca.WriteRaw',
      parts: [
        {
          what: 'series[0].samples[0]',
          bytes: samplesToPprof(batch(2), TYPE),
          labels: [
            ['__name__', 'parca_agent'],
            ['node', 'n2'],
          ],
        },
      ],
      series: 1,
      decoder: new PprofSeriesDecoder(),
    });
    const folded = await pipeline.accept({
      tenant: acme,
      api: 'pyroscope.ingest',
      params: { name: 'app.cpu{env=test}', from: String(Math.floor(Date.now() / 1000) - 60) },
      parts: [{ what: 'request body', bytes: gzipSync('main;work 3\nmain;idle 1\n'), contentEncoding: 'gzip' }],
      decoder: new PyroscopeIngestDecoder('folded', '/ingest'),
    });
    expect([arrow.rows, raw.rows, folded.rows]).toEqual([5, 5, 2]);
    expect(await lastSeq()).toBe(start + 3);
    const metrics = await registry.getSingleMetricAsString('firn_gateway_ingest_requests_total');
    for (const source of ['arrow', 'pprof', 'folded']) expect(metrics).toContain(`source="${source}",outcome="ok"} 1`);
  });

  it('appends a WriteArrow request it only checked as it was sent, and counts its rows', async () => {
    const sent = samplesToArrow(batch(7));
    const res = await pipeline.accept({ tenant: acme, api: 'parca.WriteArrow', parts: [{ what: 'ipc_buffer', bytes: sent }], decoder: new ArrowDecoder() });
    expect(res.rows).toBe(5);
    const m = await f.bus.getMessage(INGEST_STREAM, await lastSeq());
    if (!m) throw new Error('nothing appended');
    expect(Buffer.from((await readIngest(new LocalDirStore({ dir: f.dir }), m.subject, m.data)).payload).equals(Buffer.from(sent))).toBe(true);
  });

  it('re-encodes a WriteArrow request whose stacks were truncated into a log entry that decodes to the truncated stacks', async () => {
    const shallow = await fixture({}, { maxStackDepth: 1 });
    try {
      const sent = batch(7);
      const res = await shallow.pipeline.accept({
        tenant: acme,
        api: 'parca.WriteArrow',
        parts: [{ what: 'ipc_buffer', bytes: samplesToArrow(sent) }],
        decoder: new ArrowDecoder(),
      });
      expect(res.rows).toBe(5);
      const m = await shallow.bus.getMessage(INGEST_STREAM, await shallow.lastSeq());
      if (!m) throw new Error('nothing appended');
      const logged = samplesFromArrow((await readIngest(new LocalDirStore({ dir: shallow.dir }), m.subject, m.data)).payload, {
        maxRows: 1e6,
        maxStackDepth: 1e4,
        maxBytes: 1e9,
      });
      expect(logged.stacks.map((st) => st.map((fr) => fr.functionName)).sort()).toEqual([0, 1, 2, 3, 4].map((i) => [`leaf${i}`]));
      expect(Array.from(logged.value).reduce((x, y) => x + y, 0)).toBe(Array.from(sent.value).reduce((x, y) => x + y, 0));
    } finally {
      await shallow.close();
    }
  });

  it('refuses an oversized request with 413 and a gzip bomb with 400 before any decoder runs', async () => {
    const arrow = spy(new ArrowDecoder());
    const big = await pipeline
      .accept({ tenant: acme, api: 'parca.WriteArrow', parts: [{ what: 'ipc_buffer', bytes: new Uint8Array(300 * 1024) }], decoder: arrow })
      .catch((e: unknown) => e);
    expect(isFirnError(big, 'resource_exhausted') && big.httpStatus).toBe(413);
    const pprof = spy(new PprofSeriesDecoder());
    const bomb = await pipeline
      .accept({
        tenant: acme,
        api: 'parca.WriteRaw',
        parts: [{ what: 'series[0].samples[0]', bytes: await gzipBomb(64 * 1024 * 1024), labels: [['__name__', 'x']] }],
        decoder: pprof,
      })
      .catch((e: unknown) => e);
    expect(isFirnError(bomb, 'invalid_argument') && bomb.message).toMatch(/decompresses to more than the limit/);
    expect([arrow.calls, pprof.calls]).toEqual([0, 0]);
    const rejections = await registry.getSingleMetricAsString('firn_gateway_limit_rejections_total');
    expect(rejections).toContain('limit="max_profile_bytes"} 1');
    expect(rejections).toContain('limit="max_decompressed_bytes"} 1');
  });

  it('names the part a decoding error comes from and appends nothing', async () => {
    const start = await lastSeq();
    const err = await pipeline
      .accept({
        tenant: acme,
        api: 'parca.WriteRaw',
        parts: [
          { what: 'series[0].samples[0]', bytes: samplesToPprof(batch(3), TYPE), labels: [['__name__', 'p']] },
          { what: 'series[1].samples[0]', bytes: new Uint8Array([0x0a, 0xff]), labels: [['__name__', 'p']] },
        ],
        decoder: new PprofSeriesDecoder(),
      })
      .catch((e: unknown) => e);
    expect(isFirnError(err, 'invalid_argument') && err.message).toMatch(/^series\[1\]\.samples\[0\]: malformed pprof/);
    expect(await lastSeq()).toBe(start);
  });

  describe('idempotency', () => {
    const fromS = String(Math.floor(Date.now() / 1000) - 120);
    // A client retries the bytes it encoded once (arrow-js numbers dictionaries per process, so
    // encoding the same batch again gives other bytes: that would be a new write).
    const arrow = samplesToArrow(batch(10));
    /** One request per API, as a fresh object each time (as a retrying client would rebuild it). */
    const requests: Record<string, () => IngestRequest> = {
      WriteArrow: () => ({
        tenant: acme,
        api: 'parca.WriteArrow',
        parts: [{ what: 'ipc_buffer', bytes: Uint8Array.from(arrow) }],
        decoder: new ArrowDecoder(),
      }),
      WriteRaw: () => ({
        tenant: acme,
        api: 'parca.WriteRaw',
        series: 1,
        parts: [
          {
            what: 'series[0].samples[0]',
            bytes: samplesToPprof(batch(11), TYPE),
            labels: [
              ['__name__', 'parca_agent'],
              ['node', 'n11'],
            ],
          },
        ],
        decoder: new PprofSeriesDecoder(),
      }),
      '/ingest folded': () => ({
        tenant: acme,
        api: 'pyroscope.ingest',
        params: { name: 'app.cpu', from: fromS },
        parts: [{ what: 'request body', bytes: Buffer.from('a;b 7\n') }],
        decoder: new PyroscopeIngestDecoder('folded', '/ingest'),
      }),
      '/ingest pprof, multipart with a new boundary per attempt': () => {
        const m = multipart(`b${Math.random().toString(36).slice(2)}`, timelessPprof(3));
        return {
          tenant: acme,
          api: 'pyroscope.ingest',
          params: { name: 'app.cpu', format: 'pprof', from: fromS },
          parts: [{ what: 'request body', bytes: m.body, contentType: m.contentType }],
          decoder: new PyroscopeIngestDecoder('pprof', '/ingest'),
        };
      },
    };

    it.each(Object.keys(requests))(
      '%s: the same request sent five times at once and again later is stored once',
      async (name) => {
        const start = await lastSeq();
        const results = await Promise.all(Array.from({ length: 5 }, () => pipeline.accept(requests[name]())));
        const again = await pipeline.accept(requests[name]());
        expect(results.filter((r) => !r.duplicate)).toHaveLength(1);
        expect(again.duplicate).toBe(true);
        expect(new Set([...results, again].map((r) => r.append?.seq))).toEqual(new Set([start + 1]));
        expect(await lastSeq()).toBe(start + 1);
      },
      60_000,
    );

    it('recognises a retry whose body was gzip-encoded differently, and honours an explicit Idempotency-Key', async () => {
      const start = await lastSeq();
      const folded = (body: Uint8Array, contentEncoding?: string, idempotencyKey?: string): IngestRequest => ({
        tenant: acme,
        api: 'pyroscope.ingest',
        params: { name: 'enc.cpu', from: fromS },
        parts: [{ what: 'request body', bytes: body, contentEncoding }],
        decoder: new PyroscopeIngestDecoder('folded', '/ingest'),
        idempotencyKey,
      });
      expect((await pipeline.accept(folded(Buffer.from('x;y 2\n')))).duplicate).toBe(false);
      expect((await pipeline.accept(folded(gzipSync('x;y 2\n', { level: 1 }), 'gzip'))).duplicate).toBe(true);
      // With a key, the key decides: a different body under the same key is the same write.
      expect((await pipeline.accept(folded(Buffer.from('x;y 2\n'), undefined, 'upload-0001'))).duplicate).toBe(false);
      expect((await pipeline.accept(folded(Buffer.from('x;y 999\n'), undefined, 'upload-0001'))).duplicate).toBe(true);
      expect((await pipeline.accept(folded(Buffer.from('x;y 2\n'), undefined, 'upload-0002'))).duplicate).toBe(false);
      expect(await lastSeq()).toBe(start + 3);
      const bad = await pipeline.accept(folded(Buffer.from('x;y 2\n'), undefined, 'has spaces')).catch((e: unknown) => e);
      expect(isFirnError(bad, 'invalid_argument') && bad.message).toMatch(/idempotency-key/);
    });

    it('never collapses different requests: another byte, time parameter, label or API is new data', async () => {
      const start = await lastSeq();
      const ingest = (params: Record<string, string>, body = 'p;q 1\n') =>
        pipeline.accept({
          tenant: acme,
          api: 'pyroscope.ingest',
          params,
          parts: [{ what: 'request body', bytes: Buffer.from(body) }],
          decoder: new PyroscopeIngestDecoder('folded', '/ingest'),
        });
      const outcomes = [
        await ingest({ name: 'diff.cpu', from: fromS }),
        await ingest({ name: 'diff.cpu', from: String(Number(fromS) + 10) }),
        await ingest({ name: 'diff.cpu', from: fromS, until: String(Number(fromS) + 10) }),
        await ingest({ name: 'diff.cpu{env=b}', from: fromS }),
        await ingest({ name: 'diff.cpu', from: fromS }, 'p;q 2\n'),
      ];
      const pprof = samplesToPprof(batch(12), TYPE);
      const raw = (labels: Array<[string, string]>) =>
        pipeline.accept({
          tenant: acme,
          api: 'parca.WriteRaw',
          series: 1,
          parts: [{ what: 'series[0].samples[0]', bytes: pprof, labels }],
          decoder: new PprofSeriesDecoder(),
        });
      outcomes.push(await raw([['__name__', 'a']]), await raw([['__name__', 'b']]));
      expect(outcomes.map((o) => o.duplicate)).toEqual(outcomes.map(() => false));
      expect(await lastSeq()).toBe(start + outcomes.length);
    });
  });
});

describe(`${IngestPipeline.name} with a short dedupe window`, () => {
  let f: Fixture;
  // Long enough for three requests and their retries on a loaded machine, short enough to wait out.
  const WINDOW_MS = 6000;

  beforeAll(async () => {
    f = await fixture({ dedupeWindowMs: WINDOW_MS, maxInflightBytes: 64 * 1024 });
  }, 30_000);

  afterAll(async () => {
    await f?.close();
  });

  it('stores a request without its own time again once the window has passed, at its own receive time; a timed one likewise', async () => {
    const timeless = (): IngestRequest => ({
      tenant: acme,
      api: 'pyroscope.ingest',
      params: { name: 'later.cpu' },
      parts: [{ what: 'request body', bytes: Buffer.from('m;n 4\n') }],
      decoder: new PyroscopeIngestDecoder('folded', '/ingest'),
    });
    const pprof = (): IngestRequest => ({
      tenant: acme,
      api: 'parca.WriteRaw',
      series: 1,
      parts: [{ what: 'series[0].samples[0]', bytes: timelessPprof(9), labels: [['__name__', 'z']] }],
      decoder: new PprofSeriesDecoder(),
    });
    const arrow = samplesToArrow(batch(20));
    const timed = (): IngestRequest => ({ tenant: acme, api: 'parca.WriteArrow', parts: [{ what: 'ipc_buffer', bytes: arrow }], decoder: new ArrowDecoder() });
    const first = await Promise.all([timeless(), pprof(), timed()].map((r) => f.pipeline.accept(r)));
    const retried = await Promise.all([timeless(), pprof(), timed()].map((r) => f.pipeline.accept(r)));
    expect(first.map((r) => r.duplicate)).toEqual([false, false, false]);
    expect(retried.map((r) => r.duplicate)).toEqual([true, true, true]);
    await sleep(WINDOW_MS + 1000);
    const later = await Promise.all([timeless(), pprof(), timed()].map((r) => f.pipeline.accept(r)));
    expect(later.map((r) => r.duplicate)).toEqual([false, false, false]);
    const [t0, t1] = [await timestampsAt(f, first[0].append?.seq ?? 0), await timestampsAt(f, later[0].append?.seq ?? 0)];
    expect(t0).toHaveLength(1);
    expect(t1[0] - t0[0]).toBeGreaterThanOrEqual(WINDOW_MS);
  }, 90_000);

  it('refuses what would pass the in-flight byte budget with UNAVAILABLE and a Retry-After, letting one request through', async () => {
    let release: () => void = () => undefined;
    const gate = new Promise<void>((r) => (release = r));
    const slow: IngestDecoder = { format: 'arrow', decode: async (parts, ctx) => (await gate, new ArrowDecoder().decode(parts, ctx)) };
    const req = (seed: number, decoder: IngestDecoder): IngestRequest => ({
      tenant: acme,
      api: 'parca.WriteArrow',
      parts: [{ what: 'ipc_buffer', bytes: Buffer.concat([samplesToArrow(batch(seed))]) }],
      decoder,
    });
    const overBudget = { what: 'ipc_buffer', bytes: new Uint8Array(64 * 1024 + 1) };
    // Alone, a request larger than the whole budget is let through (and here refused for its shape).
    const alone = await f.pipeline.accept({ ...req(30, new ArrowDecoder()), parts: [overBudget] }).catch((e: unknown) => e);
    expect(isFirnError(alone, 'invalid_argument')).toBe(true);
    // Next to a request in flight, it would pass the budget.
    const first = f.pipeline.accept(req(31, slow));
    await sleep(50);
    const busy = await f.pipeline.accept({ ...req(32, new ArrowDecoder()), parts: [overBudget] }).catch((e: unknown) => e);
    expect(isFirnError(busy, 'unavailable') && busy.details).toMatchObject({ limit: 'max_inflight_bytes', retry_after_seconds: 1 });
    // A gzip part small on the wire counts what it will inflate to, before it is inflated.
    const inflatesOver = gzipSync(new Uint8Array(64 * 1024 + 1));
    expect(inflatesOver.length).toBeLessThan(1024);
    const busyGzip = await f.pipeline
      .accept({
        tenant: acme,
        api: 'parca.WriteRaw',
        series: 1,
        parts: [{ what: 'series[0].samples[0]', bytes: inflatesOver, labels: [['__name__', 'z']] }],
        decoder: new PprofSeriesDecoder(),
      })
      .catch((e: unknown) => e);
    expect(isFirnError(busyGzip, 'unavailable') && busyGzip.details).toMatchObject({ limit: 'max_inflight_bytes' });
    release();
    await first;
    expect((await f.pipeline.accept(req(33, new ArrowDecoder()))).duplicate).toBe(false);
    expect(await f.registry.getSingleMetricAsString('firn_gateway_ingest_inflight_bytes')).toMatch(/firn_gateway_ingest_inflight_bytes 0$/m);
  });

  it('answers UNAVAILABLE with a Retry-After while NATS is down', async () => {
    await f.nats.stop();
    const err = await f.pipeline
      .accept({ tenant: acme, api: 'parca.WriteArrow', parts: [{ what: 'ipc_buffer', bytes: samplesToArrow(batch(40)) }], decoder: new ArrowDecoder() })
      .catch((e: unknown) => e);
    expect(isFirnError(err, 'unavailable') && err.details['retry_after_seconds']).toBeGreaterThanOrEqual(1);
  }, 30_000);
});

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectBus, type Bus } from '@firn/bus';
import { isFirnError } from '@firn/errors';
import { INGEST_STREAM } from '@firn/ingest-log';
import { DEFAULT_TENANT_LIMITS, RuntimeLimits } from '@firn/limits';
import { createLogger, createMetricsRegistry, type Registry } from '@firn/observability';
import { SampleBatchBuilder, samplesToArrow, samplesToPprof } from '@firn/profiles';
import { LocalDirStore } from '@firn/storage';
import { tenantFromTrustedSource } from '@firn/tenancy';
import { gzipBomb, startNats, type TestNats } from '@firn/testing';
import { DEFAULT_GATEWAY_OPTIONS } from '../gateway.options';
import { ArrowDecoder } from './decoders/arrow.decoder';
import { PprofSeriesDecoder } from './decoders/pprof-series.decoder';
import { PyroscopeIngestDecoder } from './decoders/pyroscope.decoder';
import type { IngestDecoder } from './ingest-decoder';
import { IngestLimits } from './ingest-limits';
import { IngestPipeline } from './ingest-pipeline';

const TYPE = 'parca_agent:samples:count:cpu:nanoseconds:delta';
const acme = tenantFromTrustedSource('acme');

function batch(seed: number, tsMs = Date.now() - 60_000) {
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

describe(IngestPipeline.name, () => {
  let nats: TestNats;
  let bus: Bus;
  let dir: string;
  let registry: Registry;
  let pipeline: IngestPipeline;

  beforeAll(async () => {
    nats = await startNats();
    bus = await connectBus({ servers: [nats.url], name: 'ingest-pipeline-test' });
    dir = await mkdtemp(join(tmpdir(), 'firn-ingest-pipeline-'));
    registry = createMetricsRegistry('gateway', { defaultMetrics: false });
    const opts = { ...DEFAULT_GATEWAY_OPTIONS, maxRequestBytes: 256 * 1024 };
    const limits = new IngestLimits(RuntimeLimits.fixed({ ...DEFAULT_TENANT_LIMITS, maxProfileBytes: 256 * 1024, maxDecompressedBytes: 1024 * 1024 }), opts, registry);
    pipeline = new IngestPipeline(bus, new LocalDirStore({ dir }), createLogger({ component: 'gateway', level: 'silent' }), registry, opts, limits);
  }, 30_000);

  afterAll(async () => {
    await bus?.close();
    await nats?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const lastSeq = async () => (await bus.streamState(INGEST_STREAM).catch(() => ({ lastSeq: 0 }))).lastSeq;

  it('appends one log entry per accepted request, whichever API and decoder it came through', async () => {
    const start = await lastSeq();
    const arrow = await pipeline.accept({ tenant: acme, api: 'parca.WriteArrow', parts: [{ what: 'ipc_buffer', bytes: samplesToArrow(batch(1)) }], decoder: new ArrowDecoder() });
    const raw = await pipeline.accept({
      tenant: acme,
      api: 'parca.WriteRaw',
      parts: [{ what: 'series[0].samples[0]', bytes: samplesToPprof(batch(2), TYPE), labels: [['__name__', 'parca_agent'], ['node', 'n2']] }],
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

  it('refuses an oversized request with 413 and a gzip bomb with 400 before any decoder runs', async () => {
    const arrow = spy(new ArrowDecoder());
    const big = await pipeline
      .accept({ tenant: acme, api: 'parca.WriteArrow', parts: [{ what: 'ipc_buffer', bytes: new Uint8Array(300 * 1024) }], decoder: arrow })
      .catch((e: unknown) => e);
    expect(isFirnError(big, 'resource_exhausted') && big.httpStatus).toBe(413);
    const pprof = spy(new PprofSeriesDecoder());
    const bomb = await pipeline
      .accept({ tenant: acme, api: 'parca.WriteRaw', parts: [{ what: 'series[0].samples[0]', bytes: await gzipBomb(64 * 1024 * 1024), labels: [['__name__', 'x']] }], decoder: pprof })
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
});

import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { create, toBinary } from '@bufbuild/protobuf';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import { createClient } from '@connectrpc/connect';
import { createConnectTransport, createGrpcTransport } from '@connectrpc/connect-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { samplesFromPprof } from '@firn/profiles';
import { debuginfoV1alpha1, googleV1, profilestoreV1alpha1, queryV1alpha1 } from '@firn/proto';
import { Scope, issueToken, writeTokenFile } from '@firn/tenancy';
import {
  buildTestProgram,
  startDebuginfod,
  startNats,
  startRedis,
  startS3Server,
  type S3Server,
  type TestDebuginfod,
  type TestNats,
  type TestRedis,
} from '@firn/testing';
import { startApp, type RunningApp } from './support/apps';
import { bearer, s3Env } from './support/write-path';

const Q = queryV1alpha1;
const D = debuginfoV1alpha1;
const PROFILE_TYPE = 'parca_agent:samples:count:cpu:nanoseconds:delta';
/** Where the test pretends the program was loaded (a PIE at a typical address). */
const LOAD_BASE = 0x5555_5555_0000n;

interface Program {
  dir: string;
  binaryPath: string;
  debugPath: string;
  buildId: string;
  /** File offsets of an instruction inside <prefix>_leaf, <prefix>_middle and main. */
  offsets: bigint[];
}

/** A small C program, compiled with -g, its debug info split off, the binary stripped. */
async function compile(root: string, prefix: string): Promise<Program> {
  const dir = join(root, prefix);
  const p = await buildTestProgram(dir, prefix, { unstrippedDir: root });
  return {
    dir,
    binaryPath: p.binaryPath,
    debugPath: p.debugPath,
    buildId: p.buildId,
    offsets: [`${prefix}_leaf`, `${prefix}_middle`, 'main'].map((n) => p.offsets[n]),
  };
}

/** What the Parca agent's pprof path sends: runtime addresses in a mapping with its build id, no functions. */
function addressOnlyPprof(p: Program, timeMs: number): Uint8Array {
  const strings = ['', 'samples', 'count', 'cpu', 'nanoseconds', p.binaryPath, p.buildId];
  const s = (v: string): bigint => BigInt(strings.indexOf(v));
  return toBinary(
    googleV1.ProfileSchema,
    create(googleV1.ProfileSchema, {
      sampleType: [{ type: s('samples'), unit: s('count') }],
      periodType: { type: s('cpu'), unit: s('nanoseconds') },
      period: 52_631_578n,
      timeNanos: BigInt(timeMs) * 1_000_000n,
      durationNanos: 10_000_000_000n,
      stringTable: strings,
      mapping: [{ id: 1n, memoryStart: LOAD_BASE, memoryLimit: LOAD_BASE + 0x10_0000n, fileOffset: 0n, filename: s(p.binaryPath), buildId: s(p.buildId) }],
      location: p.offsets.map((o, i) => ({ id: BigInt(i + 1), mappingId: 1n, address: LOAD_BASE + o })),
      sample: [{ locationId: p.offsets.map((_, i) => BigInt(i + 1)), value: [7n] }],
    }),
  );
}

/** Parses Prometheus text for one sample (labels given as `k="v"` fragments that must all match). */
function metric(text: string, name: string, ...labels: string[]): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name) || !labels.every((l) => line.includes(l))) continue;
    const rest = line.slice(name.length);
    if (rest[0] !== ' ' && rest[0] !== '{') continue;
    sum += Number(line.split(' ').pop());
  }
  return sum;
}

/**
 * The symbolization pipeline with every app as its own process: address-only profiles written
 * through the gateway are queued by the ingester, resolved by the symbolizer (from debuginfod or
 * a tenant's upload) into Redis, and named by the querier; without Redis queries still answer.
 */
describe('symbolizer pipeline (apps as processes)', () => {
  let root: string;
  let nats: TestNats;
  let s3: S3Server;
  let redis: TestRedis;
  let debuginfod: TestDebuginfod;
  let served: Program;
  let uploaded: Program;
  let gateway: RunningApp;
  let querier: RunningApp;
  let symbolizer: RunningApp;
  const apps: RunningApp[] = [];
  const tokens: Record<string, string> = {};
  // Recent: the gateway refuses samples far in the future or past.
  const baseMs = Math.floor(Date.now() / 1000) * 1000 - 120_000;

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'firn-e2e-symbolizer-'));
    [served, uploaded] = await Promise.all([compile(root, 'served'), compile(root, 'private')]);
    [nats, s3, redis, debuginfod] = await Promise.all([
      startNats(),
      startS3Server(),
      startRedis(),
      startDebuginfod({ scanDir: served.dir, waitForBuildId: served.buildId }),
    ]);
    const records = [];
    for (const t of ['acme', 'globex']) {
      const issued = issueToken(t, [Scope.WriteProfiles, Scope.ReadProfiles, Scope.WriteDebuginfo]);
      tokens[t] = issued.token;
      records.push(issued.record);
    }
    await writeTokenFile(join(root, 'tokens.json'), records);
    const env = {
      FIRN_NATS_URL: nats.url,
      ...s3Env(s3),
      FIRN_TOKENS_FILE: join(root, 'tokens.json'),
      FIRN_INGESTER_FLUSH_MAX_AGE_MS: '200',
      FIRN_SYMBOL_CACHE: 'redis',
      FIRN_REDIS_URL: redis.url,
      FIRN_DEBUGINFOD_URLS: debuginfod.url,
      FIRN_SYMBOLIZER_CACHE_DIR: join(root, 'symbolizer-cache'),
    };
    [gateway, querier, symbolizer] = await Promise.all([startApp('gateway', { env }), startApp('querier', { env }), startApp('symbolizer', { env })]);
    apps.push(gateway, querier, symbolizer, await startApp('ingester', { env }));
  }, 120_000);

  afterAll(async () => {
    await Promise.all(apps.map((a) => a.stop()));
    await Promise.all([nats?.stop(), s3?.stop(), redis?.stop(), debuginfod?.stop()]);
    if (root) await rm(root, { recursive: true, force: true });
  });

  const writer = (tenant: string) =>
    createClient(profilestoreV1alpha1.ProfileStoreService, createGrpcTransport({ baseUrl: gateway.base, interceptors: [bearer(tokens[tenant])] }));
  const debuginfo = (tenant: string, protocol: 'grpc' | 'connect' = 'grpc') =>
    createClient(
      D.DebuginfoService,
      protocol === 'grpc'
        ? createGrpcTransport({ baseUrl: gateway.base, interceptors: [bearer(tokens[tenant])] })
        : createConnectTransport({ baseUrl: gateway.base, httpVersion: '2', interceptors: [bearer(tokens[tenant])] }),
    );

  async function write(tenant: string, p: Program, timeMs: number): Promise<void> {
    await writer(tenant).writeRaw({
      series: [
        {
          labels: {
            labels: [
              { name: '__name__', value: 'parca_agent' },
              { name: 'service_name', value: p === served ? 'served' : 'private' },
            ],
          },
          samples: [{ rawProfile: addressOnlyPprof(p, timeMs) }],
        },
      ],
    });
  }

  /** Function names of the merged profile's stacks (leaf first), '' for unsymbolized frames. */
  async function stacks(tenant: string, service: string): Promise<{ names: string[][]; total: number }> {
    const q = createClient(Q.QueryService, createGrpcTransport({ baseUrl: querier.base, interceptors: [bearer(tokens[tenant])] }));
    const res = await q.query(
      create(Q.QueryRequestSchema, {
        mode: Q.QueryRequest_Mode.MERGE,
        options: {
          case: 'merge',
          value: create(Q.MergeProfileSchema, {
            query: `${PROFILE_TYPE}{service_name="${service}"}`,
            start: timestampFromMs(baseMs - 60_000),
            end: timestampFromMs(baseMs + 3600_000),
          }),
        },
        reportType: Q.QueryRequest_ReportType.PPROF,
      }),
    );
    const b = samplesFromPprof(res.report.value as Uint8Array, {
      name: 'q',
      seriesLabels: [],
      nowMs: 0,
      limits: { maxDecompressedBytes: 1e8, maxSamples: 1e6, maxStackDepth: 1e4 },
    });
    return { names: b.stacks.map((st) => st.map((f) => f.functionName)), total: Number(res.total) };
  }

  async function until<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    let last: unknown;
    while (Date.now() < deadline) {
      try {
        const v = await fn();
        if (v !== undefined) return v;
      } catch (err) {
        last = err;
      }
      await sleep(250);
    }
    throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
  }

  const metricsOf = async (app: RunningApp): Promise<string> => (await fetch(`${app.base}/metrics`)).text();

  it('names the frames of an address-only pprof from debuginfod; later queries ask neither debuginfod nor Redis again', async () => {
    await write('acme', served, baseMs);
    const names = await until('served frames symbolized', async () => {
      const r = await stacks('acme', 'served');
      return r.names.some((st) => st.includes('served_leaf')) ? r.names : undefined;
    });
    expect(names).toEqual([['served_leaf', 'served_middle', 'main']]);
    const m1 = await metricsOf(symbolizer);
    expect(metric(m1, 'firn_symbolizer_debuginfod_requests_total', 'outcome="found"')).toBe(1);
    expect(metric(m1, 'firn_symbolizer_debuginfo_lookups_total', 'source="debuginfod"')).toBe(1);

    // More samples of the same frames and more queries: no further debuginfod traffic, and the
    // querier uses the names it read from Redis (FIRN_SYMBOL_NAME_RECHECK, 5 minutes) without
    // asking again.
    await write('acme', served, baseMs + 10_000);
    await until('second write visible', async () => ((await stacks('acme', 'served')).total === 14 ? true : undefined));
    const before = await metricsOf(querier);
    expect((await stacks('acme', 'served')).names).toEqual([['served_leaf', 'served_middle', 'main']]);
    const after = await metricsOf(querier);
    expect(metric(after, 'firn_querier_symbol_remembered_total')).toBe(metric(before, 'firn_querier_symbol_remembered_total') + 3);
    expect(metric(after, 'firn_querier_symbol_lookups_total', 'outcome="hit"')).toBe(metric(before, 'firn_querier_symbol_lookups_total', 'outcome="hit"'));
    await sleep(1000);
    expect(metric(await metricsOf(symbolizer), 'firn_symbolizer_debuginfod_requests_total')).toBe(metric(m1, 'firn_symbolizer_debuginfod_requests_total'));

    // debuginfod has it: the gateway tells agents not to upload it.
    const answer = await debuginfo('acme').shouldInitiateUpload({ buildId: served.buildId, hash: 'x' });
    expect(answer.shouldInitiateUpload).toBe(false);
    expect(answer.reason).toMatch(/debuginfod/);
  });

  it('uploads debuginfo over gRPC and Connect streams; only the uploading tenant gets the names', async () => {
    const acme = debuginfo('acme');
    expect((await acme.shouldInitiateUpload({ buildId: uploaded.buildId, hash: 'h1' })).shouldInitiateUpload).toBe(true);
    const upload = async (client: ReturnType<typeof debuginfo>, path: string, type: debuginfoV1alpha1.DebuginfoType) => {
      const bytes = await readFile(path);
      const init = await client.initiateUpload({ buildId: uploaded.buildId, size: BigInt(bytes.length), hash: 'h1', type });
      const ins = init.uploadInstructions;
      expect(ins?.uploadStrategy).toBe(D.UploadInstructions_UploadStrategy.GRPC);
      const res = await client.upload(
        (async function* () {
          yield create(D.UploadRequestSchema, { data: { case: 'info', value: { buildId: uploaded.buildId, uploadId: ins?.uploadId ?? '', type } } });
          for (let i = 0; i < bytes.length; i += 16_384)
            yield create(D.UploadRequestSchema, { data: { case: 'chunkData', value: bytes.subarray(i, i + 16_384) } });
        })(),
      );
      expect(Number(res.size)).toBe(bytes.length);
      await client.markUploadFinished({ buildId: uploaded.buildId, uploadId: ins?.uploadId ?? '', type });
    };
    // The executable over Connect (HTTP/2 client streaming), the debug file over gRPC.
    await upload(debuginfo('acme', 'connect'), uploaded.binaryPath, D.DebuginfoType.EXECUTABLE);
    await upload(acme, uploaded.debugPath, D.DebuginfoType.DEBUGINFO_UNSPECIFIED);
    expect((await acme.shouldInitiateUpload({ buildId: uploaded.buildId, hash: 'h1' })).shouldInitiateUpload).toBe(false);
    expect((await debuginfo('globex').shouldInitiateUpload({ buildId: uploaded.buildId, hash: 'h1' })).shouldInitiateUpload).toBe(true);

    const unresolvedBefore = metric(await metricsOf(symbolizer), 'firn_symbolizer_addresses_total', 'outcome="unresolved"');
    await write('globex', uploaded, baseMs);
    await write('acme', uploaded, baseMs);
    const names = await until('acme frames symbolized from its upload', async () => {
      const r = await stacks('acme', 'private');
      return r.names.some((st) => st.includes('private_leaf')) ? r.names : undefined;
    });
    expect(names).toEqual([['private_leaf', 'private_middle', 'main']]);
    await until('globex job handled', async () =>
      metric(await metricsOf(symbolizer), 'firn_symbolizer_addresses_total', 'outcome="unresolved"') >= unresolvedBefore + 3 ? true : undefined,
    );
    const globex = await stacks('globex', 'private');
    expect(globex.total).toBe(7);
    expect(globex.names).toEqual([['', '', '']]);
  });

  it('answers unsymbolized while Redis is down, but for the names it read shortly before', async () => {
    await redis.stop();
    const errors = metric(await metricsOf(querier), 'firn_querier_symbol_lookups_total', 'outcome="error"');
    const unnamed = await stacks('globex', 'private');
    expect(unnamed.total).toBe(7);
    expect(unnamed.names).toEqual([['', '', '']]);
    expect(metric(await metricsOf(querier), 'firn_querier_symbol_lookups_total', 'outcome="error"')).toBe(errors + 3);
    const named = await stacks('acme', 'served');
    expect(named.total).toBe(14);
    expect(named.names).toEqual([['served_leaf', 'served_middle', 'main']]);
  });
});

/** The all-in-one wires the same pipeline with its in-process cache shared by symbolizer and querier. */
describe('symbolizer pipeline (all-in-one)', () => {
  let root: string;
  let debuginfod: TestDebuginfod;
  let app: RunningApp;
  let served: Program;
  let token: string;
  const baseMs = Math.floor(Date.now() / 1000) * 1000 - 120_000;

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'firn-e2e-symbolizer-aio-'));
    served = await compile(root, 'aio');
    debuginfod = await startDebuginfod({ scanDir: served.dir, waitForBuildId: served.buildId });
    const issued = issueToken('acme', [Scope.WriteProfiles, Scope.ReadProfiles, Scope.WriteDebuginfo]);
    token = issued.token;
    await writeTokenFile(join(root, 'tokens.json'), [issued.record]);
    app = await startApp('all-in-one', {
      args: [
        '--data-dir',
        join(root, 'data'),
        '--tokens-file',
        join(root, 'tokens.json'),
        '--ingester-flush-max-age-ms',
        '200',
        '--debuginfod-urls',
        debuginfod.url,
      ],
    });
  }, 120_000);

  afterAll(async () => {
    await app?.stop();
    await debuginfod?.stop();
    if (root) await rm(root, { recursive: true, force: true });
  });

  it('names the frames of an address-only pprof', async () => {
    const w = createClient(profilestoreV1alpha1.ProfileStoreService, createGrpcTransport({ baseUrl: app.base, interceptors: [bearer(token)] }));
    await w.writeRaw({
      series: [{ labels: { labels: [{ name: '__name__', value: 'parca_agent' }] }, samples: [{ rawProfile: addressOnlyPprof(served, baseMs) }] }],
    });
    const q = createClient(Q.QueryService, createGrpcTransport({ baseUrl: app.base, interceptors: [bearer(token)] }));
    const deadline = Date.now() + 60_000;
    let names: string[][] = [];
    while (Date.now() < deadline) {
      const res = await q.query(
        create(Q.QueryRequestSchema, {
          mode: Q.QueryRequest_Mode.MERGE,
          options: {
            case: 'merge',
            value: create(Q.MergeProfileSchema, {
              query: `${PROFILE_TYPE}{}`,
              start: timestampFromMs(baseMs - 60_000),
              end: timestampFromMs(baseMs + 3600_000),
            }),
          },
          reportType: Q.QueryRequest_ReportType.PPROF,
        }),
      );
      const b = samplesFromPprof(res.report.value as Uint8Array, {
        name: 'q',
        seriesLabels: [],
        nowMs: 0,
        limits: { maxDecompressedBytes: 1e8, maxSamples: 1e6, maxStackDepth: 1e4 },
      });
      names = b.stacks.map((st) => st.map((f) => f.functionName));
      if (names.some((st) => st.includes('aio_leaf'))) break;
      await sleep(250);
    }
    expect(names).toEqual([['aio_leaf', 'aio_middle', 'main']]);
  });
});

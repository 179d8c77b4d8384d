import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { gzipSync } from 'node:zlib';
import { createClient } from '@connectrpc/connect';
import { createConnectTransport } from '@connectrpc/connect-node';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import protobuf from 'protobufjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { querierV1 } from '@firn/proto';
import { ROOT, startApp, type RunningApp } from './support/apps';
import { bearer, makeTokens } from './support/write-path';

/** The upstream opentelemetry-proto definitions (not Firn's restatement in proto/). */
const UPSTREAM = resolve(ROOT, 'e2e/upstream-proto/opentelemetry-proto');
const SERVICE_PROTO = 'opentelemetry/proto/collector/profiles/v1development/profiles_service.proto';
const PERIOD = 52_631_578; // 19 Hz, as the OpenTelemetry eBPF profiler samples
const CPU = 'process_cpu:cpu:nanoseconds:cpu:nanoseconds';

/**
 * A known profile in the shape the OpenTelemetry eBPF profiler sends, as plain data in
 * proto-loader's / protobufjs' conventions (snake_case fields, 64-bit ints as strings): two
 * symbolized paths (hot_fn 30 samples, cold_fn 10) plus one native unsymbolized leaf (5).
 */
function knownRequest(service: string, timeMs: number): Record<string, unknown> {
  const strings = [
    '',
    'samples',
    'count',
    'cpu',
    'nanoseconds',
    '/usr/bin/app',
    'process.executable.build_id.gnu',
    'main',
    'hot_fn',
    'cold_fn',
    'app.c',
    'thread.name',
    'worker',
    'profile.frame.type',
    'native',
  ];
  const s = (v: string): number => strings.indexOf(v);
  const ts = (n: number): string[] => Array.from({ length: n }, (_, i) => String(BigInt(timeMs) * 1_000_000n + BigInt(i)));
  return {
    dictionary: {
      string_table: strings,
      mapping_table: [{}, { memory_start: '4194304', memory_limit: '8388608', file_offset: '0', filename_strindex: s('/usr/bin/app'), attribute_indices: [1] }],
      attribute_table: [
        {},
        { key_strindex: s('process.executable.build_id.gnu'), value: { string_value: 'c0ffee00c0ffee00' } },
        { key_strindex: s('thread.name'), value: { string_value: 'worker' } },
        { key_strindex: s('profile.frame.type'), value: { string_value: 'native' } },
      ],
      function_table: [
        {},
        { name_strindex: s('main'), filename_strindex: s('app.c') },
        { name_strindex: s('hot_fn'), filename_strindex: s('app.c') },
        { name_strindex: s('cold_fn'), filename_strindex: s('app.c') },
      ],
      location_table: [
        {},
        { mapping_index: 1, address: '4198400', lines: [{ function_index: 1, line: '40' }] },
        { mapping_index: 1, address: '4198656', lines: [{ function_index: 2, line: '10' }] },
        { mapping_index: 1, address: '4198912', lines: [{ function_index: 3, line: '20' }] },
        { mapping_index: 1, address: '4202496', attribute_indices: [3] },
      ],
      stack_table: [{}, { location_indices: [2, 1] }, { location_indices: [3, 1] }, { location_indices: [4, 2, 1] }],
      link_table: [{}],
    },
    resource_profiles: [
      {
        resource: {
          attributes: [
            { key: 'service.name', value: { string_value: service } },
            { key: 'k8s.namespace.name', value: { string_value: 'shop' } },
            { key: 'k8s.pod.name', value: { string_value: `${service}-pod` } },
            { key: 'process.pid', value: { int_value: '4242' } },
          ],
        },
        scope_profiles: [
          {
            scope: { name: 'go.opentelemetry.io/ebpf-profiler' },
            profiles: [
              {
                sample_type: { type_strindex: s('samples'), unit_strindex: s('count') },
                period_type: { type_strindex: s('cpu'), unit_strindex: s('nanoseconds') },
                period: String(PERIOD),
                time_unix_nano: String(BigInt(timeMs) * 1_000_000n),
                duration_nano: '10000000000',
                samples: [
                  { stack_index: 1, attribute_indices: [2], timestamps_unix_nano: ts(30) },
                  { stack_index: 2, attribute_indices: [2], timestamps_unix_nano: ts(10) },
                  { stack_index: 3, attribute_indices: [2], values: ['5'] },
                ],
              },
            ],
          },
        ],
      },
    ],
  };
}

/** OTLP/JSON of the same request, written by hand from the OTLP/JSON rules (lowerCamelCase, 64-bit ints as strings). */
function toOtlpJson(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(toOtlpJson);
  if (v && typeof v === 'object')
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase()), toOtlpJson(x)]));
  return v;
}

/** Self time per function name from a Pyroscope flame graph (levels of [offset, total, self, name]). */
function selfByName(fg: querierV1.SelectMergeStacktracesResponse['flamegraph']): Map<string, number> {
  const out = new Map<string, number>();
  for (const level of fg?.levels ?? []) {
    for (let i = 0; i < level.values.length; i += 4) {
      const name = fg?.names[Number(level.values[i + 3])] ?? '?';
      out.set(name, (out.get(name) ?? 0) + Number(level.values[i + 2]));
    }
  }
  return out;
}

/**
 * OTLP profiles ingest (gRPC and OTLP/HTTP protobuf and JSON) into a real all-in-one, with
 * clients built at run time from the upstream opentelemetry-proto files, read back through the
 * Pyroscope query API.
 */
describe('OTLP profiles ingest', () => {
  let dir: string;
  let app: RunningApp;
  let token: string;
  let root: protobuf.Root;
  const timeMs = Date.now() - 60_000;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'firn-e2e-otlp-'));
    token = (await makeTokens(join(dir, 'tokens.json'), ['acme'])).acme;
    app = await startApp('all-in-one', {
      args: ['--data-dir', join(dir, 'data'), '--tokens-file', join(dir, 'tokens.json'), '--ingester-flush-max-age-ms', '200'],
    });
    root = new protobuf.Root();
    root.resolvePath = (_origin, target) => resolve(UPSTREAM, target);
    await root.load(SERVICE_PROTO, { keepCase: true });
  }, 120_000);

  afterAll(async () => {
    await app?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  async function flamegraph(service: string): Promise<Map<string, number>> {
    const py = createClient(querierV1.QuerierService, createConnectTransport({ baseUrl: app.base, httpVersion: '1.1', interceptors: [bearer(token)] }));
    const range = { start: BigInt(timeMs - 3_600_000), end: BigInt(Date.now() + 60_000) };
    for (let i = 0; ; i++) {
      const res = await py.selectMergeStacktraces({ profileTypeID: CPU, labelSelector: `{service_name="${service}"}`, ...range, maxNodes: 1000n });
      const got = selfByName(res.flamegraph);
      got.delete('total'); // the root
      if ([...got.values()].some((v) => v > 0) || i > 100) return got;
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  // Self time per frame; the unsymbolized leaf is named by binary and file offset
  // (address 0x402000 − memory_start 0x400000 + file_offset 0).
  const expected = new Map([
    ['main', 0],
    ['hot_fn', 30 * PERIOD],
    ['cold_fn', 10 * PERIOD],
    ['app!0x2000', 5 * PERIOD],
  ]);

  function expectKnown(got: Map<string, number>): void {
    expect(got).toEqual(expected);
  }

  it('takes Export over gRPC from a client built from the upstream protos', async () => {
    const def = protoLoader.loadSync(SERVICE_PROTO, { includeDirs: [UPSTREAM], keepCase: true, longs: String, defaults: false });
    const pkg = grpc.loadPackageDefinition(def) as unknown as {
      opentelemetry: { proto: { collector: { profiles: { v1development: { ProfilesService: grpc.ServiceClientConstructor } } } } };
    };
    const Client = pkg.opentelemetry.proto.collector.profiles.v1development.ProfilesService;
    const client = new Client(`127.0.0.1:${app.port}`, grpc.credentials.createInsecure());
    const meta = new grpc.Metadata();
    meta.set('authorization', `Bearer ${token}`);
    const res = await new Promise<Record<string, unknown>>((ok, fail) =>
      (client as unknown as { Export: (r: unknown, m: grpc.Metadata, cb: (e: Error | null, r: Record<string, unknown>) => void) => void }).Export(
        knownRequest('otlp-grpc', timeMs),
        meta,
        (e, r) => (e ? fail(e) : ok(r)),
      ),
    );
    client.close();
    expect(res.partial_success ?? null).toBeNull();
    expectKnown(await flamegraph('otlp-grpc'));
  });

  it('takes OTLP/HTTP protobuf (gzip) and JSON, answering in the request encoding', async () => {
    const Req = root.lookupType('opentelemetry.proto.collector.profiles.v1development.ExportProfilesServiceRequest');
    const Res = root.lookupType('opentelemetry.proto.collector.profiles.v1development.ExportProfilesServiceResponse');
    const msg = Req.fromObject(knownRequest('otlp-http-pb', timeMs));
    const body = gzipSync(Req.encode(msg).finish());
    const pb = await fetch(`${app.base}/v1development/profiles`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/x-protobuf', 'content-encoding': 'gzip' },
      body,
    });
    expect(pb.status).toBe(200);
    expect(pb.headers.get('content-type')).toBe('application/x-protobuf');
    expect(Res.toObject(Res.decode(new Uint8Array(await pb.arrayBuffer())))).toEqual({});
    expectKnown(await flamegraph('otlp-http-pb'));

    const json = await fetch(`${app.base}/v1development/profiles`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify(toOtlpJson(knownRequest('otlp-http-json', timeMs))),
    });
    expect(json.status).toBe(200);
    expect(json.headers.get('content-type')).toBe('application/json');
    expect(await json.json()).toEqual({});
    expectKnown(await flamegraph('otlp-http-json'));
  });

  it("stores a sample's trace link as its span: SelectMergeSpanProfile returns exactly the linked samples", async () => {
    const SPAN = 'a1b2c3d4e5f60718';
    const req = knownRequest('otlp-span', timeMs) as {
      dictionary: { link_table: unknown[] };
      resource_profiles: Array<{ scope_profiles: Array<{ profiles: Array<{ samples: Array<Record<string, unknown>> }> }> }>;
    };
    // hot_fn's 30 samples are linked to span SPAN (of some trace); cold_fn and the native leaf are not.
    req.dictionary.link_table = [{}, { trace_id: Buffer.alloc(16, 0x4b), span_id: Buffer.from(SPAN, 'hex') }];
    req.resource_profiles[0].scope_profiles[0].profiles[0].samples[0].link_index = 1;
    const Req = root.lookupType('opentelemetry.proto.collector.profiles.v1development.ExportProfilesServiceRequest');
    const res = await fetch(`${app.base}/v1development/profiles`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/x-protobuf' },
      body: Req.encode(Req.fromObject(req)).finish(),
    });
    expect(res.status).toBe(200);
    expectKnown(await flamegraph('otlp-span')); // the span changes nothing else
    const py = createClient(querierV1.QuerierService, createConnectTransport({ baseUrl: app.base, httpVersion: '1.1', interceptors: [bearer(token)] }));
    const range = { start: BigInt(timeMs - 3_600_000), end: BigInt(Date.now() + 60_000) };
    const span = await py.selectMergeSpanProfile({ profileTypeID: CPU, labelSelector: '{service_name="otlp-span"}', spanSelector: [SPAN], ...range });
    const got = selfByName(span.flamegraph);
    got.delete('total');
    expect(got).toEqual(
      new Map([
        ['main', 0],
        ['hot_fn', 30 * PERIOD],
      ]),
    );
    // The span id is not a label (no series per span).
    expect((await py.labelNames({ matchers: ['{service_name="otlp-span"}'], ...range })).names).not.toContain('span_id');
  });

  it('maps resource attributes to Firn labels', async () => {
    const py = createClient(querierV1.QuerierService, createConnectTransport({ baseUrl: app.base, httpVersion: '1.1', interceptors: [bearer(token)] }));
    const range = { start: BigInt(timeMs - 3_600_000), end: BigInt(Date.now() + 60_000) };
    const names = await py.labelNames({ matchers: ['{service_name="otlp-grpc"}'], ...range });
    expect(names.names).toEqual(expect.arrayContaining(['service_name', 'namespace', 'pod', 'pid', 'comm']));
    expect((await py.labelValues({ name: 'pod', matchers: ['{service_name="otlp-grpc"}'], ...range })).names).toEqual(['otlp-grpc-pod']);
    expect((await py.labelValues({ name: 'comm', matchers: ['{service_name="otlp-grpc"}'], ...range })).names).toEqual(['worker']);
  });

  it('reports partial success the OTLP way and refuses what cannot be read with 400 / INVALID_ARGUMENT', async () => {
    const Req = root.lookupType('opentelemetry.proto.collector.profiles.v1development.ExportProfilesServiceRequest');
    const Res = root.lookupType('opentelemetry.proto.collector.profiles.v1development.ExportProfilesServiceResponse');
    const req = knownRequest('otlp-partial', timeMs) as {
      resource_profiles: Array<{ scope_profiles: Array<{ profiles: Array<{ samples: Array<{ stack_index: number }> }> }> }>;
    };
    const broken = structuredClone(req.resource_profiles[0].scope_profiles[0].profiles[0]);
    broken.samples[0].stack_index = 99;
    req.resource_profiles[0].scope_profiles[0].profiles.push(broken);
    const post = (body: Uint8Array | string, type = 'application/x-protobuf'): Promise<Response> =>
      fetch(`${app.base}/v1development/profiles`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': type }, body });
    const partial = await post(Req.encode(Req.fromObject(req)).finish());
    expect(partial.status).toBe(200);
    const answer = Res.toObject(Res.decode(new Uint8Array(await partial.arrayBuffer())), { longs: Number }) as {
      partial_success?: { rejected_profiles: number; error_message: string };
    };
    expect(answer.partial_success?.rejected_profiles).toBe(1);
    expect(answer.partial_success?.error_message).toMatch(/stack_table index 99 out of range/);

    const garbage = await post(new Uint8Array([0x0a, 0xff, 0xff, 0xff, 0x0f, 1, 2]));
    expect(garbage.status).toBe(400);
    expect(await garbage.json()).toMatchObject({ code: 'invalid_argument', message: expect.stringMatching(/malformed OTLP/) });
    expect((await post('{"resourceProfiles": 5}', 'application/json')).status).toBe(400);
    expect((await post('x', 'text/plain')).status).toBe(415);
    expect((await fetch(`${app.base}/v1development/profiles`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })).status).toBe(
      401,
    );
  });
});

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { create, type DescService } from '@bufbuild/protobuf';
import { Code, ConnectError, createClient } from '@connectrpc/connect';
import { createConnectTransport } from '@connectrpc/connect-node';
import * as grpc from '@grpc/grpc-js';
import { Function as PprofFunction, Line, Location, Profile, Sample, StringTable, ValueType } from 'pprof-format';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { querierV1 } from '@firn/proto';
import { startApp, type RunningApp } from './support/apps';
import { loadUpstream, type UpstreamProtos } from './support/upstream-proto';
import { bearer, makeTokens } from './support/write-path';

const PERIOD = 10_000_000; // 100 Hz, as Go's CPU profiler
const CPU = 'process_cpu:cpu:nanoseconds:cpu:nanoseconds';

/** A Go-style CPU profile (samples/count + cpu/nanoseconds) with known totals, built with pprof-format. */
function cpuPprof(timeMs: number, hot: number, cold: number): Uint8Array {
  const st = new StringTable();
  const fns = ['main.main', 'main.hot', 'main.cold'].map(
    (name, i) => new PprofFunction({ id: i + 1, name: st.dedup(name), systemName: st.dedup(name), filename: st.dedup('main.go') }),
  );
  const locs = fns.map((f, i) => new Location({ id: i + 1, address: 0x401000 + i * 0x100, line: [new Line({ functionId: f.id, line: 10 + i })] }));
  const p = new Profile({
    sampleType: [
      new ValueType({ type: st.dedup('samples'), unit: st.dedup('count') }),
      new ValueType({ type: st.dedup('cpu'), unit: st.dedup('nanoseconds') }),
    ],
    sample: [new Sample({ locationId: [2, 1], value: [hot, hot * PERIOD] }), new Sample({ locationId: [3, 1], value: [cold, cold * PERIOD] })],
    location: locs,
    function: fns,
    stringTable: st,
    periodType: new ValueType({ type: st.dedup('cpu'), unit: st.dedup('nanoseconds') }),
    period: PERIOD,
    timeNanos: BigInt(timeMs) * 1_000_000n,
    durationNanos: 10_000_000_000,
  });
  return gzipSync(p.encode());
}

function selfByName(fg: querierV1.SelectMergeStacktracesResponse['flamegraph']): Map<string, number> {
  const out = new Map<string, number>();
  for (const level of fg?.levels ?? []) {
    for (let i = 0; i < level.values.length; i += 4) {
      const name = fg?.names[Number(level.values[i + 3])] ?? '?';
      if (name !== 'total') out.set(name, (out.get(name) ?? 0) + Number(level.values[i + 2]));
    }
  }
  return out;
}

/**
 * Pyroscope's push API as Grafana Alloy's `pyroscope.write` uses it, from Connect and gRPC
 * clients built from Pyroscope's upstream push.proto, into a real all-in-one; totals read back
 * through the Pyroscope query API.
 */
describe('Pyroscope PusherService/Push ingest', () => {
  let dir: string;
  let app: RunningApp;
  let token: string;
  let upstream: UpstreamProtos;
  let pusher: DescService;
  const timeMs = Date.now() - 60_000;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'firn-e2e-push-'));
    token = (await makeTokens(join(dir, 'tokens.json'), ['acme'])).acme;
    upstream = await loadUpstream('pyroscope', ['push/v1/push.proto']);
    pusher = upstream.registry.getService('push.v1.PusherService') as DescService;
    app = await startApp('all-in-one', {
      args: ['--data-dir', join(dir, 'data'), '--tokens-file', join(dir, 'tokens.json'), '--ingester-flush-max-age-ms', '200'],
    });
  }, 120_000);

  afterAll(async () => {
    await app?.stop();
    await upstream?.cleanup();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  async function flamegraph(service: string, expectNonEmpty = true): Promise<Map<string, number>> {
    const py = createClient(querierV1.QuerierService, createConnectTransport({ baseUrl: app.base, httpVersion: '1.1', interceptors: [bearer(token)] }));
    const range = { start: BigInt(timeMs - 3_600_000), end: BigInt(Date.now() + 60_000) };
    for (let i = 0; ; i++) {
      const res = await py.selectMergeStacktraces({ profileTypeID: CPU, labelSelector: `{service_name="${service}"}`, ...range, maxNodes: 1000n });
      const got = selfByName(res.flamegraph);
      if (!expectNonEmpty || [...got.values()].some((v) => v > 0) || i > 100) return got;
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  /** A PushRequest as Alloy sends it: `__name__` and `service_name`, plus dotted labels Pyroscope sanitises. */
  function pushRequest(service: string, hot: number, cold: number): Record<string, unknown> {
    return {
      series: [
        {
          labels: [
            { name: '__name__', value: 'process_cpu' },
            { name: 'service_name', value: service },
            { name: 'service.version', value: '1.2.3' },
            { name: 'namespace', value: 'shop' },
          ],
          samples: [{ raw_profile: cpuPprof(timeMs, hot, cold), ID: '734fd599-6865-419e-9475-932762d8f469' }],
        },
      ],
    };
  }

  it('takes Push from a Connect client built from the upstream push.proto', async () => {
    const client = createClient(
      pusher,
      createConnectTransport({ baseUrl: app.base, httpVersion: '1.1', useBinaryFormat: true, interceptors: [bearer(token)] }),
    ) as unknown as Record<string, (req: unknown) => Promise<unknown>>;
    const req = pushRequest('alloy-connect', 30, 10) as { series: Array<{ samples: Array<{ raw_profile: Uint8Array; ID: string }> }> };
    // Connect clients from descriptors take the protobuf JSON names (rawProfile, iD).
    await client['push']({ series: req.series.map((s) => ({ ...s, samples: s.samples.map((x) => ({ rawProfile: x.raw_profile, iD: x.ID })) })) });
    expect(await flamegraph('alloy-connect')).toEqual(
      new Map([
        ['main.main', 0],
        ['main.hot', 30 * PERIOD],
        ['main.cold', 10 * PERIOD],
      ]),
    );
  });

  it('takes Push from a gRPC client built from the upstream push.proto, and sanitises dotted label names', async () => {
    const pkg = grpc.loadPackageDefinition(upstream.grpc) as unknown as { push: { v1: { PusherService: grpc.ServiceClientConstructor } } };
    const client = new pkg.push.v1.PusherService(`127.0.0.1:${app.port}`, grpc.credentials.createInsecure());
    const meta = new grpc.Metadata();
    meta.set('authorization', `Bearer ${token}`);
    await new Promise<void>((ok, fail) =>
      (client as unknown as { Push: (r: unknown, m: grpc.Metadata, cb: (e: Error | null) => void) => void }).Push(pushRequest('alloy-grpc', 7, 3), meta, (e) =>
        e ? fail(e) : ok(),
      ),
    );
    client.close();
    expect(await flamegraph('alloy-grpc')).toEqual(
      new Map([
        ['main.main', 0],
        ['main.hot', 7 * PERIOD],
        ['main.cold', 3 * PERIOD],
      ]),
    );
    const py = createClient(querierV1.QuerierService, createConnectTransport({ baseUrl: app.base, httpVersion: '1.1', interceptors: [bearer(token)] }));
    const range = { start: BigInt(timeMs - 3_600_000), end: BigInt(Date.now() + 60_000) };
    expect((await py.labelValues({ name: 'service_version', matchers: ['{service_name="alloy-grpc"}'], ...range })).names).toEqual(['1.2.3']);
    const types = await py.profileTypes({ ...range });
    expect(types.profileTypes.map((t) => t.ID)).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^process_cpu:cpu:nanoseconds:cpu:nanoseconds/),
        expect.stringMatching(/^process_cpu:samples:count:cpu:nanoseconds/),
      ]),
    );
  });

  it('refuses a series without service_name or __name__ with INVALID_ARGUMENT, and garbage pprof too', async () => {
    const client = createClient(
      pusher,
      createConnectTransport({ baseUrl: app.base, httpVersion: '1.1', useBinaryFormat: true, interceptors: [bearer(token)] }),
    ) as unknown as Record<string, (req: unknown) => Promise<unknown>>;
    const call = async (labels: Array<[string, string]>, raw: Uint8Array): Promise<ConnectError> => {
      try {
        await client['push'](
          create(
            pusher.method['push'].input as never,
            { series: [{ labels: labels.map(([name, value]) => ({ name, value })), samples: [{ rawProfile: raw }] }] } as never,
          ),
        );
      } catch (err) {
        return ConnectError.from(err);
      }
      throw new Error('accepted');
    };
    const good = cpuPprof(timeMs, 1, 1);
    const noService = await call([['__name__', 'process_cpu']], good);
    expect(noService.code).toBe(Code.InvalidArgument);
    expect(noService.rawMessage).toMatch(/service_name/);
    expect((await call([['service_name', 'x']], good)).rawMessage).toMatch(/__name__/);
    const garbage = await call(
      [
        ['__name__', 'process_cpu'],
        ['service_name', 'x'],
      ],
      new Uint8Array([1, 2, 3]),
    );
    expect(garbage.code).toBe(Code.InvalidArgument);
    expect(garbage.rawMessage).toMatch(/series\[0\]\.samples\[0\]: malformed pprof/);
  });
});

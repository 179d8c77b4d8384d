import { gunzipSync, gzipSync } from 'node:zlib';
import { create, fromBinary, toBinary, type DescMessage, type MessageShape } from '@bufbuild/protobuf';
import { timestampMs } from '@bufbuild/protobuf/wkt';
import { Function as PprofFunction, Line, Location, Profile, Sample, StringTable, ValueType } from 'pprof-format';
import { describe, expect, it } from 'vitest';
import { googleV1, metastoreV1alpha1, profilestoreV1alpha1, queryV1alpha1 } from '@firn/proto';
import { fakeCliIo, jsonResponse, type FetchCall } from '../testing/fake-cli-io';
import { runCli } from './cli';
import { runProfileCommand } from './profile-commands';

const Q = queryV1alpha1;
const NOW = Date.UTC(2025, 0, 2, 12, 0, 0);
const ENV = { FIRN_URL: 'http://gw:4100/', FIRN_TOKEN: 'tok' };
const CPU = 'process_cpu:cpu:nanoseconds:cpu:nanoseconds:delta';

/** A Go-style CPU pprof: main → hot (3 samples), main → cold (1), 10 ms period. */
function cpuPprof(timeMs = NOW - 60_000): Uint8Array {
  const st = new StringTable();
  const fns = ['main', 'hot', 'cold'].map((n, i) => new PprofFunction({ id: i + 1, name: st.dedup(n) }));
  return new Uint8Array(
    gzipSync(
      new Profile({
        sampleType: [
          new ValueType({ type: st.dedup('samples'), unit: st.dedup('count') }),
          new ValueType({ type: st.dedup('cpu'), unit: st.dedup('nanoseconds') }),
        ],
        sample: [new Sample({ locationId: [2, 1], value: [3, 30_000_000] }), new Sample({ locationId: [3, 1], value: [1, 10_000_000] })],
        location: fns.map((f, i) => new Location({ id: i + 1, line: [new Line({ functionId: f.id })] })),
        function: fns,
        stringTable: st,
        periodType: new ValueType({ type: st.dedup('cpu'), unit: st.dedup('nanoseconds') }),
        period: 10_000_000,
        timeNanos: BigInt(timeMs) * 1_000_000n,
      }).encode(),
    ),
  );
}

function decode<D extends DescMessage>(schema: D, call: FetchCall): MessageShape<D> {
  return fromBinary(schema, call.init.body as Uint8Array);
}

const proto = <D extends DescMessage>(schema: D, msg: MessageShape<D>) =>
  new Response(toBinary(schema, msg), { status: 200, headers: { 'content-type': 'application/proto' } });
const connectError = (status: number, code: string, message: string) => jsonResponse(status, { code, message });

function topResponse(): queryV1alpha1.QueryResponse {
  const node = (name: string, flat: number, cum: number) =>
    create(Q.TopNodeSchema, {
      meta: create(Q.TopNodeMetaSchema, { function: create(metastoreV1alpha1.FunctionSchema, { name }) }),
      flat: BigInt(flat),
      cumulative: BigInt(cum),
    });
  const unsymbolized = create(Q.TopNodeSchema, {
    meta: create(Q.TopNodeMetaSchema, {
      mapping: create(metastoreV1alpha1.MappingSchema, { file: '/usr/lib/libc.so.6' }),
      location: create(metastoreV1alpha1.LocationSchema, { address: 0x1234n }),
    }),
    flat: 5_000_000n,
    cumulative: 5_000_000n,
  });
  return create(Q.QueryResponseSchema, {
    report: {
      case: 'top',
      value: create(Q.TopSchema, {
        list: [node('hot', 1_500_000_000, 1_500_000_000), node('cold', 1_000_000_000, 1_000_000_000), node('main', 495_000_000, 3_000_000_000), unsymbolized],
        reported: 4,
        unit: 'nanoseconds',
      }),
    },
    total: 3_000_000_000n,
  });
}

describe(runProfileCommand.name, () => {
  describe('profile push', () => {
    it('sends a pprof through WriteRaw with __name__ from its sample types, service_name and labels, and names the stored types', async () => {
      const bytes = cpuPprof();
      const t = fakeCliIo(() => proto(profilestoreV1alpha1.WriteRawResponseSchema, create(profilestoreV1alpha1.WriteRawResponseSchema)), {
        files: { 'cpu.pb.gz': bytes },
        nowMs: NOW,
      });
      expect(await runCli(['profile', 'push', 'cpu.pb.gz', '--name', 'checkout', '--label', 'env=prod', '--label', 'zone=a=b'], ENV, t.io)).toBe(0);
      expect(t.calls).toHaveLength(1);
      expect(t.calls[0].url).toBe('http://gw:4100/parca.profilestore.v1alpha1.ProfileStoreService/WriteRaw');
      expect(new Headers(t.calls[0].init.headers).get('authorization')).toBe('Bearer tok');
      expect(new Headers(t.calls[0].init.headers).get('content-type')).toBe('application/proto');
      const req = decode(profilestoreV1alpha1.WriteRawRequestSchema, t.calls[0]);
      expect(req.series[0].labels?.labels.map((l) => [l.name, l.value])).toEqual([
        ['__name__', 'process_cpu'],
        ['service_name', 'checkout'],
        ['env', 'prod'],
        ['zone', 'a=b'],
      ]);
      expect(req.series[0].samples[0].rawProfile).toEqual(bytes);
      expect(t.out[0]).toMatch(/^pushed cpu\.pb\.gz \(pprof, \d+ bytes, 2 stacks\) at 2025-01-02T11:59:00\.000Z$/);
      expect(t.out).toContain(`  ${CPU}{service_name="checkout", env="prod", zone="a=b"}  total 40ms`);
      expect(t.out).toContain('  process_cpu:samples:count:cpu:nanoseconds:delta{service_name="checkout", env="prod", zone="a=b"}  total 4');
      expect(t.out.at(-1)).toBe(
        `query it: firn query --selector '${CPU}{service_name="checkout", env="prod", zone="a=b"}' --from 2025-01-02T10:59:00.000Z --to 2025-01-02T12:01:00.000Z`,
      );
    });

    it('takes __name__ from --label and replaces the pprof time with --from/--until', async () => {
      const t = fakeCliIo(() => proto(profilestoreV1alpha1.WriteRawResponseSchema, create(profilestoreV1alpha1.WriteRawResponseSchema)), {
        files: { 'p.pb': gunzipSync(cpuPprof()) },
        nowMs: NOW,
      });
      expect(
        await runCli(
          ['profile', 'push', 'p.pb', '--label', '__name__=myprof', '--from', '2024-12-31T23:00:00Z', '--until', '2024-12-31T23:00:10Z', '--json'],
          ENV,
          t.io,
        ),
      ).toBe(0);
      const req = decode(profilestoreV1alpha1.WriteRawRequestSchema, t.calls[0]);
      expect(req.series[0].labels?.labels.map((l) => l.value)).toEqual(['myprof', 'firn-cli']);
      const p = fromBinary(googleV1.ProfileSchema, gunzipSync(req.series[0].samples[0].rawProfile));
      expect(p.timeNanos).toBe(BigInt(Date.UTC(2024, 11, 31, 23)) * 1_000_000n);
      expect(p.durationNanos).toBe(10_000_000_000n);
      expect(p.sample).toHaveLength(2);
      const out = JSON.parse(t.out.join('\n')) as { time: string; profileTypes: Array<{ type: string; total: number }> };
      expect(out.time).toBe('2024-12-31T23:00:00.000Z');
      expect(out.profileTypes).toContainEqual({ type: 'myprof:cpu:nanoseconds:cpu:nanoseconds:delta', total: 40_000_000 });
    });

    it('sends folded text (gzip kept, with Content-Encoding) to /ingest with the Pyroscope name, range and sample rate', async () => {
      const body = gzipSync('main;hot 3\nmain;cold 1\n');
      const t = fakeCliIo(() => jsonResponse(200, {}), { files: { 'x.folded.gz': body }, nowMs: NOW });
      expect(
        await runCli(
          ['profile', 'push', 'x.folded.gz', '--name', 'billing', '--label', 'region=eu', '--from', 'now-2m', '--until', 'now-1m', '--sample-rate', '50'],
          ENV,
          t.io,
        ),
      ).toBe(0);
      const url = new URL(t.calls[0].url);
      expect(url.pathname).toBe('/ingest');
      expect(Object.fromEntries(url.searchParams)).toEqual({
        name: 'billing{region=eu}',
        format: 'folded',
        from: String((NOW - 120_000) / 1000),
        until: String((NOW - 60_000) / 1000),
        sampleRate: '50',
      });
      const headers = new Headers(t.calls[0].init.headers);
      expect(headers.get('content-encoding')).toBe('gzip');
      expect(headers.get('authorization')).toBe('Bearer tok');
      expect(t.calls[0].init.body).toEqual(body);
      // 4 samples at 50 Hz = 80 ms.
      expect(t.out).toContain(`  ${CPU}{region="eu", service_name="billing"}  total 80ms`);
    });

    it('passes --type as the Pyroscope kind suffix and --format overrides detection', async () => {
      const t = fakeCliIo(() => jsonResponse(200, {}), { files: { 'a.txt': 'main;alloc 4096\n' }, nowMs: NOW });
      expect(await runCli(['profile', 'push', 'a.txt', '--name', 'api', '--type', 'alloc_space', '--format', 'folded'], ENV, t.io)).toBe(0);
      expect(new URL(t.calls[0].url).searchParams.get('name')).toBe('api.alloc_space');
      expect(new URL(t.calls[0].url).searchParams.get('from')).toBe(String(NOW / 1000));
      expect(t.out).toContain('  memory:alloc_space:bytes:::delta{service_name="api"}  total 4KiB');
    });

    it('refuses bad invocations with exit 2 before calling the server', async () => {
      const t = fakeCliIo(() => jsonResponse(200, {}), {
        files: { 'cpu.pb.gz': cpuPprof(), 'junk.bin': new Uint8Array([0xff, 0xfe, 0x01, 0x02]), 'f.txt': 'a;b 1\n', empty: new Uint8Array() },
        nowMs: NOW,
      });
      const cases: Array<[string[], RegExp, Record<string, string>?]> = [
        [['profile', 'push'], /push needs a file/],
        [['profile', 'push', 'nope.pb'], /cannot read nope\.pb: ENOENT/],
        [['profile', 'push', 'empty'], /empty is empty/],
        [['profile', 'push', 'junk.bin'], /junk\.bin: malformed pprof/],
        [['profile', 'push', 'cpu.pb.gz', '--label', 'novalue'], /--label "novalue" is not k=v/],
        [['profile', 'push', 'cpu.pb.gz', '--label', 'service_name=x'], /set service_name with --name/],
        [['profile', 'push', 'cpu.pb.gz', '--type', 'cpu'], /--type applies to folded profiles only/],
        [['profile', 'push', 'cpu.pb.gz', '--lable', 'a=b'], /unknown flag --lable for "firn profile push"/],
        [['profile', 'push', 'cpu.pb.gz', '--format', 'jfr'], /--format must be pprof or folded/],
        [['profile', 'push', 'f.txt', '--label', 'a=x,y'], /cannot hold ","/],
        [['profile', 'push', 'f.txt', '--type', 'bogus'], /not a profile kind/],
        [['profile', 'push', 'f.txt', '--sample-rate', '0'], /--sample-rate must be a positive integer/],
        [['profile', 'push', 'f.txt', '--from', 'now', '--until', 'now-1m'], /--until must not be before --from/],
        [['profile', 'push', 'cpu.pb.gz', 'extra'], /unexpected argument "extra"/],
        [['profile', 'push', 'cpu.pb.gz'], /a tenant API token is required: --token or FIRN_TOKEN/, { FIRN_URL: 'http://gw' }],
      ];
      for (const [argv, message, env] of cases) {
        t.err.length = 0;
        expect(await runCli(argv, env ?? ENV, t.io), argv.join(' ')).toBe(2);
        expect(t.err.join('\n'), argv.join(' ')).toMatch(message);
      }
      expect(t.calls).toEqual([]);
    });

    it('exits 1 with a clear message when the token is refused or the server is unreachable', async () => {
      const refused = fakeCliIo(() => connectError(401, 'unauthenticated', 'invalid, expired or revoked token'), {
        files: { 'cpu.pb.gz': cpuPprof(), 'f.txt': 'a;b 1\n' },
        nowMs: NOW,
      });
      expect(await runCli(['profile', 'push', 'cpu.pb.gz'], ENV, refused.io)).toBe(1);
      expect(refused.err.at(-1)).toBe(
        'firn profile push: authentication failed: invalid, expired or revoked token (check --token / FIRN_TOKEN: a tenant API token)',
      );
      expect(await runCli(['profile', 'push', 'f.txt'], ENV, refused.io)).toBe(1);
      expect(refused.err.at(-1)).toBe(
        'firn profile push: authentication failed: invalid, expired or revoked token (check --token / FIRN_TOKEN: a tenant API token)',
      );

      const down = fakeCliIo(
        () => {
          throw new TypeError('fetch failed', { cause: Object.assign(new Error('connect ECONNREFUSED 10.0.0.1:4100'), { code: 'ECONNREFUSED' }) });
        },
        { files: { 'cpu.pb.gz': cpuPprof(), 'f.txt': 'a;b 1\n' }, nowMs: NOW },
      );
      expect(await runCli(['profile', 'push', 'cpu.pb.gz'], ENV, down.io)).toBe(1);
      expect(down.err.at(-1)).toBe('firn profile push: cannot reach http://gw:4100: connect ECONNREFUSED 10.0.0.1:4100');
      expect(await runCli(['profile', 'push', 'f.txt'], ENV, down.io)).toBe(1);
      expect(down.err.at(-1)).toBe('firn profile push: cannot reach http://gw:4100: connect ECONNREFUSED 10.0.0.1:4100');
    });
  });

  describe('query', () => {
    it('asks QueryService for a merged TOP report of the range and prints a top table', async () => {
      const t = fakeCliIo(() => proto(Q.QueryResponseSchema, topResponse()), { nowMs: NOW });
      expect(
        await runCli(['query', '--selector', `${CPU}{service_name="api"}`, '--from', 'now-2h', '--token', 'other', '--url', 'http://q:7070'], ENV, t.io),
      ).toBe(0);
      expect(t.calls[0].url).toBe('http://q:7070/parca.query.v1alpha1.QueryService/Query');
      expect(new Headers(t.calls[0].init.headers).get('authorization')).toBe('Bearer other');
      const req = decode(Q.QueryRequestSchema, t.calls[0]);
      expect(req.mode).toBe(Q.QueryRequest_Mode.MERGE);
      expect(req.reportType).toBe(Q.QueryRequest_ReportType.TOP);
      expect(req.options.case).toBe('merge');
      const merge = req.options.value as queryV1alpha1.MergeProfile;
      expect([merge.query, timestampMs(merge.start!), timestampMs(merge.end!)]).toEqual([`${CPU}{service_name="api"}`, NOW - 7_200_000, NOW]);
      expect(t.out).toEqual([
        `${CPU}{service_name="api"}  2025-01-02T10:00:00.000Z .. 2025-01-02T12:00:00.000Z`,
        'total 3s (3000000000 nanoseconds), top 4 of 4 functions',
        ' FLAT   FLAT%     SUM%   CUM     CUM%  FUNCTION',
        ' 1.5s  50.00%   50.00%  1.5s   50.00%  hot',
        '   1s  33.33%   83.33%    1s   33.33%  cold',
        '495ms  16.50%   99.83%    3s  100.00%  main',
        '  5ms   0.17%  100.00%   5ms    0.17%  [libc.so.6] 0x1234',
      ]);
    });

    it('limits the rows with --limit, prints JSON with --json and says when nothing matched', async () => {
      const t = fakeCliIo(() => proto(Q.QueryResponseSchema, topResponse()), { nowMs: NOW });
      expect(await runCli(['query', '--selector', CPU, '--limit', '1'], ENV, t.io)).toBe(0);
      expect(t.out.slice(1)).toEqual([
        'total 3s (3000000000 nanoseconds), top 1 of 4 functions',
        'FLAT   FLAT%    SUM%   CUM    CUM%  FUNCTION',
        '1.5s  50.00%  50.00%  1.5s  50.00%  hot',
      ]);
      t.out.length = 0;
      expect(await runCli(['query', '--selector', CPU, '--json'], ENV, t.io)).toBe(0);
      expect(JSON.parse(t.out.join('\n'))).toMatchObject({
        total: '3000000000',
        top: { unit: 'nanoseconds', list: expect.arrayContaining([expect.objectContaining({ flat: '1500000000' })]) },
      });

      const empty = fakeCliIo(
        () => proto(Q.QueryResponseSchema, create(Q.QueryResponseSchema, { report: { case: 'top', value: create(Q.TopSchema, { unit: 'nanoseconds' }) } })),
        { nowMs: NOW },
      );
      expect(await runCli(['query', '--selector', CPU], ENV, empty.io)).toBe(0);
      expect(empty.out).toEqual([`no samples match ${CPU} in 2025-01-02T11:00:00.000Z .. 2025-01-02T12:00:00.000Z`]);
    });

    it("shows the server's message for an unknown profile type and exits 1; bad flags exit 2", async () => {
      const t = fakeCliIo(() => connectError(400, 'invalid_argument', 'unknown profile type nosuch:a:b:c:d; this tenant has: ' + CPU), { nowMs: NOW });
      expect(await runCli(['query', '--selector', 'nosuch:a:b:c:d'], ENV, t.io)).toBe(1);
      expect(t.err.at(-1)).toBe(`firn query: error invalid_argument: unknown profile type nosuch:a:b:c:d; this tenant has: ${CPU}`);
      for (const [argv, message] of [
        [['query'], /--selector is required/],
        [['query', '--selector', CPU, '--from', 'yesterday'], /--from: cannot read "yesterday" as a time/],
        [['query', '--selector', CPU, '--from', 'now', '--to', 'now-1h'], /--to .* must be after --from/],
        [['query', '--selector', CPU, '--limit', '0'], /--limit must be a positive integer/],
        [['query', '--selector', CPU, '--selector', CPU], /--selector given more than once/],
        [['query', '--selector', CPU, '-x'], /unknown flag -x/],
      ] as Array<[string[], RegExp]>) {
        expect(await runCli(argv, ENV, t.io), argv.join(' ')).toBe(2);
        expect(t.err.at(-1), argv.join(' ')).toMatch(message);
      }
      expect(t.calls).toHaveLength(1);
    });
  });

  describe('export pprof', () => {
    it('writes the PPROF report to the -o file', async () => {
      const pprof = cpuPprof();
      const t = fakeCliIo(() => proto(Q.QueryResponseSchema, create(Q.QueryResponseSchema, { report: { case: 'pprof', value: pprof }, total: 40_000_000n })), {
        nowMs: NOW,
      });
      expect(await runCli(['export', 'pprof', '--selector', CPU, '--from', '1735812000', '--to', '1735815600000', '-o', 'out.pb.gz'], ENV, t.io)).toBe(0);
      const req = decode(Q.QueryRequestSchema, t.calls[0]);
      expect(req.reportType).toBe(Q.QueryRequest_ReportType.PPROF);
      const merge = req.options.value as queryV1alpha1.MergeProfile;
      expect([timestampMs(merge.start!), timestampMs(merge.end!)]).toEqual([1_735_812_000_000, 1_735_815_600_000]);
      expect(t.files.get('out.pb.gz')).toEqual(pprof);
      expect(t.out).toEqual([`wrote out.pb.gz (${pprof.length} bytes): ${CPU}, total 40ms`]);
      expect(await runCli(['export', 'pprof', '--selector', CPU], ENV, t.io)).toBe(2);
      expect(t.err.at(-1)).toMatch(/-o FILE is required/);
    });
  });

  describe('profile-types', () => {
    it('lists the formatted profile types, sorted', async () => {
      const types = [
        create(Q.ProfileTypeSchema, {
          name: 'process_cpu',
          sampleType: 'samples',
          sampleUnit: 'count',
          periodType: 'cpu',
          periodUnit: 'nanoseconds',
          delta: true,
        }),
        create(Q.ProfileTypeSchema, { name: 'memory', sampleType: 'inuse_space', sampleUnit: 'bytes', periodType: 'space', periodUnit: 'bytes' }),
      ];
      const t = fakeCliIo(() => proto(Q.ProfileTypesResponseSchema, create(Q.ProfileTypesResponseSchema, { types })), { nowMs: NOW });
      expect(await runCli(['profile-types', '--from', 'now-1d'], ENV, t.io)).toBe(0);
      expect(t.calls[0].url).toBe('http://gw:4100/parca.query.v1alpha1.QueryService/ProfileTypes');
      expect(timestampMs(decode(Q.ProfileTypesRequestSchema, t.calls[0]).start!)).toBe(NOW - 86_400_000);
      expect(t.out).toEqual(['memory:inuse_space:bytes:space:bytes', 'process_cpu:samples:count:cpu:nanoseconds:delta']);
    });
  });

  it('prints the help of each command on --help (exit 0) and the list of commands for an unknown one (exit 2)', async () => {
    const t = fakeCliIo(() => jsonResponse(500, {}), { nowMs: NOW });
    for (const argv of [
      ['profile', 'push', '--help'],
      ['query', '-h'],
      ['export', 'pprof', '--help'],
      ['profile-types', '--help'],
    ]) {
      t.out.length = 0;
      expect(await runCli(argv, {}, t.io)).toBe(0);
      expect(t.out[0]).toMatch(new RegExp(`^usage: firn ${argv[0]}`));
    }
    expect(await runCli(['profile', 'pull'], ENV, t.io)).toBe(2);
    expect(t.err.at(-1)).toMatch(/firn profile push <file>/);
    expect(t.calls).toEqual([]);
  });
});

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { create, toBinary } from '@bufbuild/protobuf';
import { Code, ConnectError } from '@connectrpc/connect';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApp, type RunningApp } from './support/apps';
import { auth, levelsToTree, pollUntil, selfByPath, spanProfile, upstreamQuerier, type UpstreamQuerier } from './support/grafana-pyroscope';
import { ProfileSchema } from './support/upstream-pyroscope/gen/google/v1/profile_pb';
import type { FlameGraph } from './support/upstream-pyroscope/gen/querier/v1/querier_pb';
import { makeTokens } from './support/write-path';

const CPU = 'process_cpu:cpu:nanoseconds:cpu:nanoseconds';
const SAMPLES = 'process_cpu:samples:count:cpu:nanoseconds';
const HEAP = 'memory:inuse_space:bytes::';
const SPAN_A = '9a1b2c3d4e5f6071';
const SPAN_B = '0fedcba987654321';
const MS = 1e7; // one sample at 100 Hz, in nanoseconds

async function codeOf(p: Promise<unknown>): Promise<Code | 'ok'> {
  try {
    await p;
    return 'ok';
  } catch (err) {
    return ConnectError.from(err).code;
  }
}

/**
 * Grafana's Pyroscope data source against Firn: every request shape it sends (read from
 * grafana/grafana: pkg/tsdb/grafana-pyroscope-datasource and the plugin's frontend), sent by
 * Connect and gRPC clients generated from Pyroscope's own protos (support/upstream-pyroscope),
 * answered without error where Pyroscope answers without one, with exact numbers.
 */
describe("Grafana's Pyroscope data source, with clients from Pyroscope's protos", () => {
  let dir: string;
  let app: RunningApp;
  let tokens: Record<string, string>;
  let py: UpstreamQuerier;
  let pyGrpc: UpstreamQuerier;
  const t0 = Date.now() - 20 * 60_000;
  const range = { start: BigInt(t0 - 3600_000), end: BigInt(Date.now() + 60_000) };
  const flame = async (req: Parameters<UpstreamQuerier['selectMergeStacktraces']>[0], client: UpstreamQuerier = py): Promise<FlameGraph> =>
    (await client.selectMergeStacktraces(req)).flamegraph as FlameGraph;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'firn-e2e-grafana-'));
    tokens = await makeTokens(join(dir, 'tokens.json'), ['acme', 'globex', 'initech']);
    app = await startApp('all-in-one', {
      args: ['--data-dir', join(dir, 'data'), '--tokens-file', join(dir, 'tokens.json'), '--ingester-flush-max-age-ms', '200'],
      readyTimeoutMs: 120_000,
    });
    py = upstreamQuerier(app.base, 'connect', auth(tokens.acme));
    pyGrpc = upstreamQuerier(app.base, 'grpc', auth(tokens.acme, 'basic'));
    const ingest = async (query: string, body: Buffer | Uint8Array): Promise<void> => {
      const res = await fetch(`${app.base}/ingest?${query}`, { method: 'POST', headers: { authorization: `Bearer ${tokens.acme}` }, body });
      expect(res.status, await res.text()).toBe(200);
    };
    const s = Math.floor(t0 / 1000);
    const folded = (name: string, at: number, text: string) =>
      ingest(`name=${encodeURIComponent(name)}&from=${at}&until=${at + 10}&sampleRate=100`, Buffer.from(text));
    await folded('shop.cpu{env=prod,region=eu}', s, 'main;handle;parse 3\nmain;handle;render 2\n');
    await folded('shop.cpu{env=dev}', s + 60, 'main;idle 1\n');
    await folded('cart.cpu{env=prod}', s + 120, 'main;checkout 4\n');
    await folded('shop.inuse_space{env=prod}', s, 'main;alloc 1024\n');
    await ingest(`name=spans-app&format=pprof&from=${s}&until=${s + 10}&spyName=gospy`, spanProfile(t0, SPAN_A, SPAN_B));
    // Visible once flushed: poll the total of every service.
    await pollUntil(async () => Number((await flame({ profileTypeID: CPU, labelSelector: '{}', ...range })).total) === 21 * MS, 120_000);
  }, 300_000);

  afterAll(async () => {
    await app?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('passes the health check (ProfileTypes over 1970-01-01T00:00:01..04, no data there) and lists profile types', async () => {
    expect((await py.profileTypes({ start: 1000n, end: 4000n })).profileTypes).toEqual([]);
    const types = await py.profileTypes({ start: BigInt(Date.now() - 3600_000), end: BigInt(Date.now() + 3600_000) });
    expect(types.profileTypes.map((t) => t.ID)).toEqual([HEAP, CPU, SAMPLES]);
    expect(types.profileTypes.find((t) => t.ID === CPU)).toMatchObject({
      name: 'process_cpu',
      sampleType: 'cpu',
      sampleUnit: 'nanoseconds',
      periodType: 'cpu',
      periodUnit: 'nanoseconds',
    });
    // Without a range (older Grafana versions): no error either.
    expect((await py.profileTypes({})).profileTypes.length).toBe(3);
  }, 120_000);

  it('answers label names and values for every selector shape the editors and variables send', async () => {
    const visible = (names: string[]) => names.filter((n) => !n.startsWith('__')); // Grafana hides private labels
    // Query editor: `{}`; label editor: `{__profile_type__="…"}`; variables: `<id>{}`; older editors: `<id>{…}`.
    expect(visible((await py.labelNames({ matchers: ['{}'], ...range })).names)).toEqual(['env', 'pyroscope_spy', 'region', 'service_name', 'span_name']);
    expect((await py.labelNames({ matchers: ['{}'], ...range })).names).toContain('__profile_type__');
    expect(visible((await py.labelNames({ matchers: [`{__profile_type__="${HEAP}"}`], ...range })).names)).toEqual(['env', 'pyroscope_spy', 'service_name']);
    expect(visible((await py.labelNames({ matchers: [`${HEAP}{}`], ...range })).names)).toEqual(['env', 'pyroscope_spy', 'service_name']);
    expect(visible((await py.labelNames({ matchers: [`${CPU}{service_name="shop"}`], ...range })).names)).toEqual([
      'env',
      'pyroscope_spy',
      'region',
      'service_name',
    ]);
    expect((await py.labelValues({ name: 'service_name', matchers: [`${CPU}{}`], ...range })).names).toEqual(['cart', 'shop', 'spans-app']);
    expect((await py.labelValues({ name: 'service_name', matchers: [`${HEAP}{}`], ...range })).names).toEqual(['shop']);
    expect((await py.labelValues({ name: 'env', matchers: [`{__profile_type__="${CPU}", service_name="shop"}`], ...range })).names).toEqual(['dev', 'prod']);
    expect((await py.labelValues({ name: 'env', matchers: ['{service_name=~"(shop|cart)"}'], ...range })).names).toEqual(['dev', 'prod']);
    expect((await py.labelValues({ name: '__profile_type__', matchers: ['{service_name="cart"}'], ...range })).names).toEqual([CPU]);
    expect((await py.labelValues({ name: '__name__', matchers: ['{}'], ...range })).names).toEqual(['memory', 'process_cpu']);
    // Span ids are no series label; span names are.
    expect((await py.labelValues({ name: 'span_name', matchers: ['{}'], ...range })).names).toEqual(['GET /a', 'GET /b']);
    expect((await py.labelNames({ matchers: ['{}'], ...range })).names).not.toContain('span_id');
    // No data, or a selection that matches nothing: empty, not an error.
    const past = { start: BigInt(t0 - 7200_000), end: BigInt(t0 - 3700_000) };
    expect((await py.labelNames({ matchers: ['{}'], ...past })).names).toEqual([]);
    expect((await py.labelValues({ name: 'service_name', matchers: ['block:contentions:count:contentions:count{}'], ...range })).names).toEqual([]);
    expect(await codeOf(py.labelValues({ name: '', matchers: ['{}'], ...range }))).toBe(Code.InvalidArgument);
    expect(await codeOf(py.labelNames({ matchers: ['{service_name="x"'], ...range }))).toBe(Code.InvalidArgument);
  }, 120_000);

  it('returns exact flame graphs, decoded the way Grafana decodes them, for each selector', async () => {
    const shop = await flame({ profileTypeID: CPU, labelSelector: '{service_name="shop"}', ...range });
    expect(Number(shop.total)).toBe(6 * MS);
    expect(shop.names[0]).toBe('total');
    expect(selfByPath(levelsToTree(shop))).toEqual({ 'main;handle;parse': 3 * MS, 'main;handle;render': 2 * MS, 'main;idle': MS });
    const tree = levelsToTree(shop);
    expect(tree?.children.map((c) => [c.name, c.total])).toEqual([['main', 6 * MS]]);
    // Multi-value variable, `{}` (Grafana turns '' into it), and a profile type id in front.
    expect(Number((await flame({ profileTypeID: CPU, labelSelector: '{service_name=~"(shop|cart)"}', ...range })).total)).toBe(10 * MS);
    expect(Number((await flame({ profileTypeID: CPU, labelSelector: `${CPU}{env="prod"}`, ...range })).total)).toBe(9 * MS);
    expect(selfByPath(levelsToTree(await flame({ profileTypeID: HEAP, labelSelector: '{}', ...range })))).toEqual({ 'main;alloc': 1024 });
    // max_nodes trims (small nodes become "other"), totals stay exact.
    const full = await flame({ profileTypeID: CPU, labelSelector: '{}', ...range });
    const trimmed = await flame({ profileTypeID: CPU, labelSelector: '{}', ...range, maxNodes: 3n });
    expect(Number(trimmed.total)).toBe(21 * MS);
    expect(trimmed.names.length).toBeLessThan(full.names.length);
    expect(Object.values(selfByPath(levelsToTree(trimmed))).reduce((a, b) => a + b, 0)).toBe(21 * MS);
    // gRPC with Basic auth: the same graph.
    expect(await flame({ profileTypeID: CPU, labelSelector: '{service_name="shop"}', ...range }, pyGrpc)).toEqual(shop);
    // Connect's JSON form (curl, scripts): the same levels, as JSON (the binary forms send them pre-encoded).
    const res = await fetch(`${app.base}/querier.v1.QuerierService/SelectMergeStacktraces`, {
      method: 'POST',
      headers: { authorization: `Bearer ${tokens.acme}`, 'content-type': 'application/json' },
      body: JSON.stringify({ profileTypeID: CPU, labelSelector: '{service_name="shop"}', start: String(range.start), end: String(range.end) }),
    });
    expect(res.status).toBe(200);
    const json = (await res.json()) as { flamegraph: { names: string[]; levels: Array<{ values?: string[] }>; total: string } };
    expect(json.flamegraph.total).toBe(String(6 * MS));
    expect(json.flamegraph.names).toEqual(shop.names);
    expect(json.flamegraph.levels.map((l) => (l.values ?? []).map(Number))).toEqual(shop.levels.map((l) => l.values.map(Number)));
  }, 120_000);

  it('answers a range without data, an unknown profile type or a selection of nothing with an empty flame graph, as Pyroscope does', async () => {
    const empty = { names: ['total'], levels: [[0, 0, 0, 0]], total: 0, maxSelf: 0 };
    const asPlain = (fg: FlameGraph) => ({
      names: fg.names,
      levels: fg.levels.map((l) => l.values.map(Number)),
      total: Number(fg.total),
      maxSelf: Number(fg.maxSelf),
    });
    expect(asPlain(await flame({ profileTypeID: CPU, labelSelector: '{}', start: BigInt(t0 - 7200_000), end: BigInt(t0 - 3700_000) }))).toEqual(empty);
    expect(asPlain(await flame({ profileTypeID: 'block:contentions:count:contentions:count', labelSelector: '{}', ...range }))).toEqual(empty);
    expect(asPlain(await flame({ profileTypeID: CPU, labelSelector: '{service_name="nope"}', ...range }))).toEqual(empty);
    expect(asPlain(await flame({ profileTypeID: CPU, labelSelector: `{__profile_type__="${HEAP}"}`, ...range }))).toEqual(empty);
    expect(
      (await py.selectSeries({ profileTypeID: CPU, labelSelector: '{}', start: BigInt(t0 - 7200_000), end: BigInt(t0 - 3700_000), step: 15 })).series,
    ).toEqual([]);
    // A malformed profile type id or range is the client's error, as in Pyroscope.
    expect(await codeOf(py.selectMergeStacktraces({ profileTypeID: 'process_cpu', labelSelector: '{}', ...range }))).toBe(Code.InvalidArgument);
    expect(await codeOf(py.selectMergeStacktraces({ profileTypeID: CPU, labelSelector: '{}', start: range.end, end: range.start }))).toBe(Code.InvalidArgument);
  }, 120_000);

  it('returns series per group with exact sums, the top series with limit, and label sets with Series', async () => {
    const all = await py.selectSeries({ profileTypeID: CPU, labelSelector: '{}', ...range, step: 15, groupBy: ['service_name'] });
    const sums = Object.fromEntries(all.series.map((s) => [s.labels.map((l) => `${l.name}=${l.value}`).join(','), s.points.reduce((a, p) => a + p.value, 0)]));
    expect(sums).toEqual({ 'service_name=cart': 4 * MS, 'service_name=shop': 6 * MS, 'service_name=spans-app': 11 * MS });
    const top = await py.selectSeries({ profileTypeID: CPU, labelSelector: '{}', ...range, step: 15, groupBy: ['service_name'], limit: 1n });
    expect(top.series.map((s) => s.labels[0].value)).toEqual(['spans-app']);
    const one = await py.selectSeries({ profileTypeID: CPU, labelSelector: '{service_name="shop"}', ...range, step: 60 });
    expect(one.series).toHaveLength(1);
    expect(one.series[0].points.map((p) => p.value)).toEqual([5 * MS, MS]);
    const series = await py.series({ matchers: ['{service_name="shop"}'], labelNames: ['service_name', '__profile_type__'], ...range });
    expect(series.labelsSet.map((l) => l.labels.map((x) => `${x.name}=${x.value}`).join(','))).toEqual([
      `__profile_type__=${HEAP},service_name=shop`,
      `__profile_type__=${CPU},service_name=shop`,
    ]);
  }, 120_000);

  it('serves span profiles: SelectMergeSpanProfile for one span id returns exactly its samples', async () => {
    const span = async (ids: string[], client: UpstreamQuerier = py) =>
      (await client.selectMergeSpanProfile({ profileTypeID: CPU, labelSelector: '{service_name="spans-app"}', spanSelector: ids, ...range }))
        .flamegraph as FlameGraph;
    const a = await span([SPAN_A]);
    expect(Number(a.total)).toBe(7 * MS);
    expect(selfByPath(levelsToTree(a))).toEqual({ 'main;handler;a_work': 7 * MS });
    expect(selfByPath(levelsToTree(await span([SPAN_B], pyGrpc)))).toEqual({ 'main;handler;b_work': 3 * MS });
    expect(Number((await span([SPAN_A, SPAN_B.toUpperCase()])).total)).toBe(10 * MS);
    expect(Number((await span([])).total)).toBe(11 * MS); // no selector: every sample, as in Pyroscope
    expect(Number((await span(['0000000000000001'])).total)).toBe(0);
    // The same through SelectMergeStacktraces' span_selector, and per span name as a label.
    expect(Number((await flame({ profileTypeID: SAMPLES, labelSelector: '{}', spanSelector: [SPAN_A], ...range })).total)).toBe(7);
    expect(Number((await flame({ profileTypeID: CPU, labelSelector: '{span_name="GET /b"}', ...range })).total)).toBe(3 * MS);
    expect(await codeOf(span(['not-a-span']))).toBe(Code.InvalidArgument);
  }, 120_000);

  it('diffs two selections and answers GetProfileStats and AnalyzeQuery', async () => {
    const diff = await py.diff({
      left: { profileTypeID: CPU, labelSelector: '{service_name="cart"}', ...range },
      right: { profileTypeID: CPU, labelSelector: '{service_name="shop"}', ...range },
    });
    expect([Number(diff.flamegraph?.leftTicks), Number(diff.flamegraph?.rightTicks)]).toEqual([4 * MS, 6 * MS]);
    const stats = await py.getProfileStats({});
    expect(stats.dataIngested).toBe(true);
    expect(Number(stats.oldestProfileTime)).toBeLessThanOrEqual(t0);
    expect(Number(stats.newestProfileTime)).toBe(Math.floor(t0 / 1000) * 1000 + 120_000); // cart, uploaded with from = t0 + 120 s
    const other = upstreamQuerier(app.base, 'connect', auth(tokens.globex, 'basic', 'acme'));
    expect(await other.getProfileStats({})).toMatchObject({ dataIngested: false });
    const analysis = await py.analyzeQuery({ query: `${CPU}{service_name="shop"}`, ...range });
    expect(analysis.queryScopes[0].blockCount).toBeGreaterThan(0n);
    expect(analysis.queryImpact?.totalQueriedSeries).toBe(2n); // shop: env=prod,region=eu and env=dev
    expect(analysis.queryImpact?.totalBytesInTimeRange).toBeGreaterThan(0n);
  }, 120_000);

  it('names a pyroscope-go multipart upload (no format, sample_type_config) like Pyroscope, and refuses prev_profile', async () => {
    // A Go block profile: contentions/count and delay/nanoseconds, which only the client's
    // sample_type_config tells apart from a mutex profile.
    const strings = ['', 'contentions', 'count', 'delay', 'nanoseconds', 'main', 'sync.(*Mutex).Lock'];
    const block = create(ProfileSchema, {
      sampleType: [
        { type: 1n, unit: 2n },
        { type: 3n, unit: 4n },
      ],
      periodType: { type: 1n, unit: 2n },
      period: 1n,
      stringTable: strings,
      function: [
        { id: 1n, name: 5n },
        { id: 2n, name: 6n },
      ],
      location: [
        { id: 1n, line: [{ functionId: 1n }] },
        { id: 2n, line: [{ functionId: 2n }] },
      ],
      sample: [{ locationId: [2n, 1n], value: [4n, 4000n] }],
    });
    const form = (parts: Record<string, Uint8Array | string>): FormData => {
      const f = new FormData();
      for (const [k, v] of Object.entries(parts)) f.append(k, new Blob([typeof v === 'string' ? v : Buffer.from(v)]), k);
      return f;
    };
    const config = JSON.stringify({
      contentions: { units: 'lock_samples', 'display-name': 'block_count' },
      delay: { units: 'lock_nanoseconds', 'display-name': 'block_duration' },
    });
    const at = Math.floor(t0 / 1000);
    const post = (body: FormData) =>
      fetch(`${app.base}/ingest?name=go-app&from=${at}&until=${at + 10}&spyName=gospy`, {
        method: 'POST',
        headers: { authorization: `Bearer ${tokens.initech}` },
        body,
      });
    const ok = await post(form({ profile: gzipSync(toBinary(ProfileSchema, block)), sample_type_config: config }));
    expect(ok.status, await ok.text()).toBe(200);
    const refused = await post(form({ profile: toBinary(ProfileSchema, block), prev_profile: toBinary(ProfileSchema, block) }));
    expect(refused.status).toBe(400);
    expect(((await refused.json()) as { message: string }).message).toMatch(/prev_profile/);
    const initech = upstreamQuerier(app.base, 'connect', auth(tokens.initech));
    let ids: string[] = [];
    await pollUntil(async () => (ids = (await initech.profileTypes(range)).profileTypes.map((t) => t.ID)).length === 2, 120_000);
    expect(ids).toEqual(['block:contentions:count:contentions:count', 'block:delay:nanoseconds:contentions:count']);
    expect((await initech.labelValues({ name: 'pyroscope_spy', matchers: ['{service_name="go-app"}'], ...range })).names).toEqual(['gospy']);
    expect(Number((await flame({ profileTypeID: 'block:delay:nanoseconds:contentions:count', labelSelector: '{}', ...range }, initech)).total)).toBe(4000);
  }, 240_000);
});

// @vitest-environment jsdom
import './grafana-env';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CoreApp, DataFrame, DataQueryRequest, DataSourceInstanceSettings, dateTime } from '@grafana/data';
import { setBackendSrv, setTemplateSrv } from '@grafana/runtime';
import { freePort } from '@firn/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DataSource } from '../src/datasource';
import { FirnOptions, FirnQuery } from '../src/types';
import { TestBackendSrv } from './backend-srv';
import { CPU, startFirn, type FirnUnderTest } from './firn';
import { GrafanaProxy } from './grafana-proxy';
import { TestTemplateSrv } from './template-srv';

const MIN = 60_000;
const E7 = 10_000_000; // ns per folded sample at sampleRate=100

function columns(frame: DataFrame): Record<string, unknown[]> {
  return Object.fromEntries(frame.fields.map((f) => [f.name, [...f.values]]));
}

/**
 * The data source class exactly as Grafana runs it: constructed from instance settings that hold
 * no secret, calling getBackendSrv()/getTemplateSrv(), its requests reaching a real Firn
 * (all-in-one, seeded through /ingest) only through a data source proxy that applies the
 * plugin.json route (URL + `Authorization: Bearer` from secure data).
 */
describe('Firn data source against a running Firn', () => {
  let firn: FirnUnderTest;
  let grafana: GrafanaProxy;
  let backend: TestBackendSrv;
  let templates: TestTemplateSrv;

  beforeAll(async () => {
    firn = await startFirn();
    grafana = new GrafanaProxy(join(__dirname, '..', 'src'));
    await grafana.start();
    grafana.save('firn', { jsonData: { url: firn.app.base }, secureJsonData: { apiToken: firn.token } });
    backend = new TestBackendSrv(grafana.base);
    setBackendSrv(backend as never);
    templates = new TestTemplateSrv([
      { name: 'ns', current: ['checkout', 'search'], multi: true },
      { name: 'pod', current: 'checkout-1' },
      // "All" of the sample dashboard's namespace variable.
      { name: 'namespace', current: ['checkout', 'search'], multi: true, includeAll: true },
    ]);
    setTemplateSrv(templates as never);
  }, 180_000);

  afterAll(async () => {
    await grafana?.stop();
    await firn?.stop();
  });

  function dataSource(uid = 'firn', jsonData: FirnOptions = { url: firn.app.base }): DataSource {
    // What Grafana hands a frontend plugin: the proxy URL and jsonData, never secureJsonData.
    const settings = {
      id: 1,
      uid,
      name: 'Firn',
      type: 'firn-profiles-datasource',
      access: 'proxy',
      url: `/api/datasources/proxy/uid/${uid}`,
      jsonData,
      readOnly: false,
      meta: {},
    };
    return new DataSource(settings as unknown as DataSourceInstanceSettings<FirnOptions>);
  }

  function request(targets: FirnQuery[], fromMs: number, toMs: number): DataQueryRequest<FirnQuery> {
    return {
      requestId: 'Q1',
      app: CoreApp.Dashboard,
      interval: '1m',
      intervalMs: MIN,
      range: { from: dateTime(fromMs), to: dateTime(toMs), raw: { from: dateTime(fromMs), to: dateTime(toMs) } },
      scopedVars: {},
      targets,
      timezone: 'utc',
      startTime: Date.now(),
    };
  }

  it('does return the seeded hot_fn/cold_fn profiles as the exact flame graph frame', async () => {
    const res = await dataSource().query(
      request([{ refId: 'A', queryType: 'flamegraph', profileTypeId: CPU, labelSelector: '{namespace="checkout"}' }], firn.t1 - MIN, firn.t1 + 20 * MIN),
    );
    expect(res.errors).toBeUndefined();
    expect(res.data).toHaveLength(1);
    const frame = res.data[0] as DataFrame;
    expect(frame.meta?.preferredVisualisationType).toBe('flamegraph');
    expect(frame.refId).toBe('A');
    // checkout: hot_fn 30 + 60, cold_fn 10 + 10, new_fn 5 samples of 10 ms.
    expect(columns(frame)).toEqual({
      level: [0, 1, 2, 3, 3, 3],
      value: [115 * E7, 115 * E7, 115 * E7, 20 * E7, 90 * E7, 5 * E7],
      self: [0, 0, 0, 20 * E7, 90 * E7, 5 * E7],
      label: ['total', 'main', 'work', 'cold_fn', 'hot_fn', 'new_fn'],
    });
    expect(frame.fields[1].config.unit).toBe('ns');
  });

  it('does return series grouped by a label, summed per step', async () => {
    const res = await dataSource().query(
      request(
        [{ refId: 'S', queryType: 'series', profileTypeId: CPU, labelSelector: '{}', groupBy: ['namespace'], step: '1m' }],
        firn.t1 - MIN,
        firn.t1 + 20 * MIN,
      ),
    );
    expect(res.errors).toBeUndefined();
    const byName = Object.fromEntries(
      (res.data as DataFrame[]).map((f) => [
        f.fields[1].config.displayNameFromDS,
        { ...columns(f), labels: f.fields[1].labels, unit: f.fields[1].config.unit },
      ]),
    );
    expect(byName).toEqual({
      checkout: { time: [firn.t1, firn.t1 + 10 * MIN], cpu: [40 * E7, 75 * E7], labels: { namespace: 'checkout' }, unit: 'ns' },
      search: { time: [firn.t1], cpu: [10 * E7], labels: { namespace: 'search' }, unit: 'ns' },
    });
  });

  it('does diff a selection against its own earlier window, with the series of the comparison', async () => {
    const query: FirnQuery = {
      refId: 'D',
      queryType: 'both',
      profileTypeId: CPU,
      labelSelector: '{namespace="checkout"}',
      diff: true,
      baselineSelector: '{namespace="checkout"}',
      baselineOffset: '10m',
    };
    const from = firn.t1 + 10 * MIN - MIN;
    const res = await dataSource().query(request([query], from, firn.t1 + 11 * MIN));
    expect(res.errors).toBeUndefined();
    const [diff, series, ...rest] = res.data as DataFrame[];
    expect(rest).toEqual([]);
    expect(columns(diff)).toEqual({
      level: [0, 1, 2, 3, 3, 3],
      value: [40 * E7, 40 * E7, 40 * E7, 10 * E7, 30 * E7, 0],
      self: [0, 0, 0, 10 * E7, 30 * E7, 0],
      label: ['total', 'main', 'work', 'cold_fn', 'hot_fn', 'new_fn'],
      valueRight: [75 * E7, 75 * E7, 75 * E7, 10 * E7, 60 * E7, 5 * E7],
      selfRight: [0, 0, 0, 10 * E7, 60 * E7, 5 * E7],
    });
    expect(diff.meta?.custom).toMatchObject({ diff: true, baselineTotal: 40 * E7, comparisonTotal: 75 * E7 });
    // Grafana's 1m interval is above the 15 s minimum step, so buckets are minutes from `from`.
    expect(columns(series)).toEqual({ time: [firn.t1 + 10 * MIN], cpu: [75 * E7] });
  });

  it('does interpolate dashboard variables into selectors (multi-value as a regex alternation)', async () => {
    const query: FirnQuery = { refId: 'V', queryType: 'flamegraph', profileTypeId: CPU, labelSelector: '{namespace=~"$ns", pod!="$pod"}' };
    const res = await dataSource().query(request([query], firn.t1 - MIN, firn.t1 + 20 * MIN));
    expect(res.errors).toBeUndefined();
    expect(templates.calls).toContainEqual({ target: '{namespace=~"$ns", pod!="$pod"}', result: '{namespace=~"(checkout|search)", pod!="checkout-1"}' });
    // checkout-2 (75 samples) and search-1 (10).
    expect(columns(res.data[0] as DataFrame).value[0]).toBe(85 * E7);
  });

  it('does answer dashboard variable queries and editor autocomplete from Firn', async () => {
    const ds = dataSource();
    const range = { from: dateTime(firn.t1 - MIN), to: dateTime(firn.t1 + 20 * MIN), raw: { from: 'now-1h', to: 'now' } };
    const texts = async (q: string) => (await ds.metricFindQuery(q, { range })).map((v) => v.text);
    expect(await texts('label_values(namespace)')).toEqual(['checkout', 'search']);
    expect(await texts('label_values({namespace="checkout"}, pod)')).toEqual(['checkout-1', 'checkout-2']);
    expect(await texts(`label_values(${CPU}{namespace="search"}, pod)`)).toEqual(['search-1']);
    expect(await texts('profile_types()')).toEqual([CPU]);
    expect(await texts('label_names()')).toEqual(['namespace', 'pod', 'pyroscope_spy', 'service_name']);
    expect(await ds.getLabelValues('namespace', CPU, '{pod="checkout-2"}', range)).toEqual(['checkout']);
    await expect(ds.metricFindQuery('values(x)')).rejects.toThrow(/label_values/);
  });

  it("does run the sample dashboard's variable and panel queries", async () => {
    // provisioning/dashboards/firn-fleet-cpu.json reads the agent's profile type; the seed is Pyroscope CPU.
    const dash = JSON.parse(
      readFileSync(join(__dirname, '..', 'provisioning', 'dashboards', 'firn-fleet-cpu.json'), 'utf8').replace(
        /parca_agent:samples:count:cpu:nanoseconds/g,
        CPU,
      ),
    ) as {
      templating: { list: Array<{ name: string; query: string }> };
      panels: Array<{ type: string; targets: FirnQuery[] }>;
    };
    const ds = dataSource();
    const range = { from: dateTime(firn.t1 - MIN), to: dateTime(firn.t1 + 20 * MIN), raw: { from: 'now-1h', to: 'now' } };
    const nsVar = dash.templating.list.find((v) => v.name === 'namespace');
    expect((await ds.metricFindQuery(nsVar?.query ?? '', { range })).map((v) => v.text)).toEqual(['checkout', 'search']);
    const [cpuByNamespace, flame] = await Promise.all(dash.panels.map((p) => ds.query(request(p.targets, firn.t1 - MIN, firn.t1 + 20 * MIN))));
    expect((cpuByNamespace.data as DataFrame[]).map((f) => [f.fields[1].config.displayNameFromDS, [...f.fields[1].values]]).sort()).toEqual([
      ['checkout', [40 * E7, 75 * E7]],
      ['search', [10 * E7]],
    ]);
    expect(columns(flame.data[0] as DataFrame).value[0]).toBe(125 * E7);
  });

  it("does report Firn's own error for a bad selector on the query that caused it", async () => {
    const res = await dataSource().query(
      request([{ refId: 'E', queryType: 'flamegraph', profileTypeId: CPU, labelSelector: '{namespace=}' }], firn.t1 - MIN, firn.t1 + 20 * MIN),
    );
    expect(res.data).toEqual([]);
    expect(res.errors).toEqual([{ refId: 'E', message: expect.stringMatching(/^Firn: .*namespace/) }]);
  });

  it('does keep the token on the server side of the proxy', () => {
    const token = firn.token;
    expect(backend.sent.length).toBeGreaterThan(10);
    for (const r of backend.sent) {
      expect(r.url).toMatch(/^\/api\/datasources\/proxy\/uid\/[a-z]+\/firn\//);
      expect(JSON.stringify(r)).not.toContain(token);
    }
    const toFirn = grafana.proxied.filter((p) => p.upstreamUrl.startsWith(firn.app.base));
    expect(toFirn.length).toBe(backend.sent.filter((r) => r.url.startsWith('/api/datasources/proxy/uid/firn/')).length);
    for (const p of toFirn) expect(p.upstreamHeaders.authorization).toBe(`Bearer ${token}`);
  });

  describe('Save & test', () => {
    it('does name the tenant the token belongs to', async () => {
      expect(await dataSource().testDatasource()).toEqual({
        status: 'success',
        message: 'Connected to Firn as tenant "default": 1 profile type in the last hour.',
      });
    });

    it('does say so when Firn rejects the token', async () => {
      grafana.save('badtoken', { jsonData: { url: firn.app.base }, secureJsonData: { apiToken: `${firn.token.slice(0, -4)}AAAA` } });
      const res = await dataSource('badtoken').testDatasource();
      expect(res.status).toBe('error');
      expect(res.message).toMatch(/^Firn rejected the API token\. Paste a valid token/);
      // Firn answered 401; Grafana's proxy turned it into a 400 the plugin recognises.
      expect(grafana.proxied.at(-1)?.status).toBe(401);
    });

    it('does say so when Grafana cannot reach the URL', async () => {
      // A port the kernel just handed out and nothing listens on.
      const url = `http://127.0.0.1:${await freePort()}`;
      grafana.save('nowhere', { jsonData: { url }, secureJsonData: { apiToken: firn.token } });
      const res = await dataSource('nowhere', { url }).testDatasource();
      expect(res).toMatchObject({
        status: 'error',
        message: expect.stringContaining(`Grafana could not reach Firn at ${url} (HTTP 502 from Grafana's data source proxy)`),
      });
    });

    it('does point at TLS when an https URL meets a plain-HTTP port', async () => {
      const url = firn.app.base.replace('http://', 'https://');
      grafana.save('tls', { jsonData: { url }, secureJsonData: { apiToken: firn.token } });
      const res = await dataSource('tls', { url }).testDatasource();
      expect(res.status).toBe('error');
      expect(res.message).toMatch(/could not reach Firn at https:.*TLS \(an https URL needs a TLS endpoint/);
    });

    it('does ask for the URL before calling anything', async () => {
      expect(await dataSource('firn', {}).testDatasource()).toEqual({ status: 'error', message: "Set Firn's URL (e.g. http://firn:7070)." });
    });
  });
});

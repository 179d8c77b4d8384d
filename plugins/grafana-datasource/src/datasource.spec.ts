// @vitest-environment jsdom
import '../tests/grafana-env';
import { DataSourceInstanceSettings } from '@grafana/data';
import { BackendSrvRequest, setBackendSrv } from '@grafana/runtime';
import { Observable } from 'rxjs';
import { beforeEach, describe, expect, it } from 'vitest';
import { DataSource, selectorFormatter } from './datasource';
import { FirnOptions } from './types';

/** Canned answers by path suffix: [status, body]. */
let answers: Record<string, [number, unknown]> = {};

const fakeBackend = {
  fetch: (o: BackendSrvRequest) =>
    new Observable((sub) => {
      const key = Object.keys(answers).find((k) => o.url.endsWith(k));
      const [status, data] = key ? answers[key] : [404, 'not found'];
      if (status >= 200 && status < 300) {
        sub.next({ status, data, ok: true, config: o });
        sub.complete();
      } else sub.error({ status, data, config: o });
    }),
};

function ds(jsonData: FirnOptions = { url: 'http://firn:7070' }): DataSource {
  return new DataSource({
    uid: 'u',
    name: 'Firn',
    type: 'firn-profiles-datasource',
    url: '/api/datasources/proxy/uid/u',
    jsonData,
  } as unknown as DataSourceInstanceSettings<FirnOptions>);
}

describe(DataSource.name, () => {
  beforeEach(() => {
    answers = {};
    setBackendSrv(fakeBackend as never);
  });

  it('does still test the token where the URL serves only the query API (no whoami)', async () => {
    answers['/firn/querier.v1.QuerierService/ProfileTypes'] = [200, { profileTypes: [{ ID: 'a:b:c:d:e' }, { ID: 'f:g:h:i:j' }] }];
    expect(await ds().testDatasource()).toEqual({
      status: 'success',
      message: "Connected to Firn's query API: 2 profile types in the last hour (this endpoint does not serve /api/v1/whoami, so the tenant is not shown).",
    });
  });

  it('does refuse a token without read:profiles', async () => {
    answers['/firn/api/v1/whoami'] = [200, { tenant: 'acme', scopes: ['write:profiles'] }];
    expect(await ds().testDatasource()).toEqual({
      status: 'error',
      message: 'The token belongs to tenant "acme" but lacks the read:profiles scope (it has: write:profiles).',
    });
  });

  it('does report a URL that is not Firn', async () => {
    const res = await ds().testDatasource();
    expect(res).toEqual({
      status: 'error',
      message: "http://firn:7070 answered 404 for /querier.v1.QuerierService/ProfileTypes: it does not look like Firn's query endpoint.",
    });
  });

  it('does report a timeout from the proxy', async () => {
    answers['/firn/api/v1/whoami'] = [504, ''];
    expect((await ds().testDatasource()).message).toBe('Firn did not answer in time at http://firn:7070. Narrow the time range or the selector.');
  });

  it("does use the explicit step, else Grafana's interval but at least the minimum step", () => {
    expect(ds().stepSeconds({ refId: 'A', step: '2m' }, 1000)).toBe(120);
    expect(ds().stepSeconds({ refId: 'A' }, 1000)).toBe(15);
    expect(ds().stepSeconds({ refId: 'A' }, 300_000)).toBe(300);
    expect(ds({ url: 'x', minStep: '1m' }).stepSeconds({ refId: 'A' }, 1000)).toBe(60);
  });
});

describe(selectorFormatter.name, () => {
  it('does escape a single value for the quotes around it', () => {
    expect(selectorFormatter('a"b\\c')).toBe('a\\"b\\\\c');
  });

  it('does turn multi-value and All selections into an escaped regex alternation', () => {
    expect(selectorFormatter(['checkout', 'search'], { multi: true })).toBe('(checkout|search)');
    expect(selectorFormatter(['a.b'], { multi: true })).toBe('a\\\\.b');
    expect(selectorFormatter('x', { includeAll: true })).toBe('x');
  });
});

import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isApiPath, uiResponse } from './web-ui.routes';
import { WebUiSite, resolveUiDir } from './web-ui.site';

describe(isApiPath.name, () => {
  it('does claim every API, ops and RPC path', () => {
    for (const p of [
      '/api',
      '/api/v1/whoami',
      '/api/v1/admin/tenants',
      '/ingest',
      '/ingest/x',
      '/readyz',
      '/healthz',
      '/metrics',
      '/v1development/profiles',
      '/debug/pprof',
      '/parca.query.v1alpha1.QueryService/Query',
      '/querier.v1.QuerierService/SelectMergeStacktraces',
      '/grpc.health.v1.Health/Check',
      '/push.v1.PusherService/Push',
    ]) {
      expect(isApiPath(p), p).toBe(true);
    }
  });

  it('does leave UI pages and files to the UI', () => {
    for (const p of ['/', '/explore', '/compare', '/assets/index-abc.js', '/favicon.svg', '/explore/anything']) expect(isApiPath(p), p).toBe(false);
  });
});

describe(uiResponse.name, () => {
  let dir: string;
  let site: WebUiSite;
  const js = 'console.log("firn");'.repeat(200);

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'firn-ui-'));
    await mkdir(join(dir, 'assets'));
    await writeFile(join(dir, 'index.html'), '<!doctype html><title>Firn</title><div id="root"></div>');
    await writeFile(join(dir, 'assets', 'index-AbC123.js'), js);
    await writeFile(join(dir, 'favicon.svg'), '<svg/>');
    site = await WebUiSite.load(dir);
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('does serve hashed assets for a year, gzipped when asked', () => {
    const r = uiResponse(site, { method: 'GET', url: '/assets/index-AbC123.js?v=1', acceptEncoding: 'gzip, br' });
    expect(r).toMatchObject({
      status: 200,
      outcome: 'file',
      headers: { 'cache-control': 'public, max-age=31536000, immutable', 'content-encoding': 'gzip', 'content-type': 'text/javascript; charset=utf-8' },
    });
    expect(gunzipSync(r?.body as Buffer).toString()).toBe(js);
    expect(uiResponse(site, { method: 'GET', url: '/assets/index-AbC123.js' })?.body?.toString()).toBe(js);
  });

  it('does fall back to index.html for pages, revalidated by ETag', () => {
    const r = uiResponse(site, { method: 'GET', url: '/compare?a=%7Bx%3D%221%22%7D', accept: 'text/html,application/xhtml+xml,*/*;q=0.8' });
    expect(r).toMatchObject({ status: 200, outcome: 'index', headers: { 'cache-control': 'no-cache', 'content-type': 'text/html; charset=utf-8' } });
    expect(r?.headers['content-security-policy']).toContain("connect-src 'self'");
    const again = uiResponse(site, { method: 'GET', url: '/', ifNoneMatch: r?.headers.etag });
    expect(again).toMatchObject({ status: 304, outcome: 'not_modified' });
    expect(again?.body).toBeUndefined();
  });

  it('does leave unknown paths to the router (404) for clients that are not navigating a browser', () => {
    expect(uiResponse(site, { method: 'GET', url: '/no/such/route' })).toBeUndefined();
    expect(uiResponse(site, { method: 'GET', url: '/no/such/route', accept: 'application/json' })).toBeUndefined();
    expect(uiResponse(site, { method: 'GET', url: '/', accept: 'application/json' })).toMatchObject({ status: 200, outcome: 'index' });
  });

  it('does answer 404 for a missing asset instead of HTML', () => {
    expect(uiResponse(site, { method: 'GET', url: '/assets/old-123.js' })).toMatchObject({ status: 404, outcome: 'missing' });
    expect(uiResponse(site, { method: 'GET', url: '/robots.txt' })).toMatchObject({ status: 404 });
  });

  it('does step aside for APIs, writes and malformed paths', () => {
    expect(uiResponse(site, { method: 'GET', url: '/api/v1/whoami' })).toBeUndefined();
    expect(uiResponse(site, { method: 'POST', url: '/' })).toBeUndefined();
    expect(uiResponse(site, { method: 'GET', url: '/%E0%A4%A' })).toBeUndefined();
  });

  it('does answer HEAD without a body', () => {
    const r = uiResponse(site, { method: 'HEAD', url: '/' });
    expect(r?.status).toBe(200);
    expect(r?.body).toBeUndefined();
    expect(Number(r?.headers['content-length'])).toBeGreaterThan(0);
  });

  it('does explain how to build the UI when it is not built', () => {
    const r = uiResponse(undefined, { method: 'GET', url: '/' });
    expect(r).toMatchObject({ status: 503, outcome: 'not_built' });
    expect(r?.body?.toString()).toContain('npm run build:web');
  });
});

describe(resolveUiDir.name, () => {
  it('does take an explicit directory, off, or find dist/web above this file', () => {
    expect(resolveUiDir('/srv/ui', '/x')).toBe('/srv/ui');
    expect(resolveUiDir('ui', '/x')).toBe('/x/ui');
    expect(resolveUiDir('off', '/x')).toBeUndefined();
    expect(resolveUiDir('', '/nowhere', '/nowhere/a/b')).toBe('/nowhere/dist/web');
  });
});

import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Body, Controller, Get, Module, Post } from '@nestjs/common';
import { z } from 'zod';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defineConfig, serverSettings, setting } from '@firn/config';
import { runServer, type RunningServer } from '@firn/server-runtime';
import { WebUiModule } from './web-ui.module';

@Controller()
class FakeApiController {
  @Get('api/v1/thing')
  thing(): { api: true } {
    return { api: true };
  }

  @Post('ingest')
  ingest(@Body() _b: unknown): { ingested: true } {
    return { ingested: true };
  }
}

@Module({ controllers: [FakeApiController] })
class FakeApiModule {}

const config = defineConfig('uitest', {
  ...serverSettings(0),
  uiDir: setting({ env: 'FIRN_UI_DIR', flag: 'ui-dir', schema: z.string(), default: '', description: 'test' }),
});

/** The UI middleware inside a real server: one port, Nest routes, Connect routes, ops endpoints. */
describe(WebUiModule.name, () => {
  let dir: string;
  let server: RunningServer;
  let base: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'firn-ui-int-'));
    await mkdir(join(dir, 'assets'));
    await writeFile(join(dir, 'index.html'), '<!doctype html><title>Firn UI</title>');
    await writeFile(join(dir, 'assets', 'app-1a2b3c.js'), 'export const x = 1;');
    // The UI module is first, so a wildcard that did not step aside would shadow the API.
    server = await runServer(
      { component: 'uitest', config, setup: async (cfg) => ({ modules: [WebUiModule.forRoot({ uiDir: cfg.uiDir }), FakeApiModule] }) },
      { argv: ['--ui-dir', dir, '--host', '127.0.0.1', '--port', '0', '--log-level', 'silent'], env: {} },
    );
    base = `http://127.0.0.1:${server.port}`;
  }, 60_000);

  afterAll(async () => {
    await server?.shutdown('test');
    await rm(dir, { recursive: true, force: true });
  });

  it('does serve the UI at / and as the SPA fallback for deep links', async () => {
    for (const path of ['/', '/explore', '/compare?x=1']) {
      const r = await fetch(base + path, { headers: { accept: 'text/html,application/xhtml+xml,*/*;q=0.8' } });
      expect(r.status, path).toBe(200);
      expect(await r.text()).toContain('Firn UI');
      expect(r.headers.get('cache-control')).toBe('no-cache');
    }
    const a = await fetch(`${base}/assets/app-1a2b3c.js`);
    expect(a.status).toBe(200);
    expect(a.headers.get('cache-control')).toContain('immutable');
  });

  it('does not shadow API, Connect or ops routes', async () => {
    expect(await (await fetch(`${base}/api/v1/thing`)).json()).toEqual({ api: true });
    const ingest = await fetch(`${base}/ingest`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(await ingest.json()).toEqual({ ingested: true });
    expect((await fetch(`${base}/no/such/route`, { headers: { accept: 'application/json' } })).status).toBe(404);
    const missing = await fetch(`${base}/api/v1/nothing`);
    expect(missing.status).toBe(404);
    expect(missing.headers.get('content-type')).toContain('application/json');
    const rpc = await fetch(`${base}/grpc.health.v1.Health/Check`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(await rpc.json()).toEqual({ status: 'SERVING' });
    const unknownRpc = await fetch(`${base}/no.such.Service/Method`);
    expect(unknownRpc.headers.get('content-type')).toContain('application/json');
    expect(((await (await fetch(`${base}/readyz`)).json()) as { ready: boolean }).ready).toBe(true);
    expect(await (await fetch(`${base}/metrics`)).text()).toContain('firn_gateway_ui_requests_total');
  });
});

// The production image, built from the repository's Dockerfile and run here: buildah with chroot
// isolation (no daemon, no runtime) on a cached local Node 20 base (see support/image.ts). The
// all-in-one starts from the image's own ENTRYPOINT/CMD as uid 1000, takes a profile and answers
// a query for it through the public API, then drains on SIGTERM sent to its PID 1 (tini).
import { chmodSync, chownSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, spawnServer, type ServerProcess } from '@firn/testing';
import { Buildah, buildImage, descendants, ensureTestBase } from './support/image';

const log = (line: string): void => void process.stderr.write(`[image e2e] ${line}\n`);

describe('server image (Dockerfile)', () => {
  const b = new Buildah();
  let image = '';
  let container = '';
  let app: ServerProcess | undefined;
  let dataDir = '';
  let readyMs = 0;

  beforeAll(async () => {
    const t0 = Date.now();
    const baseImage = await ensureTestBase(b, log);
    log(`base ${baseImage} after ${Math.round((Date.now() - t0) / 1000)} s; building the server target`);
    image = await buildImage(b, baseImage, 'server');
    log(`built ${image} after ${Math.round((Date.now() - t0) / 1000)} s`);
    container = (await b.exec(['from', '--quiet', image])).trim();
  }, 20 * 60_000);

  afterAll(async () => {
    await app?.stop();
    if (container) await b.exec(['rm', container]).catch(() => undefined);
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  it(
    'holds compiled JavaScript and production dependencies only',
    async () => {
      const inImage = async (script: string): Promise<string> =>
        (await b.exec(['run', '--isolation', 'chroot', container, '--', 'node', '-e', script], 120_000)).trim();
      const found = JSON.parse(
        await inImage(`
        const fs = require('fs'), path = require('path');
        const ts = [];
        const walk = (d) => { for (const e of fs.readdirSync(d, { withFileTypes: true })) { const p = path.join(d, e.name); if (e.isDirectory()) walk(p); else if (p.endsWith('.ts') && !p.endsWith('.d.ts')) ts.push(p); } };
        walk('/app/dist');
        const has = (m) => { try { require.resolve(m, { paths: ['/app'] }); return true; } catch { return false; } };
        console.log(JSON.stringify({ ts, swc: has('@swc/core'), swcRegister: has('@swc-node/register'), typescript: has('typescript'), vitest: has('vitest'), nest: has('@nestjs/core') }));
      `),
      ) as Record<string, unknown>;
      expect(found).toEqual({ ts: [], swc: false, swcRegister: false, typescript: false, vitest: false, nest: true });
      // The symbolizer's tools and the all-in-one's embedded NATS are in the image.
      for (const tool of ['addr2line', 'eu-unstrip', 'nats-server', 'tini']) {
        expect(await b.exec(['run', '--isolation', 'chroot', container, '--', 'sh', '-c', `command -v ${tool}`], 60_000), tool).toContain(tool);
      }
      const cfg = await b.config(image);
      expect(cfg.user).toBe('1000:1000');
      expect(cfg.entrypoint).toEqual(['/usr/bin/tini', '--', 'node', '/app/dist/server/main.js']);
    },
    5 * 60_000,
  );

  it(
    'selects the component by command and explains its settings',
    async () => {
      const help = await b.exec(
        ['run', '--isolation', 'chroot', '--user', '1000:1000', container, '--', 'node', '/app/dist/server/main.js', 'querier', '--help'],
        120_000,
      );
      expect(help).toContain('firn querier: settings');
      expect(help).toContain('FIRN_QUERIER_PEERS');
    },
    5 * 60_000,
  );

  it(
    'starts the all-in-one as uid 1000, answers a push and a query, and drains on SIGTERM',
    async () => {
      const cfg = await b.config(image);
      dataDir = mkdtempSync(join(tmpdir(), 'firn-image-data-'));
      chmodSync(dataDir, 0o700);
      chownSync(dataDir, 1000, 1000);
      const port = await freePort();
      const baseUrl = `http://127.0.0.1:${port}`;
      const started = Date.now();
      app = await spawnServer({
        name: 'image-all-in-one',
        command: b.bin,
        // The image's own entrypoint and command; buildah's chroot shares the host network.
        args: b.argv([
          'run',
          '--isolation',
          'chroot',
          '--user',
          cfg.user,
          '--volume',
          `${dataDir}:/var/lib/firn/data`,
          '--env',
          `FIRN_PORT=${port}`,
          container,
          '--',
          ...cfg.entrypoint,
          ...cfg.cmd,
        ]),
        ready: async () => (await fetch(`${baseUrl}/readyz`)).status === 200,
        readyTimeoutMs: 180_000,
        pollIntervalMs: 100,
        stopTimeoutMs: 30_000,
      });
      readyMs = Date.now() - started;
      log(`all-in-one ready ${readyMs} ms after buildah run`);

      const token = readFileSync(join(dataDir, 'default-token'), 'utf8').trim();
      const auth = { authorization: `Bearer ${token}` };
      const push = await fetch(`${baseUrl}/ingest?name=${encodeURIComponent('image.cpu{env=e2e}')}&sampleRate=100`, {
        method: 'POST',
        headers: auth,
        body: 'main;work;hash 30\nmain;work;sort 10\n',
      });
      expect(push.status).toBe(200);

      const now = Date.now();
      const query = JSON.stringify({
        profileTypeID: 'process_cpu:cpu:nanoseconds:cpu:nanoseconds',
        labelSelector: '{service_name="image"}',
        start: String(now - 3600_000),
        end: String(now + 60_000),
      });
      let total = 0;
      for (let i = 0; i < 120 && total === 0; i++) {
        const res = await fetch(`${baseUrl}/querier.v1.QuerierService/SelectMergeStacktraces`, {
          method: 'POST',
          headers: { ...auth, 'content-type': 'application/json' },
          body: query,
        });
        expect(res.status).toBe(200);
        const body = (await res.json()) as { flamegraph?: { total?: string } };
        total = Number(body.flamegraph?.total ?? 0);
        if (total === 0) await sleep(500);
      }
      // 40 samples at 100 Hz: 0.4 s of CPU in nanoseconds.
      expect(total).toBe(40 * 10_000_000);
      // The web UI ships in the image and is served at /.
      const ui = await fetch(`${baseUrl}/`);
      expect(ui.status).toBe(200);
      expect(await ui.text()).toMatch(/<div id="root">/);

      // SIGTERM to the container's PID 1 (tini), as the kubelet sends it: the server drains and exits 0.
      const tini = descendants(app.pid).find((p) => p.cmdline.startsWith('/usr/bin/tini'));
      expect(tini, 'tini runs inside the container').toBeDefined();
      process.kill(tini?.pid ?? 0, 'SIGTERM');
      const exit = await app.exited;
      expect(exit.code).toBe(0);
      expect(app.logTail(16 * 1024)).toMatch(/"msg":"stopped"/);
    },
    10 * 60_000,
  );
});

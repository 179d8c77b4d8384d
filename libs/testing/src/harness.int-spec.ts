import { execFileSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTempDir, removeDir, spawnServer } from './child-process';
import { startDebuginfod } from './debuginfod';
import { startNats } from './nats';
import { startRedis } from './redis';
import { requireBinary } from './require-binary';

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Builds a tiny ELF with DWARF and a GNU build id into `dir` and returns that build id. */
function buildElf(dir: string, name: string, body: string): string {
  const src = join(dir, `${name}.c`);
  const out = join(dir, name);
  writeFileSync(src, `int main(void) { ${body} }\n`);
  execFileSync('gcc', ['-g', '-O0', '-Wl,--build-id', '-o', out, src]);
  const notes = execFileSync('readelf', ['-n', out], { encoding: 'utf8' });
  const m = /Build ID:\s*([0-9a-f]+)/.exec(notes);
  if (!m) throw new Error(`no build id in ${out}:\n${notes}`);
  return m[1];
}

describe('test harness', () => {
  beforeAll(() => {
    for (const bin of ['redis-server', 'nats-server', 'debuginfod', 'gcc', 'readelf']) requireBinary(bin);
  });

  it('requireBinary names the install script when a binary is missing', () => {
    expect(() => requireBinary('firn-no-such-binary')).toThrow(/scripts\/install-system-deps\.sh/);
  });

  it('startRedis serves PING and stop() frees the port and removes the temp dir', async () => {
    const redis = await startRedis();
    expect(redis.url).toBe(`redis://127.0.0.1:${redis.port}`);
    expect(existsSync(redis.tmpDir)).toBe(true);
    expect(await canListen(redis.port)).toBe(false);
    await redis.stop();
    expect(isAlive(redis.pid)).toBe(false);
    expect(await canListen(redis.port)).toBe(true);
    expect(existsSync(redis.tmpDir)).toBe(false);
  });

  it('startNats serves JetStream and stop() frees the port and removes the data dir', async () => {
    const nats = await startNats();
    expect(existsSync(join(nats.dataDir, 'jetstream'))).toBe(true);
    await nats.stop();
    expect(isAlive(nats.pid)).toBe(false);
    expect(await canListen(nats.port)).toBe(true);
    expect(existsSync(nats.dataDir)).toBe(false);
  });

  it('startNats leaves a caller-supplied data dir in place', async () => {
    const dir = makeTempDir('nats-own');
    try {
      const nats = await startNats({ dataDir: dir });
      await nats.stop();
      expect(existsSync(join(dir, 'jetstream'))).toBe(true);
    } finally {
      removeDir(dir);
    }
  });

  describe('startDebuginfod', () => {
    let scanDir: string;
    let buildId: string;

    beforeAll(() => {
      scanDir = makeTempDir('debuginfod-scan');
      buildId = buildElf(scanDir, 'tiny', 'return 0;');
    });
    afterAll(() => removeDir(scanDir));

    it('serves the debuginfo of a scanned ELF by build id, then stops cleanly', async () => {
      const d = await startDebuginfod({ scanDir, waitForBuildId: buildId });
      try {
        const res = await fetch(`${d.url}/buildid/${buildId}/debuginfo`);
        expect(res.status).toBe(200);
        const body = Buffer.from(await res.arrayBuffer());
        expect(body.subarray(0, 4).toString('latin1')).toBe('\x7fELF');
        const missing = await fetch(`${d.url}/buildid/${'0'.repeat(40)}/debuginfo`);
        expect(missing.status).toBe(404);
      } finally {
        await d.stop();
      }
      expect(isAlive(d.pid)).toBe(false);
      expect(await canListen(d.port)).toBe(true);
      expect(existsSync(d.tmpDir)).toBe(false);
    });

    it('picks up files added later after rescan()', async () => {
      const d = await startDebuginfod({ scanDir });
      try {
        const laterId = buildElf(scanDir, 'later', 'return 7;');
        expect((await fetch(`${d.url}/buildid/${laterId}/debuginfo`)).status).toBe(404);
        await d.rescan();
        expect((await fetch(`${d.url}/buildid/${laterId}/debuginfo`)).status).toBe(200);
      } finally {
        await d.stop();
      }
    });
  });

  describe(spawnServer.name, () => {
    it('fails with the log tail when the child exits during startup, and cleans up', async () => {
      let tmp = '';
      const err = await spawnServer({
        name: 'dies',
        command: 'sh',
        args: ['-c', 'echo "fatal: cannot start"; exit 3'],
        ready: async ({ tmpDir }) => {
          tmp = tmpDir;
          return false;
        },
      }).catch((e: unknown) => e);
      expect((err as Error).message).toMatch(/exited during startup \(code 3[\s\S]*fatal: cannot start/);
      expect(tmp === '' || !existsSync(tmp)).toBe(true);
    });

    it('kills a child that never becomes ready by the deadline', async () => {
      let pid = 0;
      let tmp = '';
      const err = await spawnServer({
        name: 'hangs',
        command: 'sleep',
        args: ['60'],
        readyTimeoutMs: 300,
        ready: async (ctx) => {
          pid = ctx.pid;
          tmp = ctx.tmpDir;
          return false;
        },
      }).catch((e: unknown) => e);
      expect((err as Error).message).toMatch(/not ready within 300 ms/);
      expect(pid).toBeGreaterThan(0);
      expect(isAlive(pid)).toBe(false);
      expect(existsSync(tmp)).toBe(false);
    });

    it('reports a missing binary with the install script', async () => {
      const err = await spawnServer({ name: 'missing', command: 'firn-no-such-binary', args: [], ready: async () => true }).catch((e: unknown) => e);
      expect((err as Error).message).toContain('scripts/install-system-deps.sh');
    });
  });
});

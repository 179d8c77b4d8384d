import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort, makeTempDir, removeDir, spawnServer, withPortRetry } from '@firn/testing';

const ROOT = resolve(__dirname, '..', '..', '..');

// A server that owns its process (as `main` runs every component) with one component whose
// shutdown hook waits on a promise nothing settles (no timer, no socket keeps the process alive).
const CHILD = `
import { defineConfig, serverSettings } from '${join(ROOT, 'libs/config/src')}';
import { main } from '${join(ROOT, 'libs/server-runtime/src/run-server')}';

class Stuck {}
const config = defineConfig('stuck', { ...serverSettings(0) });
main(
  {
    component: 'stuck',
    config,
    setup: async () => ({
      modules: [{ module: Stuck, providers: [{ provide: 'stuck', useValue: { onApplicationShutdown: () => new Promise(() => undefined) } }] }],
    }),
  },
  process.argv.slice(2),
  process.env,
);
`;

interface LogLine {
  msg: string;
  phase?: string;
  timeoutMs?: number;
}

describe('a shutdown that runs out its budget', () => {
  const dir = makeTempDir('shutdown-timeout');
  const file = join(dir, 'child.ts');
  writeFileSync(file, CHILD);
  afterAll(() => removeDir(dir));

  it('exits 1 after FIRN_SHUTDOWN_TIMEOUT_MS, logging the step it was stuck in, even with nothing left to keep it alive', async () => {
    const proc = await withPortRetry(freePort, (port) =>
      spawnServer({
        name: 'stuck-server',
        command: process.execPath,
        args: [join(ROOT, 'scripts/run-ts.cjs'), file],
        cwd: ROOT,
        env: { FIRN_HOST: '127.0.0.1', FIRN_PORT: String(port), FIRN_SHUTDOWN_TIMEOUT_MS: '300', FIRN_LOG_LEVEL: 'info' },
        ready: async () => (await fetch(`http://127.0.0.1:${port}/readyz`)).status === 200,
        readyTimeoutMs: 60_000,
      }),
    );
    try {
      process.kill(proc.pid, 'SIGTERM');
      expect((await proc.exited).code).toBe(1);
      const lines = proc
        .logTail(1 << 20)
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as LogLine);
      expect(lines.find((l) => l.msg === 'shutdown timed out; exiting anyway')).toMatchObject({
        timeoutMs: 300,
        phase: 'stopping components (shutdown hooks)',
      });
      expect(lines.some((l) => l.msg === 'stopped')).toBe(false);
    } finally {
      await proc.stop();
    }
  });
});

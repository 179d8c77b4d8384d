// Runs the servers the way the image does: compiled JavaScript (scripts/build.cjs) started as
// `node dist/server/main.js <component>` from a directory laid out like the image's /app
// (dist/server, node_modules, package.json). Each suite builds its own tree, so suites running
// at the same time never swap dist/ under each other.
import { mkdtempSync, rmSync, symlinkSync, copyFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnServer, type ServerProcess } from '@firn/testing';
import { ROOT } from './apps';

export interface AppRoot {
  /** Stands for the image's /app. */
  readonly dir: string;
  remove(): void;
}

export function buildAppRoot(): AppRoot {
  const dir = mkdtempSync(join(tmpdir(), 'firn-app-'));
  const build = createRequire(__filename)(join(ROOT, 'scripts', 'build.cjs')) as { buildServer: (out: string) => { files: number } };
  build.buildServer(join(dir, 'dist', 'server'));
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
  copyFileSync(join(ROOT, 'package.json'), join(dir, 'package.json'));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

export interface CompiledAppOptions {
  root: AppRoot;
  app: string;
  host: string;
  port: number;
  env: Record<string, string | undefined>;
  /** Full argv instead of `node dist/server/main.js <app>` (e.g. a rendered container command). */
  command?: string[];
  readyTimeoutMs?: number;
  name?: string;
}

export async function startCompiledApp(o: CompiledAppOptions): Promise<ServerProcess> {
  const argv = o.command ?? [process.execPath, 'dist/server/main.js', o.app];
  const base = `http://${o.host}:${o.port}`;
  return spawnServer({
    name: o.name ?? `compiled-${o.app}`,
    command: argv[0] === 'node' ? process.execPath : argv[0],
    args: argv.slice(1),
    cwd: o.root.dir,
    env: { FIRN_LOG_LEVEL: 'info', ...o.env },
    ready: async () => (await fetch(`${base}/readyz`)).status === 200,
    readyTimeoutMs: o.readyTimeoutMs ?? 120_000,
    stopTimeoutMs: 40_000,
  });
}

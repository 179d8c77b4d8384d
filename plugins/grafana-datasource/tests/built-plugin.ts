import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

export const PLUGIN_ROOT = resolve(__dirname, '..');
export const DIST = join(PLUGIN_ROOT, 'dist');
const REPO_ROOT = resolve(PLUGIN_ROOT, '..', '..');
const INPUTS = ['src', 'scripts', 'package.json', 'README.md', 'CHANGELOG.md', 'LICENSE'];

function newest(path: string): number {
  const st = statSync(path);
  if (!st.isDirectory()) return st.mtimeMs;
  return Math.max(st.mtimeMs, ...readdirSync(path).map((n) => newest(join(path, n))));
}

export function zipFile(): string {
  const id = (JSON.parse(readFileSync(join(PLUGIN_ROOT, 'src', 'plugin.json'), 'utf8')) as { id: string }).id;
  const version = (JSON.parse(readFileSync(join(PLUGIN_ROOT, 'package.json'), 'utf8')) as { version: string }).version;
  return join(PLUGIN_ROOT, 'artifacts', `${id}-${version}.zip`);
}

function fresh(): boolean {
  const out = [join(DIST, 'module.js'), join(DIST, 'plugin.json'), zipFile()];
  if (!out.every((p) => existsSync(p))) return false;
  const built = Math.min(...out.map((p) => statSync(p).mtimeMs));
  return INPUTS.every((i) => newest(join(PLUGIN_ROOT, i)) <= built);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * dist/ and the zip as `npx nx run grafana-datasource:build` makes them (scripts/test.sh builds
 * first); rebuilt here when a source is newer, under a lock because test files run in parallel.
 */
export async function ensureBuilt(): Promise<void> {
  if (fresh()) return;
  const lock = join(REPO_ROOT, 'tmp', 'grafana-plugin-build.lock');
  mkdirSync(join(REPO_ROOT, 'tmp'), { recursive: true });
  const deadline = Date.now() + 10 * 60_000;
  for (;;) {
    try {
      mkdirSync(lock);
      writeFileSync(join(lock, 'pid'), String(process.pid));
      break;
    } catch {
      const owner = Number(existsSync(join(lock, 'pid')) ? readFileSync(join(lock, 'pid'), 'utf8') : 0);
      if (owner > 0 && !alive(owner)) rmSync(lock, { recursive: true, force: true });
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${lock}`);
      await new Promise((r) => setTimeout(r, 500));
    }
  }
  try {
    if (!fresh())
      execFileSync(process.execPath, [join(REPO_ROOT, 'scripts', 'run-ts.cjs'), join(PLUGIN_ROOT, 'scripts', 'build.ts')], { cwd: REPO_ROOT, stdio: 'pipe' });
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

// Builds and runs Firn's real Dockerfile on a machine without a container engine: buildah
// (chroot isolation, which needs no runtime and no daemon) on a local Node 20 base image made
// from a Debian root file system (mmdebstrap) plus this machine's own node and npm. Everything
// is cached under ${XDG_CACHE_HOME:-~/.cache}/firn/image-test, so only the first run pays for the
// root file system and the npm downloads; buildah's layer cache makes later builds cheap.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, realpathSync, renameSync, rmSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { requireBinary } from '@firn/testing';
import { ROOT } from './apps';

const run = promisify(execFile);

export const IMAGE_CACHE = join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'firn', 'image-test');
/** Bumped when the recipe of the base image changes. */
const BASE_RECIPE = 3;
/** The host's CA bundle: npm inside the build must trust what the host trusts (e.g. a proxy's CA). */
const HOST_CA = '/etc/ssl/certs/ca-certificates.crt';

export class Buildah {
  readonly bin = requireBinary('buildah');
  private readonly root = join(IMAGE_CACHE, 'containers');

  /** Runs buildah on the test's own storage (never the machine's default one). */
  async exec(args: string[], timeoutMs = 15 * 60_000): Promise<string> {
    const { stdout } = await run(this.bin, ['--root', join(this.root, 'storage'), '--runroot', join(this.root, 'run'), ...args], {
      timeout: timeoutMs,
      maxBuffer: 64 << 20,
      cwd: ROOT,
    });
    return stdout;
  }

  /** argv prefix for a long-running `buildah run` started by the caller. */
  argv(args: string[]): string[] {
    return ['--root', join(this.root, 'storage'), '--runroot', join(this.root, 'run'), ...args];
  }

  async hasImage(name: string): Promise<boolean> {
    const out = await this.exec(['images', '--quiet', '--noheading', name]).catch(() => '');
    return out.trim().length > 0;
  }

  /** ENTRYPOINT + CMD, user and env of an image, as its config says. */
  async config(name: string): Promise<{ entrypoint: string[]; cmd: string[]; user: string; env: string[] }> {
    const info = JSON.parse(await this.exec(['inspect', '--type', 'image', name])) as {
      OCIv1: { config: { Entrypoint?: string[]; Cmd?: string[]; User?: string; Env?: string[] } };
    };
    const c = info.OCIv1.config;
    return { entrypoint: c.Entrypoint ?? [], cmd: c.Cmd ?? [], user: c.User ?? '', env: c.Env ?? [] };
  }
}

/** npm's package directory beside this node (e.g. /usr/lib/node_modules/npm). */
function npmDir(): string {
  const cli = realpathSync(requireBinary('npm'));
  return dirname(dirname(cli));
}

/**
 * A Debian bookworm image with this machine's Node 20 and npm: the stand-in for
 * node:20-bookworm-slim, which no registry here serves. Built once per node/npm version.
 */
export async function ensureTestBase(b: Buildah, log: (line: string) => void): Promise<string> {
  const npm = npmDir();
  const npmVersion = (JSON.parse(readFileSync(join(npm, 'package.json'), 'utf8')) as { version: string }).version;
  const ca = existsSync(HOST_CA) ? readFileSync(HOST_CA) : Buffer.alloc(0);
  const key = createHash('sha256').update(`${BASE_RECIPE}\0${process.version}\0${npmVersion}\0`).update(ca).digest('hex').slice(0, 16);
  const name = `localhost/firn-test-base:${key}`;
  if (await b.hasImage(name)) return name;

  mkdirSync(IMAGE_CACHE, { recursive: true });
  const rootfs = join(IMAGE_CACHE, 'bookworm-minbase.tar');
  if (!existsSync(rootfs)) {
    log('building a Debian bookworm root file system with mmdebstrap (once; ~2-4 min)');
    const tmp = `${rootfs}.${process.pid}.tmp`;
    try {
      await run(requireBinary('mmdebstrap'), ['--variant=minbase', '--include=ca-certificates', 'bookworm', tmp], {
        timeout: 10 * 60_000,
        maxBuffer: 64 << 20,
      });
      renameSync(tmp, rootfs);
    } finally {
      rmSync(tmp, { force: true });
    }
  }
  log(`making the test base image ${name}`);
  const c = (await b.exec(['from', 'scratch'])).trim();
  try {
    await b.exec(['add', c, rootfs, '/']);
    await b.exec(['copy', c, process.execPath, '/usr/local/bin/node']);
    await b.exec(['copy', c, npm, '/usr/local/lib/node_modules/npm']);
    await b.exec(['run', '--isolation', 'chroot', c, '--', 'ln', '-sf', '../lib/node_modules/npm/bin/npm-cli.js', '/usr/local/bin/npm']);
    const env = ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'];
    if (ca.length > 0) {
      await b.exec(['copy', c, HOST_CA, '/etc/ssl/certs/firn-host-ca.crt']);
      env.push('NODE_EXTRA_CA_CERTS=/etc/ssl/certs/firn-host-ca.crt');
    }
    await b.exec(['config', ...env.flatMap((e) => ['--env', e]), c]);
    await b.exec(['commit', '--quiet', c, name]);
  } finally {
    await b.exec(['rm', c]).catch(() => undefined);
  }
  return name;
}

/** Builds one target of the repository's Dockerfile on `base`; returns the image name. */
export async function buildImage(b: Buildah, base: string, target: 'server' | 'agent'): Promise<string> {
  const name = `localhost/firn-test-${target}:latest`;
  await b.exec(
    ['bud', '--isolation', 'chroot', '--layers', '--target', target, '--build-arg', `NODE_IMAGE=${base}`, '-t', name, '-f', 'Dockerfile', '.'],
    20 * 60_000,
  );
  return name;
}

/** Process ids below `pid` (children, grandchildren, ...), from /proc. */
export function descendants(pid: number): Array<{ pid: number; cmdline: string }> {
  const parent = new Map<number, number>();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      parent.set(Number(d), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      // gone meanwhile
    }
  }
  const out: Array<{ pid: number; cmdline: string }> = [];
  const walk = (p: number): void => {
    for (const [child, pp] of parent) {
      if (pp !== p) continue;
      let cmdline = '';
      try {
        cmdline = readFileSync(`/proc/${child}/cmdline`, 'utf8').split('\0').join(' ').trim();
      } catch {
        // gone meanwhile
      }
      out.push({ pid: child, cmdline });
      walk(child);
    }
  };
  walk(pid);
  return out;
}

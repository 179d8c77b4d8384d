import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { dirname, extname, join, relative, resolve, sep } from 'node:path';
import { gzipSync } from 'node:zlib';

/** One file of the built UI, held in memory (the whole UI is a few hundred KiB). */
export interface SiteFile {
  readonly body: Buffer;
  /** Gzip of `body` when that is worth sending (text, > 1 KiB, and smaller). */
  readonly gzip?: Buffer;
  readonly type: string;
  readonly etag: string;
  /** Vite's content-hashed output (`assets/…`): cacheable for a year. */
  readonly immutable: boolean;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.map': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
  '.webmanifest': 'application/manifest+json',
};
const COMPRESSIBLE = new Set(['.html', '.js', '.mjs', '.css', '.json', '.map', '.svg', '.txt', '.webmanifest']);

/**
 * The built UI as an immutable in-memory map, read once at start: serving never touches the
 * disk, so a request cannot escape the directory and a half-written rebuild is never served.
 */
export class WebUiSite {
  private constructor(
    readonly dir: string,
    private readonly files: ReadonlyMap<string, SiteFile>,
  ) {}

  static async load(dir: string): Promise<WebUiSite> {
    const files = new Map<string, SiteFile>();
    for (const abs of await walk(dir)) {
      const rel = relative(dir, abs).split(sep).join('/');
      const ext = extname(rel).toLowerCase();
      const body = await readFile(abs);
      const z = COMPRESSIBLE.has(ext) && body.length > 1024 ? gzipSync(body, { level: 9 }) : undefined;
      files.set(`/${rel}`, {
        body,
        gzip: z && z.length < body.length ? z : undefined,
        type: TYPES[ext] ?? 'application/octet-stream',
        etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`,
        immutable: rel.startsWith('assets/'),
      });
    }
    if (!files.has('/index.html')) throw new Error(`${dir} has no index.html (run npm run build:web)`);
    return new WebUiSite(dir, files);
  }

  get size(): number {
    return this.files.size;
  }

  file(path: string): SiteFile | undefined {
    return this.files.get(path);
  }

  get index(): SiteFile {
    return this.files.get('/index.html') as SiteFile;
  }
}

async function walk(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const abs = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await walk(abs)));
    else if (e.isFile()) out.push(abs);
  }
  return out.sort();
}

/**
 * The UI directory for a `FIRN_UI_DIR` value: an explicit path, `off` (none), or empty =
 * `dist/web` of this installation, found from the working directory or, since tests and
 * operators start servers from anywhere, by walking up from this file to the checkout root.
 */
export function resolveUiDir(setting: string, cwd: string, here: string = __dirname): string | undefined {
  const v = setting.trim();
  if (v.toLowerCase() === 'off') return undefined;
  if (v !== '') return resolve(cwd, v);
  const candidates = [resolve(cwd, 'dist/web')];
  for (let d = here, i = 0; i < 8; i++, d = dirname(d)) candidates.push(join(d, 'dist/web'));
  return candidates.find((c) => existsSync(join(c, 'index.html'))) ?? candidates[0];
}

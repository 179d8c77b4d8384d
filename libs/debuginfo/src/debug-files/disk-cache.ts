import { mkdir, open, readdir, rename, stat, unlink, utimes, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { FirnError } from '@firn/errors';

const NAME_RE = /^[a-z0-9][a-z0-9._-]{0,250}$/;

/**
 * A directory of files bounded in total bytes, least recently used evicted first. The
 * symbolizer reads ELF files from disk (the symbol reader wants a path), and debuginfo is
 * reused across many jobs, so files stay here between jobs. Recency survives restarts through
 * mtimes. Writers fill a temp file that is renamed in place, so readers never see half a file.
 */
export class DiskCache {
  private readonly files = new Map<string, number>();
  private total = 0;
  private ready: Promise<void> | undefined;
  private readonly inFlight = new Map<string, Promise<string>>();

  constructor(private readonly opts: { dir: string; maxBytes: number }) {}

  get bytes(): number {
    return this.total;
  }

  /** The cached file's path, filling it with `fill` on a miss (one fill per name at a time). */
  async getOrFill(name: string, fill: (out: FileHandle) => Promise<void>): Promise<string> {
    if (!NAME_RE.test(name)) throw FirnError.invalidArgument(`disk cache name ${JSON.stringify(name)} is not a plain file name`);
    await (this.ready ??= this.scan());
    const path = join(this.opts.dir, name);
    if (this.files.has(name)) {
      this.touch(name);
      return path;
    }
    let p = this.inFlight.get(name);
    if (!p) {
      p = this.fill(name, path, fill).finally(() => this.inFlight.delete(name));
      this.inFlight.set(name, p);
    }
    return p;
  }

  private async fill(name: string, path: string, fill: (out: FileHandle) => Promise<void>): Promise<string> {
    const tmp = join(this.opts.dir, `.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`);
    const fh = await open(tmp, 'w');
    try {
      await fill(fh);
      await fh.close();
    } catch (err) {
      await fh.close().catch(() => undefined);
      await unlink(tmp).catch(() => undefined);
      throw err;
    }
    await rename(tmp, path);
    const size = (await stat(path)).size;
    this.files.set(name, size);
    this.total += size;
    await this.evict(name);
    return path;
  }

  private touch(name: string): void {
    const size = this.files.get(name) as number;
    this.files.delete(name);
    this.files.set(name, size);
    const t = new Date();
    void utimes(join(this.opts.dir, name), t, t).catch(() => undefined);
  }

  /** Oldest first, never the file just added (it is about to be read). */
  private async evict(keep: string): Promise<void> {
    for (const [name, size] of this.files) {
      if (this.total <= this.opts.maxBytes) break;
      if (name === keep) continue;
      this.files.delete(name);
      this.total -= size;
      // An open reader keeps its inode; unlinking under it is safe on POSIX.
      await unlink(join(this.opts.dir, name)).catch(() => undefined);
    }
  }

  private async scan(): Promise<void> {
    await mkdir(this.opts.dir, { recursive: true });
    const found: Array<{ name: string; size: number; mtimeMs: number }> = [];
    for (const name of await readdir(this.opts.dir)) {
      const path = join(this.opts.dir, name);
      if (name.startsWith('.tmp-')) {
        await unlink(path).catch(() => undefined);
        continue;
      }
      if (!NAME_RE.test(name)) continue;
      const s = await stat(path).catch(() => undefined);
      if (s?.isFile()) found.push({ name, size: s.size, mtimeMs: s.mtimeMs });
    }
    found.sort((a, b) => a.mtimeMs - b.mtimeMs);
    for (const f of found) {
      this.files.set(f.name, f.size);
      this.total += f.size;
    }
    await this.evict('');
  }
}

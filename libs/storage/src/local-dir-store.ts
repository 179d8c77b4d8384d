import { randomUUID } from 'node:crypto';
import type { Dirent } from 'node:fs';
import { mkdir, open, readFile, readdir, rename, rm, rmdir, stat, unlink } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ErrorCode, FirnError, isFirnError } from '@firn/errors';
import { compareKeys, validateListLimit, validateObjectKey, validateObjectPrefix, validateRange } from './object-key';
import { listAllPages, type ListOptions, type ListPage, type ObjectInfo, type ObjectStore, type PutOptions } from './object-store';

export interface LocalDirStoreOptions {
  /** Root directory; created on first write or check(). */
  dir: string;
}

/**
 * Temp files live inside the root so rename() never crosses a filesystem. The name is reserved:
 * keys under it are rejected and listings skip it.
 */
const TEMP_DIR = '.firn-tmp';
/** Temp files older than this are leftovers of a crash, never a write in progress. */
const STALE_TEMP_MS = 60 * 60 * 1000;
/** A concurrent delete may prune the parent directory between our mkdir and rename. */
const RENAME_ATTEMPTS = 5;

function errnoCode(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err ? String((err as { code: unknown }).code) : undefined;
}

/** Codes that mean "there is no object at this path" (a missing segment, or a directory there). */
const MISSING = new Set(['ENOENT', 'ENOTDIR', 'EISDIR']);

/**
 * Object store on a local directory: one file per object, '/' in keys becomes directories.
 * Meant for single-node deployments and tests; behaves like the S3 adapter (same conformance suite).
 */
export class LocalDirStore implements ObjectStore {
  readonly description: string;
  private readonly root: string;
  private readonly tmpDir: string;
  private swept = false;

  constructor(opts: LocalDirStoreOptions) {
    this.root = resolve(opts.dir);
    this.tmpDir = join(this.root, TEMP_DIR);
    this.description = pathToFileURL(this.root).href;
  }

  async put(key: string, body: Uint8Array, _opts?: PutOptions): Promise<void> {
    const target = this.pathOf(key);
    const tmp = join(this.tmpDir, randomUUID());
    try {
      await mkdir(this.tmpDir, { recursive: true });
      const fh = await open(tmp, 'wx');
      try {
        await fh.writeFile(body);
        // Flush before the rename so a crash can't leave a renamed but empty file.
        await fh.sync();
      } finally {
        await fh.close();
      }
      await this.renameIntoPlace(tmp, target, key);
    } catch (err) {
      await rm(tmp, { force: true }).catch(() => undefined);
      throw this.fail(err, 'put', key);
    }
  }

  async get(key: string): Promise<Buffer> {
    const path = this.pathOf(key);
    try {
      return await readFile(path);
    } catch (err) {
      if (MISSING.has(errnoCode(err) ?? '')) throw this.notFound(key);
      throw this.fail(err, 'get', key);
    }
  }

  async getRange(key: string, offset: number, length: number): Promise<Buffer> {
    const path = this.pathOf(key);
    validateRange(key, offset, length);
    let fh;
    try {
      fh = await open(path, 'r');
    } catch (err) {
      if (MISSING.has(errnoCode(err) ?? '')) throw this.notFound(key);
      throw this.fail(err, 'getRange', key);
    }
    try {
      const st = await fh.stat();
      if (!st.isFile()) throw this.notFound(key);
      const buf = Buffer.alloc(Math.max(0, Math.min(length, st.size - offset)));
      let filled = 0;
      while (filled < buf.length) {
        const { bytesRead } = await fh.read(buf, filled, buf.length - filled, offset + filled);
        if (bytesRead === 0) break;
        filled += bytesRead;
      }
      return buf.subarray(0, filled);
    } catch (err) {
      // Linux reports EISDIR only on read(), not open(), when the key names a directory.
      if (MISSING.has(errnoCode(err) ?? '')) throw this.notFound(key);
      throw this.fail(err, 'getRange', key);
    } finally {
      await fh.close();
    }
  }

  async head(key: string): Promise<ObjectInfo | undefined> {
    const path = this.pathOf(key);
    try {
      const st = await stat(path);
      return st.isFile() ? { key, size: st.size, lastModified: st.mtime } : undefined;
    } catch (err) {
      if (MISSING.has(errnoCode(err) ?? '')) return undefined;
      throw this.fail(err, 'head', key);
    }
  }

  async list(prefix: string, opts: ListOptions = {}): Promise<ListPage> {
    validateObjectPrefix(prefix);
    const limit = validateListLimit(opts.limit);
    const dirKey = prefix.slice(0, prefix.lastIndexOf('/') + 1);
    const objects: ObjectInfo[] = [];
    try {
      for await (const info of this.walk(dirKey, prefix, opts.cursor)) {
        if (objects.length === limit) {
          // The cursor is simply the last key returned: the next page starts strictly after it.
          return { objects, nextCursor: objects[objects.length - 1].key };
        }
        objects.push(info);
      }
    } catch (err) {
      throw this.fail(err, 'list', prefix);
    }
    return { objects };
  }

  listAll(prefix: string): AsyncIterable<ObjectInfo> {
    return listAllPages((cursor) => this.list(prefix, { cursor }));
  }

  async delete(key: string): Promise<void> {
    const path = this.pathOf(key);
    try {
      await unlink(path);
    } catch (err) {
      if (MISSING.has(errnoCode(err) ?? '') || errnoCode(err) === 'EPERM') return;
      throw this.fail(err, 'delete', key);
    }
    await this.pruneEmptyParents(dirname(path));
  }

  async check(): Promise<void> {
    const probe = join(this.tmpDir, `probe-${randomUUID()}`);
    try {
      await mkdir(this.tmpDir, { recursive: true });
      const fh = await open(probe, 'wx');
      await fh.close();
      await unlink(probe);
    } catch (err) {
      throw FirnError.unavailable(`local object store ${this.description} is not writable: ${errnoCode(err) ?? String(err)}`, err);
    }
    if (!this.swept) {
      this.swept = true;
      await this.sweepStaleTempFiles();
    }
  }

  async close(): Promise<void> {
    // Nothing is held open between calls.
  }

  private pathOf(key: string): string {
    const segments = validateObjectKey(key).split('/');
    if (segments[0] === TEMP_DIR) {
      throw FirnError.invalidArgument(`object key ${JSON.stringify(key)} uses the reserved prefix '${TEMP_DIR}/'`);
    }
    return join(this.root, ...segments);
  }

  private async renameIntoPlace(tmp: string, target: string, key: string): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await mkdir(dirname(target), { recursive: true });
        await rename(tmp, target);
        break;
      } catch (err) {
        const code = errnoCode(err);
        if (code === 'ENOENT' && attempt < RENAME_ATTEMPTS) continue;
        if (code === 'ENOTDIR' || code === 'EEXIST' || code === 'EISDIR') {
          // A filesystem can't hold both 'a' and 'a/b'; S3 can. Our key layouts never need both.
          throw new FirnError(
            ErrorCode.FailedPrecondition,
            `object key ${JSON.stringify(key)} collides with an existing object or key prefix in ${this.description}`,
            { cause: err },
          );
        }
        throw err;
      }
    }
    // Make the rename itself durable, not only the file contents.
    const dir = await open(dirname(target), 'r');
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
  }

  /** Yields objects under `dirKey` ('' or ending in '/') that match `prefix`, in key order, after `cursor`. */
  private async *walk(dirKey: string, prefix: string, cursor: string | undefined): AsyncGenerator<ObjectInfo> {
    let entries: Dirent[];
    try {
      entries = await readdir(join(this.root, ...dirKey.split('/').filter(Boolean)), { withFileTypes: true });
    } catch (err) {
      if (MISSING.has(errnoCode(err) ?? '')) return;
      throw err;
    }
    // A directory sorts as its name plus '/', so 'a-b' (0x2d) comes before everything in 'a/' (0x2f).
    const children = entries
      .filter((e) => (e.isFile() || e.isDirectory()) && !(dirKey === '' && e.name === TEMP_DIR))
      .map((e) => ({ dir: e.isDirectory(), key: dirKey + e.name + (e.isDirectory() ? '/' : '') }))
      .sort((a, b) => compareKeys(a.key, b.key));
    for (const child of children) {
      if (child.dir) {
        if (!child.key.startsWith(prefix) && !prefix.startsWith(child.key)) continue;
        // Every key in this subtree sorts before the cursor unless the cursor itself is inside it.
        if (cursor !== undefined && compareKeys(child.key, cursor) < 0 && !cursor.startsWith(child.key)) continue;
        yield* this.walk(child.key, prefix, cursor);
        continue;
      }
      if (!child.key.startsWith(prefix)) continue;
      if (cursor !== undefined && compareKeys(child.key, cursor) <= 0) continue;
      const info = await this.head(child.key).catch((err: unknown) => {
        // Files named so they aren't valid keys were not written by us; skip rather than fail a listing.
        if (isFirnError(err, 'invalid_argument')) return undefined;
        throw err;
      });
      // undefined also covers a file deleted between readdir and stat.
      if (info !== undefined) yield info;
    }
  }

  private async pruneEmptyParents(dir: string): Promise<void> {
    // Best effort: rmdir fails on a non-empty directory, which is where we stop.
    for (let d = dir; d !== this.root && d.startsWith(this.root); d = dirname(d)) {
      try {
        await rmdir(d);
      } catch {
        return;
      }
    }
  }

  private async sweepStaleTempFiles(): Promise<void> {
    const now = Date.now();
    try {
      for (const name of await readdir(this.tmpDir)) {
        const path = join(this.tmpDir, name);
        const st = await stat(path).catch(() => undefined);
        if (st !== undefined && now - st.mtimeMs > STALE_TEMP_MS) await rm(path, { force: true }).catch(() => undefined);
      }
    } catch {
      // Leftover temp files waste space but never affect correctness.
    }
  }

  private notFound(key: string): FirnError {
    return FirnError.notFound(`object ${JSON.stringify(key)} not found in ${this.description}`, { key });
  }

  private fail(err: unknown, op: string, key: string): FirnError {
    if (isFirnError(err)) return err;
    return FirnError.unavailable(`local object store ${this.description}: ${op} ${JSON.stringify(key)} failed: ${errnoCode(err) ?? String(err)}`, err);
  }
}

import { mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isFirnError } from '@firn/errors';
import { LocalDirStore } from './local-dir-store';
import { describeObjectStoreConformance } from './object-store.conformance';

async function tempDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'firn-local-store-'));
}

async function codeOf(p: Promise<unknown>): Promise<string | undefined> {
  return p.then(
    () => undefined,
    (e: unknown) => (isFirnError(e) ? e.code : String(e)),
  );
}

describeObjectStoreConformance(LocalDirStore.name, async () => {
  const dir = await tempDir();
  return { store: new LocalDirStore({ dir }), cleanup: () => rm(dir, { recursive: true, force: true }) };
});

describe(LocalDirStore.name, () => {
  let dir: string;
  let store: LocalDirStore;

  beforeAll(async () => {
    dir = await tempDir();
    store = new LocalDirStore({ dir: join(dir, 'root') });
    await store.check();
  });
  afterAll(async () => {
    await store?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('describes itself as a file URL', () => {
    expect(store.description).toBe(`file://${join(dir, 'root')}`);
  });

  it('never lists temp files and reserves their directory name', async () => {
    await store.put('visible', Buffer.from('v'));
    // What a crashed or in-progress write leaves behind.
    await writeFile(join(dir, 'root', '.firn-tmp', 'partial-write'), 'half');
    const keys = (await store.list('')).objects.map((o) => o.key);
    expect(keys).toContain('visible');
    expect(keys.some((k) => k.startsWith('.firn-tmp'))).toBe(false);
    expect(await codeOf(store.put('.firn-tmp/x', Buffer.from('x')))).toBe('invalid_argument');
    await rm(join(dir, 'root', '.firn-tmp', 'partial-write'));
  });

  it('never lets a reader see a partially written object', async () => {
    const key = 'big/object';
    const v1 = Buffer.alloc(8 * 1024 * 1024, 1);
    const v2 = Buffer.alloc(16 * 1024 * 1024, 2);
    await store.put(key, v1);
    let writing = true;
    const write = store.put(key, v2).finally(() => (writing = false));
    const observed = new Set<string>();
    let reads = 0;
    // Read until the write finishes (and at least a few times), classifying every read.
    while (writing || reads < 3) {
      const [got, listed] = await Promise.all([store.get(key), store.list('big/')]);
      reads++;
      if (got.equals(v1)) observed.add('v1');
      else if (got.equals(v2)) observed.add('v2');
      else observed.add(`partial:${got.length}`);
      expect(listed.objects.map((o) => o.key)).toEqual([key]);
      expect([v1.length, v2.length]).toContain(listed.objects[0].size);
    }
    await write;
    expect([...observed].filter((o) => o.startsWith('partial'))).toEqual([]);
    expect((await store.get(key)).equals(v2)).toBe(true);
    expect(await readdir(join(dir, 'root', '.firn-tmp'))).toEqual([]);
  });

  it('removes directories left empty by a delete', async () => {
    await store.put('prune/a/b/c', Buffer.from('x'));
    await store.put('prune/keep', Buffer.from('y'));
    await store.delete('prune/a/b/c');
    await expect(stat(join(dir, 'root', 'prune', 'a'))).rejects.toMatchObject({ code: 'ENOENT' });
    expect((await stat(join(dir, 'root', 'prune'))).isDirectory()).toBe(true);
  });

  it('refuses a key that would need an existing object to be a directory', async () => {
    await store.put('file', Buffer.from('x'));
    expect(await codeOf(store.put('file/child', Buffer.from('y')))).toBe('failed_precondition');
    await store.put('parent/child', Buffer.from('y'));
    expect(await codeOf(store.put('parent', Buffer.from('z')))).toBe('failed_precondition');
    expect((await store.get('file')).toString()).toBe('x');
  });

  it('fails its readiness check with unavailable when the directory cannot be created', async () => {
    await writeFile(join(dir, 'not-a-dir'), 'x');
    const broken = new LocalDirStore({ dir: join(dir, 'not-a-dir', 'root') });
    expect(await codeOf(broken.check())).toBe('unavailable');
    expect(await codeOf(broken.put('k', Buffer.from('x')))).toBe('unavailable');
  });
});

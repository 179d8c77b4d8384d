import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode, isFirnError, type ErrorCode as Code } from '@firn/errors';
import type { ObjectInfo, ObjectStore } from './object-store';

export interface ObjectStoreFixture {
  store: ObjectStore;
  /** Removes whatever the factory created (temp dirs, servers). The suite closes the store itself. */
  cleanup(): Promise<void>;
}

async function expectCode(promise: Promise<unknown>, code: Code): Promise<void> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err, `expected a FirnError ${code}`).toBeDefined();
  expect(isFirnError(err) ? err.code : err).toBe(code);
}

async function collect(it: AsyncIterable<ObjectInfo>): Promise<string[]> {
  const keys: string[] = [];
  for await (const o of it) keys.push(o.key);
  return keys;
}

export interface ConformanceOptions {
  /**
   * Deviations of a test backend (not of our adapter) from real S3, each with the reason. The
   * affected test is skipped rather than weakened, so the gap stays visible in the test output.
   */
  knownDeviations?: {
    /** Lists 'x/1' before 'x-1' although '-' (0x2d) sorts before '/' (0x2f). */
    siblingOrderAroundSlash?: string;
  };
}

const INVALID_KEYS = ['', '/abs', 'a/../b', '..', 'a/./b', 'a\\b', 'a\u0000b', 'a\nb', 'a//b', 'a/', 'k'.repeat(1025)];

/**
 * The behaviour every ObjectStore adapter must share. Each adapter's int-spec runs this against a
 * real backend, so domain code can rely on the interface's guarantees whichever adapter is wired.
 */
export function describeObjectStoreConformance(name: string, factory: () => Promise<ObjectStoreFixture>, opts: ConformanceOptions = {}): void {
  const siblingOrderGap = opts.knownDeviations?.siblingOrderAroundSlash;
  describe(`ObjectStore conformance: ${name}`, () => {
    let fixture: ObjectStoreFixture | undefined;
    let store: ObjectStore;
    // Each test works under its own prefix so tests can't see each other's keys.
    const ns = () => `c-${randomUUID().slice(0, 8)}/`;

    beforeAll(async () => {
      fixture = await factory();
      store = fixture.store;
    });
    afterAll(async () => {
      try {
        await fixture?.store.close();
      } finally {
        await fixture?.cleanup();
      }
    });

    it('passes its readiness check and describes itself', async () => {
      await store.check();
      expect(store.description.length).toBeGreaterThan(0);
    });

    it('round-trips binary objects of 0 bytes, every byte value and 5 MiB', async () => {
      const p = ns();
      const bodies: Record<string, Uint8Array> = {
        empty: new Uint8Array(0),
        bytes: Uint8Array.from({ length: 512 }, (_, i) => i % 256),
        big: randomBytes(5 * 1024 * 1024),
      };
      for (const [k, body] of Object.entries(bodies)) await store.put(p + k, body, { contentType: 'application/octet-stream' });
      for (const [k, body] of Object.entries(bodies)) {
        const got = await store.get(p + k);
        expect(Buffer.isBuffer(got)).toBe(true);
        expect(got.length).toBe(body.length);
        expect(got.equals(Buffer.from(body))).toBe(true);
        expect((await store.head(p + k))?.size).toBe(body.length);
      }
    });

    it('overwrites an existing object', async () => {
      const k = `${ns()}obj`;
      await store.put(k, Buffer.from('first version, longer'));
      await store.put(k, Buffer.from('second'));
      expect((await store.get(k)).toString()).toBe('second');
      expect((await store.head(k))?.size).toBe(6);
    });

    it('throws not_found for a missing object and for a key that is only a prefix', async () => {
      const p = ns();
      await expectCode(store.get(`${p}missing`), ErrorCode.NotFound);
      await store.put(`${p}dir/child`, Buffer.from('x'));
      await expectCode(store.get(`${p}dir`), ErrorCode.NotFound);
      expect(await store.head(`${p}dir`)).toBeUndefined();
    });

    it('reads byte ranges at the start, middle and end, clamping at EOF', async () => {
      const k = `${ns()}ranged`;
      const body = Buffer.from(Uint8Array.from({ length: 1000 }, (_, i) => (i * 7) % 251));
      await store.put(k, body);
      const cases: Array<[number, number, Buffer]> = [
        [0, 1, body.subarray(0, 1)],
        [0, 10, body.subarray(0, 10)],
        [500, 100, body.subarray(500, 600)],
        [990, 10, body.subarray(990, 1000)],
        [995, 100, body.subarray(995)],
        [999, 1, body.subarray(999)],
        [1000, 10, Buffer.alloc(0)],
        [5000, 1, Buffer.alloc(0)],
        [10, 0, Buffer.alloc(0)],
        [0, 1000, body],
        [0, Number.MAX_SAFE_INTEGER - 1, body],
      ];
      for (const [offset, length, want] of cases) {
        const got = await store.getRange(k, offset, length);
        expect(got.equals(want), `getRange(${offset}, ${length}) returned ${got.length} bytes`).toBe(true);
      }
    });

    it('reads ranges of an empty object as empty, and rejects bad ranges and missing objects', async () => {
      const p = ns();
      await store.put(`${p}empty`, new Uint8Array(0));
      expect((await store.getRange(`${p}empty`, 0, 10)).length).toBe(0);
      await expectCode(store.getRange(`${p}missing`, 0, 10), ErrorCode.NotFound);
      await expectCode(store.getRange(`${p}missing`, 0, 0), ErrorCode.NotFound);
      await expectCode(store.getRange(`${p}empty`, -1, 10), ErrorCode.InvalidArgument);
      await expectCode(store.getRange(`${p}empty`, 0, -1), ErrorCode.InvalidArgument);
      await expectCode(store.getRange(`${p}empty`, 0.5, 1), ErrorCode.InvalidArgument);
    });

    it('reports size and modification time from head, undefined when missing', async () => {
      const k = `${ns()}headed`;
      expect(await store.head(k)).toBeUndefined();
      await store.put(k, Buffer.from('hello'));
      const info = await store.head(k);
      expect(info?.key).toBe(k);
      expect(info?.size).toBe(5);
      expect(info?.lastModified).toBeInstanceOf(Date);
      expect(Number.isNaN(info?.lastModified.getTime())).toBe(false);
    });

    it('lists only keys under the prefix, in key order, with sizes', async () => {
      const p = ns();
      const keys = [`${p}a/1`, `${p}a/2`, `${p}ab/1`, `${p}b`, `${p}c/sub/deep`, `${p}d`];
      await Promise.all(keys.map((k, i) => store.put(k, Buffer.alloc(i + 1))));
      expect((await store.list(`${p}a/`)).objects.map((o) => o.key)).toEqual([`${p}a/1`, `${p}a/2`]);
      expect((await store.list(`${p}a`)).objects.map((o) => o.key)).toEqual([`${p}a/1`, `${p}a/2`, `${p}ab/1`]);
      const all = await store.list(p);
      expect(all.objects.map((o) => o.key)).toEqual(keys);
      expect(all.objects.map((o) => o.size)).toEqual([1, 2, 3, 4, 5, 6]);
      expect(all.nextCursor).toBeUndefined();
      const none = await store.list(`${p}nothing-here/`);
      expect(none).toEqual({ objects: [] });
    });

    it.skipIf(siblingOrderGap !== undefined)(`orders names around '/' byte-wise${siblingOrderGap ? ` (skipped: ${siblingOrderGap})` : ''}`, async () => {
      const p = ns();
      // '-' (0x2d) < '/' (0x2f) < '0' (0x30): a directory-walking adapter must still interleave these.
      const keys = [`${p}x-1`, `${p}x/1`, `${p}x/sub/deep`, `${p}x0`];
      await Promise.all([...keys].reverse().map((k) => store.put(k, Buffer.from(k))));
      expect((await store.list(p)).objects.map((o) => o.key)).toEqual(keys);
      const paged: string[] = [];
      let cursor: string | undefined;
      do {
        const page = await store.list(p, { limit: 1, cursor });
        paged.push(...page.objects.map((o) => o.key));
        cursor = page.nextCursor;
      } while (cursor !== undefined && paged.length < 10);
      expect(paged).toEqual(keys);
    });

    it('orders keys by UTF-8 bytes, not UTF-16 code units', async () => {
      const p = ns();
      // U+FFFD is EF BF BD in UTF-8 and sorts before U+1F600 (F0 9F 98 80); in UTF-16 it sorts after.
      await store.put(`${p}\u{1F600}`, Buffer.from('emoji'));
      await store.put(`${p}\uFFFD`, Buffer.from('replacement'));
      await store.put(`${p}z`, Buffer.from('ascii'));
      expect((await store.list(p)).objects.map((o) => o.key)).toEqual([`${p}z`, `${p}\uFFFD`, `${p}\u{1F600}`]);
      expect((await store.get(`${p}\u{1F600}`)).toString()).toBe('emoji');
    });

    it('paginates with limit=2, returning every key once and in order', async () => {
      const p = ns();
      const keys = ['k1', 'k2', 'k3', 'n/k4', 'n/m/k5', 'n/z', 'z7'].map((k) => p + k);
      await Promise.all(keys.map((k) => store.put(k, Buffer.from(k))));
      const seen: string[] = [];
      let cursor: string | undefined;
      let pages = 0;
      do {
        const page = await store.list(p, { limit: 2, cursor });
        expect(page.objects.length).toBeLessThanOrEqual(2);
        seen.push(...page.objects.map((o) => o.key));
        cursor = page.nextCursor;
        pages++;
        expect(pages).toBeLessThan(20);
      } while (cursor !== undefined);
      expect(seen).toEqual(keys);
      expect(pages).toBeGreaterThanOrEqual(4);
      await expectCode(store.list(p, { limit: 0 }), ErrorCode.InvalidArgument);
      await expectCode(store.list(p, { limit: 1001 }), ErrorCode.InvalidArgument);
    });

    it('iterates every page with listAll', async () => {
      const p = ns();
      const keys = Array.from({ length: 7 }, (_, i) => `${p}obj-${i}`);
      await Promise.all(keys.map((k) => store.put(k, Buffer.from('v'))));
      expect(await collect(store.listAll(p))).toEqual(keys);
      expect(await collect(store.listAll(`${p}none/`))).toEqual([]);
    });

    it('deletes idempotently', async () => {
      const p = ns();
      const k = `${p}nested/deeper/obj`;
      await store.put(k, Buffer.from('bye'));
      await store.delete(k);
      await expectCode(store.get(k), ErrorCode.NotFound);
      expect(await store.head(k)).toBeUndefined();
      await store.delete(k);
      await store.delete(`${p}never-existed`);
      expect((await store.list(p)).objects).toEqual([]);
    });

    it('keeps nested keys independent of their siblings', async () => {
      const p = ns();
      await store.put(`${p}t/a/b/c/d.bin`, Buffer.from('deep'));
      await store.put(`${p}t/a/b/e.bin`, Buffer.from('shallow'));
      await store.delete(`${p}t/a/b/e.bin`);
      expect((await store.get(`${p}t/a/b/c/d.bin`)).toString()).toBe('deep');
      expect(await collect(store.listAll(`${p}t/`))).toEqual([`${p}t/a/b/c/d.bin`]);
      // Writing right after the last sibling's delete must work even if the delete pruned directories.
      await store.delete(`${p}t/a/b/c/d.bin`);
      await store.put(`${p}t/a/b/c/again`, Buffer.from('again'));
      expect((await store.get(`${p}t/a/b/c/again`)).toString()).toBe('again');
    });

    it('rejects invalid keys and prefixes with invalid_argument naming the key', async () => {
      for (const key of INVALID_KEYS) {
        await expectCode(store.put(key, Buffer.from('x')), ErrorCode.InvalidArgument);
        await expectCode(store.get(key), ErrorCode.InvalidArgument);
        await expectCode(store.getRange(key, 0, 1), ErrorCode.InvalidArgument);
        await expectCode(store.head(key), ErrorCode.InvalidArgument);
        await expectCode(store.delete(key), ErrorCode.InvalidArgument);
      }
      const err = await store.get('a/../b').catch((e: unknown) => e);
      expect(String((err as Error).message)).toContain('a/../b');
      await expectCode(store.list('/abs'), ErrorCode.InvalidArgument);
      await expectCode(store.list('a/../'), ErrorCode.InvalidArgument);
    });

    it('handles concurrent puts of different keys', async () => {
      const p = ns();
      const keys = Array.from({ length: 24 }, (_, i) => `${p}${i % 3}/obj-${String(i).padStart(2, '0')}`);
      await Promise.all(keys.map((k) => store.put(k, Buffer.from(k))));
      const got = await Promise.all(keys.map((k) => store.get(k)));
      expect(got.map((b) => b.toString())).toEqual(keys);
      expect((await collect(store.listAll(p))).sort()).toEqual([...keys].sort());
    });
  });
}

import { describe, expect, it } from 'vitest';
import { MemoryLruCache, type KeyValueCache } from '@firn/cache';
import { createLogger, Registry } from '@firn/observability';
import type { Frame } from '@firn/profiles';
import { tenantFromTrustedSource } from '@firn/tenancy';
import { CachedSymbolResolver, DEFAULT_NAMED_RECHECK_MS } from './cached-symbol-resolver';
import { encodeNegative, encodeResolved, symbolKey } from './symbol-entry';

const log = createLogger({ level: 'silent', component: 'test' });
const frame = (buildId: string, address: bigint): Frame => ({
  buildId,
  mappingFile: '/bin/app',
  address,
  functionName: '',
  fileName: '',
  line: 0,
  inlined: false,
});
const a = tenantFromTrustedSource('a');
const b = tenantFromTrustedSource('b');

describe(CachedSymbolResolver.name, () => {
  it("resolves hits with their inline chain, says why misses and negatives stay unnamed, and reads only the tenant's keys", async () => {
    const cache = new MemoryLruCache({ maxBytes: 1 << 20 });
    await cache.setMany([
      {
        key: symbolKey(a, 'aa', 0x10n),
        value: encodeResolved([
          { functionName: 'inl', fileName: 'x.c', line: 1, inlined: true },
          { functionName: 'fn', fileName: 'x.c', line: 2, inlined: false },
        ]),
      },
      { key: symbolKey(a, 'aa', 0x20n), value: encodeNegative() },
      { key: symbolKey(a, 'aa', 0x40n), value: encodeNegative('no_debuginfo') },
      { key: symbolKey(a, 'aa', 0x50n), value: encodeNegative('outside_code') },
    ]);
    const r = new CachedSymbolResolver({ cache, log, registry: new Registry() });
    const frames = [frame('aa', 0x10n), frame('aa', 0x20n), frame('aa', 0x30n), frame('', 0x10n), frame('aa', 0x40n), frame('aa', 0x50n)];
    const out = await r.resolve(a, frames);
    expect(out[0]?.map((f) => [f.functionName, f.inlined, f.address, f.buildId])).toEqual([
      ['inl', true, 0x10n, 'aa'],
      ['fn', false, 0x10n, 'aa'],
    ]);
    const why = (o: Frame[] | undefined) => (o === undefined ? undefined : o.map((f) => [f.functionName, f.address, f.unnamedReason]));
    expect(out.slice(1).map(why)).toEqual([
      [['', 0x20n, 'no_symbol']],
      [['', 0x30n, 'pending']],
      undefined,
      [['', 0x40n, 'no_debuginfo']],
      [['', 0x50n, 'outside_code']],
    ]);
    expect((await r.resolve(b, frames)).map((o) => o?.[0]?.unnamedReason)).toEqual(['pending', 'pending', 'pending', undefined, 'pending', 'pending']);
  });

  it('answers the same frames with the same objects query after query, until the entry changes', async () => {
    const cache = new MemoryLruCache({ maxBytes: 1 << 20 });
    let now = 0;
    const r = new CachedSymbolResolver({ cache, log, registry: new Registry(), now: () => now });
    const frames = [frame('aa', 0x10n), frame('aa', 0x20n)];
    const first = await r.resolve(a, frames);
    const again = await r.resolve(a, frames);
    expect(again[0]![0]).toBe(first[0]![0]); // one 'pending' copy per frame
    expect(again[0]![0].unnamedReason).toBe('pending');
    const named = (fn: string) => encodeResolved([{ functionName: fn, fileName: 'x.c', line: 1, inlined: false }]);
    await cache.setMany([
      { key: symbolKey(a, 'aa', 0x10n), value: named('fn') },
      { key: symbolKey(a, 'aa', 0x20n), value: encodeNegative('no_debuginfo') },
    ]);
    const resolved = await r.resolve(a, frames);
    expect(resolved.map((o) => [o![0].functionName, o![0].unnamedReason])).toEqual([
      ['fn', undefined],
      ['', 'no_debuginfo'],
    ]);
    const kept = await r.resolve(a, frames);
    expect(kept[0]![0]).toBe(resolved[0]![0]);
    expect(kept[1]![0]).toBe(resolved[1]![0]);
    expect(kept[0]).not.toBe(resolved[0]); // arrays are the caller's own
    await cache.setMany([{ key: symbolKey(a, 'aa', 0x10n), value: named('renamed') }]);
    now += DEFAULT_NAMED_RECHECK_MS;
    expect((await r.resolve(a, frames))[0]![0].functionName).toBe('renamed');
  });

  it('uses a name it read without asking the cache again until the recheck time, and asks unnamed frames every query', async () => {
    const cache = new MemoryLruCache({ maxBytes: 1 << 20 });
    const asked: string[][] = [];
    const counting: KeyValueCache = {
      getMany: (keys) => (asked.push(keys), cache.getMany(keys)),
      setMany: (entries) => cache.setMany(entries),
      deleteMany: (keys) => cache.deleteMany(keys),
      check: () => cache.check(),
      close: () => cache.close(),
      description: 'counting',
    };
    const registry = new Registry();
    let now = 1_000_000;
    const r = new CachedSymbolResolver({ cache: counting, log, registry, namedRecheckMs: 60_000, now: () => now });
    const frames = [frame('aa', 0x10n), frame('aa', 0x20n), frame('aa', 0x30n)];
    const named = (fn: string) => encodeResolved([{ functionName: fn, fileName: 'x.c', line: 1, inlined: false }]);
    await cache.setMany([
      { key: symbolKey(a, 'aa', 0x10n), value: named('fn') },
      { key: symbolKey(a, 'aa', 0x20n), value: encodeNegative('no_debuginfo') },
    ]);
    const names = async (t = a) => (await r.resolve(t, frames)).map((o) => o![0].functionName || o![0].unnamedReason);
    expect(await names()).toEqual(['fn', 'no_debuginfo', 'pending']);
    expect(asked.at(-1)).toHaveLength(3);
    // Later: the unnamed frames are asked again (an upload or the symbolizer can name them at
    // any time, and the next query shows it); the name is used as it was read.
    await cache.setMany([
      { key: symbolKey(a, 'aa', 0x10n), value: named('renamed') },
      { key: symbolKey(a, 'aa', 0x20n), value: named('uploaded') },
      { key: symbolKey(a, 'aa', 0x30n), value: named('answered') },
    ]);
    now += 59_999;
    expect(await names()).toEqual(['fn', 'uploaded', 'answered']);
    expect(asked.at(-1)).toEqual([symbolKey(a, 'aa', 0x20n), symbolKey(a, 'aa', 0x30n)]);
    const remembered = async () => (await registry.getSingleMetric('firn_querier_symbol_remembered_total')?.get())?.values[0]?.value;
    expect(await remembered()).toBe(1);
    // Another tenant's query of the same frame objects reads its own keys.
    expect(await names(b)).toEqual(['pending', 'pending', 'pending']);
    expect(asked.at(-1)).toEqual(frames.map((f) => symbolKey(b, 'aa', f.address)));
    // At the recheck time the cache is asked again: a changed entry is read, an unchanged one kept,
    // a vanished one (expired) is pending.
    now += 1;
    expect(await names()).toEqual(['renamed', 'uploaded', 'answered']);
    expect(asked.at(-1)).toHaveLength(1);
    await cache.deleteMany([symbolKey(a, 'aa', 0x10n)]);
    now += 60_000;
    const before = await r.resolve(a, frames);
    expect(before.map((o) => o![0].functionName || o![0].unnamedReason)).toEqual(['pending', 'uploaded', 'answered']);
    expect(asked.at(-1)).toHaveLength(3);
    now += 60_000;
    const after = await r.resolve(a, frames);
    expect(after[1]![0]).toBe(before[1]![0]); // an unchanged entry keeps its frames
  });

  it('answers every frame of a key that several frames share, in any order', async () => {
    const cache = new MemoryLruCache({ maxBytes: 1 << 20 });
    const r = new CachedSymbolResolver({ cache, log, registry: new Registry() });
    // Same build id and address, different objects (another mapping path, an inlined copy).
    const frames = [
      frame('aa', 0x10n),
      frame('aa', 0x20n),
      { ...frame('aa', 0x10n), mappingFile: '/proc/1/root/bin/app' },
      frame('bb', 0x10n),
      { ...frame('aa', 0x10n), inlined: true },
    ];
    expect((await r.resolve(a, frames)).map((o) => [o?.length, o?.[0]?.unnamedReason])).toEqual(Array.from({ length: 5 }, () => [1, 'pending']));
    await cache.setMany([
      { key: symbolKey(a, 'aa', 0x10n), value: encodeResolved([{ functionName: 'fn', fileName: 'x.c', line: 7, inlined: false }]) },
      { key: symbolKey(a, 'aa', 0x20n), value: encodeNegative('no_debuginfo') },
    ]);
    const out = await r.resolve(a, frames);
    expect(out.map((o) => o?.map((f) => [f.functionName, f.mappingFile, f.unnamedReason ?? '']))).toEqual([
      [['fn', '/bin/app', '']],
      [['', '/bin/app', 'no_debuginfo']],
      [['fn', '/proc/1/root/bin/app', '']],
      [['', '/bin/app', 'pending']],
      [['fn', '/bin/app', '']],
    ]);
    // Kept answers for each frame of the shared key.
    const again = await r.resolve(a, frames);
    expect(again[2]![0]).toBe(out[2]![0]);
    expect(again[4]![0]).toBe(out[4]![0]);
  });

  it('answers unsymbolized, without throwing, when the cache fails or hangs', async () => {
    const failing: KeyValueCache = {
      getMany: async () => Promise.reject(new Error('down')),
      setMany: async () => undefined,
      deleteMany: async () => undefined,
      check: async () => undefined,
      close: async () => undefined,
      description: 'broken',
    };
    const hanging: KeyValueCache = { ...failing, getMany: () => new Promise(() => undefined), description: 'hanging' };
    for (const cache of [failing, hanging]) {
      const registry = new Registry();
      const r = new CachedSymbolResolver({ cache, log, registry, timeoutMs: 50 });
      expect((await r.resolve(a, [frame('aa', 1n), frame('aa', 2n)])).map((o) => o?.map((f) => f.unnamedReason))).toEqual([
        ['symbol_cache_unavailable'],
        ['symbol_cache_unavailable'],
      ]);
      const m = await registry.getSingleMetric('firn_querier_symbol_lookups_total')?.get();
      expect(m?.values.find((v) => v.labels.outcome === 'error')?.value).toBe(2);
    }
  });
});

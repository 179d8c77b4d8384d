import { describe, expect, it } from 'vitest';
import { MemoryLruCache, type KeyValueCache } from '@firn/cache';
import { createLogger, Registry } from '@firn/observability';
import type { Frame } from '@firn/profiles';
import { tenantFromTrustedSource } from '@firn/tenancy';
import { CachedSymbolResolver } from './cached-symbol-resolver';
import { encodeNegative, encodeResolved, symbolKey } from './symbol-entry';

const log = createLogger({ level: 'silent', component: 'test' });
const frame = (buildId: string, address: bigint): Frame => ({ buildId, mappingFile: '/bin/app', address, functionName: '', fileName: '', line: 0, inlined: false });
const a = tenantFromTrustedSource('a');
const b = tenantFromTrustedSource('b');

describe(CachedSymbolResolver.name, () => {
  it('resolves hits with their inline chain, leaves misses and negatives, and reads only the tenant\'s keys', async () => {
    const cache = new MemoryLruCache({ maxBytes: 1 << 20 });
    await cache.setMany([
      { key: symbolKey(a, 'aa', 0x10n), value: encodeResolved([{ functionName: 'inl', fileName: 'x.c', line: 1, inlined: true }, { functionName: 'fn', fileName: 'x.c', line: 2, inlined: false }]) },
      { key: symbolKey(a, 'aa', 0x20n), value: encodeNegative() },
    ]);
    const r = new CachedSymbolResolver({ cache, log, registry: new Registry() });
    const frames = [frame('aa', 0x10n), frame('aa', 0x20n), frame('aa', 0x30n), frame('', 0x10n)];
    const out = await r.resolve(a, frames);
    expect(out[0]?.map((f) => [f.functionName, f.inlined, f.address, f.buildId])).toEqual([
      ['inl', true, 0x10n, 'aa'],
      ['fn', false, 0x10n, 'aa'],
    ]);
    expect(out.slice(1)).toEqual([undefined, undefined, undefined]);
    expect(await r.resolve(b, frames)).toEqual([undefined, undefined, undefined, undefined]);
  });

  it('answers unsymbolized, without throwing, when the cache fails or hangs', async () => {
    const failing: KeyValueCache = { getMany: async () => Promise.reject(new Error('down')), setMany: async () => undefined, deleteMany: async () => undefined, check: async () => undefined, close: async () => undefined, description: 'broken' };
    const hanging: KeyValueCache = { ...failing, getMany: () => new Promise(() => undefined), description: 'hanging' };
    for (const cache of [failing, hanging]) {
      const registry = new Registry();
      const r = new CachedSymbolResolver({ cache, log, registry, timeoutMs: 50 });
      expect(await r.resolve(a, [frame('aa', 1n), frame('aa', 2n)])).toEqual([undefined, undefined]);
      const m = await registry.getSingleMetric('firn_querier_symbol_lookups_total')?.get();
      expect(m?.values.find((v) => v.labels.outcome === 'error')?.value).toBe(2);
    }
  });
});

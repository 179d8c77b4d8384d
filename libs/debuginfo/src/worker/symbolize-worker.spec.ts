import { describe, expect, it } from 'vitest';
import { MemoryLruCache } from '@firn/cache';
import { createLogger } from '@firn/observability';
import { tenantFromTrustedSource, type TenantId } from '@firn/tenancy';
import type { FindResult } from '../debug-files/debuginfo-finder';
import { decodeResolved, negativeReason, symbolKey } from '../symbol-cache/symbol-entry';
import { MemoryPendingAddresses, SymbolizeWorker, type SymbolReader } from './symbolize-worker';

const log = createLogger({ level: 'silent', component: 'test' });
const t = tenantFromTrustedSource('acme');

function setup(found: FindResult, find?: () => Promise<FindResult>) {
  const cache = new MemoryLruCache({ maxBytes: 1 << 20 });
  const state = { found, reads: 0 };
  const reader: SymbolReader = {
    symbolize: async (_files, offsets) => {
      state.reads++;
      return offsets.map((address) =>
        address === 0x10n
          ? { address, frames: [{ functionName: 'main', fileName: 'm.c', line: 4, inlined: false }], source: 'dwarf' }
          : { address, frames: [], unnamed: address === 0x30n ? 'outside_code' : 'no_symbol' },
      );
    },
  };
  const pending = new MemoryPendingAddresses();
  const coverage: string[] = [];
  const worker = new SymbolizeWorker({
    cache,
    finder: { find: find ?? (async (_t: TenantId, _b: string) => state.found) },
    reader,
    pending,
    log,
    positiveTtlSeconds: 600,
    negativeTtlSeconds: 60,
    onCoverage: (source, outcome, n) => coverage.push(`${source}/${outcome}=${n}`),
  });
  const entry = async (a: bigint) => {
    const [v] = await cache.getMany([symbolKey(t, 'aa', a)]);
    return v === undefined ? undefined : decodeResolved(v);
  };
  const why = async (a: bigint) => {
    const [v] = await cache.getMany([symbolKey(t, 'aa', a)]);
    return v === undefined ? undefined : negativeReason(v);
  };
  return { worker, state, pending, entry, why, coverage };
}

describe(SymbolizeWorker.name, () => {
  it('writes resolved frames and negative entries, and skips cached addresses next time', async () => {
    const { worker, state, entry } = setup({ status: 'found', files: { debugPath: '/x', source: 'debuginfod' } });
    expect(await worker.handle(t, { kind: 'addresses', buildId: 'aa', addresses: [0x10n, 0x20n, 0x10n] })).toBe('done');
    expect((await entry(0x10n))?.[0].functionName).toBe('main');
    expect(await entry(0x20n)).toBeNull();
    await worker.handle(t, { kind: 'addresses', buildId: 'aa', addresses: [0x10n, 0x20n] });
    expect(state.reads).toBe(1);
  });

  it('asks for a retry when the debuginfo source is unavailable, writing nothing', async () => {
    const { worker, entry } = setup({ status: 'unavailable', reason: 'down' });
    expect(await worker.handle(t, { kind: 'addresses', buildId: 'aa', addresses: [0x10n] })).toBe('retry');
    expect(await entry(0x10n)).toBeUndefined();
  });

  it('after an upload notice, resolves the addresses that had negative entries', async () => {
    const { worker, state, entry, pending } = setup({ status: 'not_found' });
    await worker.handle(t, { kind: 'addresses', buildId: 'aa', addresses: [0x10n] });
    expect(await entry(0x10n)).toBeNull();
    expect(await pending.list(t, 'aa')).toEqual([0x10n]);
    state.found = { status: 'found', files: { debugPath: '/uploaded', source: 'upload' } };
    expect(await worker.handle(t, { kind: 'uploaded', buildId: 'aa' })).toBe('done');
    expect((await entry(0x10n))?.[0].functionName).toBe('main');
    expect(await pending.list(t, 'aa')).toEqual([]);
  });

  it('names addresses whose upload finished while their job ran, even when the notice came first', async () => {
    let looks = 0;
    // The first look misses the upload; its notice is handled (nothing pending yet) before the job goes on.
    const { worker, entry, pending } = setup({ status: 'not_found' }, async () => {
      if (looks++ > 0) return { status: 'found', files: { debugPath: '/uploaded', source: 'upload' } };
      expect(await worker.handle(t, { kind: 'uploaded', buildId: 'aa' })).toBe('done');
      return { status: 'not_found' };
    });
    expect(await worker.handle(t, { kind: 'addresses', buildId: 'aa', addresses: [0x10n] })).toBe('done');
    expect((await entry(0x10n))?.[0].functionName).toBe('main');
    expect(looks).toBe(2);
    expect(await pending.list(t, 'aa')).toEqual([0x10n]);
  });

  it('counts naming coverage by source and outcome, and keeps why an address is unnamed in its negative entry', async () => {
    const { worker, why, coverage } = setup({ status: 'found', files: { debugPath: '/x', source: 'debuginfod' } });
    await worker.handle(t, { kind: 'addresses', buildId: 'aa', addresses: [0x10n, 0x20n, 0x30n] });
    expect(coverage.sort()).toEqual(['dwarf/named=1', 'none/no_symbol=1', 'none/outside_code=1']);
    expect(await why(0x20n)).toBe('no_symbol');
    expect(await why(0x30n)).toBe('outside_code');
    const missing = setup({ status: 'not_found' });
    await missing.worker.handle(t, { kind: 'addresses', buildId: 'aa', addresses: [0x10n, 0x20n] });
    expect(missing.coverage).toEqual(['none/no_debuginfo=2']);
    expect(await missing.why(0x10n)).toBe('no_debuginfo');
    expect(await missing.entry(0x10n)).toBeNull();
  });
});

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisCache } from '@firn/cache';
import { createLogger, Registry } from '@firn/observability';
import type { Frame } from '@firn/profiles';
import { LocalDirStore } from '@firn/storage';
import { createSymbolizer } from '@firn/symbols';
import { tenantFromTrustedSource } from '@firn/tenancy';
import { buildTestProgram, startDebuginfod, startRedis, type TestDebuginfod, type TestProgram, type TestRedis } from '@firn/testing';
import { CachedSymbolResolver } from '../symbol-cache/cached-symbol-resolver';
import { DebuginfoFinder } from '../debug-files/debuginfo-finder';
import { DebuginfoStore } from '../upload/debuginfo-store';
import { DebuginfodCache } from '../debug-files/debuginfod-cache';
import { DebuginfodClient, type DebuginfodOutcome } from '../debug-files/debuginfod-client';
import { DiskCache } from '../debug-files/disk-cache';
import { MemoryPendingAddresses, SymbolizeWorker } from './symbolize-worker';

const log = createLogger({ level: 'silent', component: 'test' });
const tenantA = tenantFromTrustedSource('tenant-a');
const tenantB = tenantFromTrustedSource('tenant-b');

describe('symbolization pipeline (real debuginfod, redis-server, eu-addr2line)', () => {
  let dir: string;
  let served: TestProgram;
  let uploaded: TestProgram;
  let debuginfod: TestDebuginfod | undefined;
  let redis: TestRedis | undefined;
  let cache: RedisCache;
  let store: LocalDirStore;
  const requests: DebuginfodOutcome[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'firn-symbolize-'));
    served = await buildTestProgram(join(dir, 'served'), 'served');
    uploaded = await buildTestProgram(join(dir, 'private'), 'private');
    // The served program's files only: the private one must come from an upload.
    rmSync(join(dir, 'served', 'served.full'));
    debuginfod = await startDebuginfod({ scanDir: join(dir, 'served'), waitForBuildId: served.buildId });
    redis = await startRedis();
    cache = new RedisCache({ url: redis.url });
    store = new LocalDirStore({ dir: join(dir, 'objects') });
  }, 60_000);

  afterAll(async () => {
    await cache?.close();
    await redis?.stop();
    await debuginfod?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  function pipeline() {
    const client = new DebuginfodClient({ servers: [debuginfod!.url], onRequest: (_s, o) => requests.push(o) });
    const uploads = new DebuginfoStore({ store, maxUploadBytes: 64 << 20, staleUploadMs: 60_000 });
    const finder = new DebuginfoFinder({
      uploads,
      debuginfod: new DebuginfodCache(store, client),
      disk: new DiskCache({ dir: join(dir, 'disk'), maxBytes: 64 << 20 }),
    });
    const worker = new SymbolizeWorker({
      cache,
      finder,
      reader: createSymbolizer(),
      pending: new MemoryPendingAddresses(),
      log,
      positiveTtlSeconds: 600,
      negativeTtlSeconds: 60,
    });
    const resolver = new CachedSymbolResolver({ cache, log, registry: new Registry() });
    return { worker, resolver, uploads };
  }

  const frameOf = (p: TestProgram, fn: string): Frame => ({
    buildId: p.buildId,
    mappingFile: `/usr/bin/${fn}`,
    address: p.offsets[fn],
    functionName: '',
    fileName: '',
    line: 0,
    inlined: false,
  });
  const names = (r: Array<Frame[] | undefined>) => r.map((fs) => fs?.map((f) => f.functionName).join('>'));

  it('fetches a split debug file from debuginfod, resolves, and serves later lookups from Redis', async () => {
    const { worker, resolver } = pipeline();
    const addresses = Object.values(served.offsets);
    expect(await worker.handle(tenantA, { kind: 'addresses', buildId: served.buildId, addresses })).toBe('done');
    expect(requests.filter((o) => o === 'found')).toHaveLength(1);

    const frames = [frameOf(served, 'served_leaf'), frameOf(served, 'served_middle'), frameOf(served, 'main')];
    expect(names(await resolver.resolve(tenantA, frames))).toEqual(['served_leaf', 'served_middle', 'main']);
    const [leaf] = (await resolver.resolve(tenantA, frames))[0] ?? [];
    expect(leaf.fileName).toMatch(/served\.c$/);
    expect(leaf.line).toBe(2);

    // A second job for the same addresses and a fresh worker (new process): Redis, not debuginfod.
    const before = requests.length;
    expect(await pipeline().worker.handle(tenantA, { kind: 'addresses', buildId: served.buildId, addresses })).toBe('done');
    expect(requests.length).toBe(before);
  });

  it("uses a tenant's upload for that tenant only", async () => {
    const { worker, resolver, uploads } = pipeline();
    const { readFile } = await import('node:fs/promises');
    const meta = await uploads.initiate(tenantA, { buildId: uploaded.buildId, kind: 'debuginfo', hash: 'h', force: false, size: 0 }, async () => false);
    const bytes = await readFile(uploaded.debugPath);
    await uploads.upload(
      tenantA,
      { buildId: uploaded.buildId, kind: 'debuginfo', uploadId: meta.uploadId },
      (async function* () {
        for (let i = 0; i < bytes.length; i += 4096) yield bytes.subarray(i, i + 4096);
      })(),
    );
    await uploads.markFinished(tenantA, { buildId: uploaded.buildId, kind: 'debuginfo', uploadId: meta.uploadId });

    const addresses = [uploaded.offsets.private_leaf];
    for (const t of [tenantA, tenantB]) expect(await worker.handle(t, { kind: 'addresses', buildId: uploaded.buildId, addresses })).toBe('done');
    expect(names(await resolver.resolve(tenantA, [frameOf(uploaded, 'private_leaf')]))).toEqual(['private_leaf']);
    // Tenant B stays unnamed and says why: nothing of its own was uploaded.
    const [b] = await resolver.resolve(tenantB, [frameOf(uploaded, 'private_leaf')]);
    expect(b?.map((f) => [f.functionName, f.unnamedReason])).toEqual([['', 'no_debuginfo']]);
    expect((await uploads.shouldUpload(tenantB, { buildId: uploaded.buildId, kind: 'debuginfo', hash: 'h', force: false }, async () => false)).should).toBe(
      true,
    );
    expect((await uploads.shouldUpload(tenantA, { buildId: uploaded.buildId, kind: 'debuginfo', hash: 'h', force: false }, async () => false)).should).toBe(
      false,
    );
  });
});

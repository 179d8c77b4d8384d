import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ManifestState } from '@firn/manifest';
import { LocalDirStore } from '@firn/storage';
import { tenantFromTrustedSource, tenantPrefix } from '@firn/tenancy';
import { GarbageCollector } from './gc';

const acme = tenantFromTrustedSource('acme');
const GRACE_MS = 60_000;
const dirs: string[] = [];

afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

describe(GarbageCollector.name, () => {
  it("deletes a tenant's unreferenced segment objects after the grace period and leaves keys naming no valid tenant alone", async () => {
    const dir = await mkdtemp(join(tmpdir(), 'firn-gc-'));
    dirs.push(dir);
    const store = new LocalDirStore({ dir });
    const orphan = `${tenantPrefix(acme)}segments/L0/2026-01-01/seg00000001/samples.parquet`;
    const foreign = 'tenants/NOT_A_TENANT/segments/L0/2026-01-01/seg00000002/samples.parquet';
    const other = `${tenantPrefix(acme)}claims/2026-01-01/x.arrow`;
    for (const key of [orphan, foreign, other]) await store.put(key, new Uint8Array([1]));
    let now = Date.now() + GRACE_MS;
    const gc = new GarbageCollector({ store, view: new ManifestState(), graceMs: GRACE_MS, now: () => now });

    expect(await gc.run()).toEqual({ scanned: 1, deleted: { removed: 0, conflict: 0, orphan: 0 }, waiting: 1 });
    now += GRACE_MS;
    expect(await gc.run()).toEqual({ scanned: 1, deleted: { removed: 0, conflict: 0, orphan: 1 }, waiting: 0 });
    const left: string[] = [];
    for await (const o of store.listAll('')) left.push(o.key);
    expect(left.sort()).toEqual([other, foreign].sort());
  });
});

import { isCasConflict, type BusKv } from '@firn/bus';
import type { TenantId } from '@firn/tenancy';
import type { PendingAddresses } from './symbolize-worker';

export const PENDING_KV_BUCKET = 'firn_symbolize_pending';

/**
 * Unresolved addresses per (tenant, build id) in a NATS KV bucket, one entry per build id,
 * updated with compare-and-set so symbolizer replicas do not lose each other's additions. The
 * bucket's TTL bounds how long a build id waits for its upload; the list is capped per build id.
 */
export class KvPendingAddresses implements PendingAddresses {
  constructor(
    private readonly kv: BusKv,
    private readonly maxPerBuildId = 10_000,
  ) {}

  async add(tenant: TenantId, buildId: string, addresses: readonly bigint[]): Promise<void> {
    if (addresses.length === 0) return;
    const key = kvKey(tenant, buildId);
    for (let attempt = 0; attempt < 10; attempt++) {
      const entry = await this.kv.get(key);
      const set = new Set(entry ? decode(entry.value) : []);
      const before = set.size;
      for (const a of addresses) if (set.size < this.maxPerBuildId) set.add(a.toString(16));
      if (entry && set.size === before) return;
      const value = Buffer.from(JSON.stringify([...set]), 'utf8');
      try {
        if (entry) await this.kv.update(key, value, entry.revision);
        else await this.kv.create(key, value);
        return;
      } catch (err) {
        // Another replica wrote first: read again and merge.
        if (!isCasConflict(err)) throw err;
      }
    }
  }

  async list(tenant: TenantId, buildId: string): Promise<bigint[]> {
    const entry = await this.kv.get(kvKey(tenant, buildId));
    if (!entry) return [];
    return decode(entry.value).map((h) => BigInt(`0x${h}`));
  }

  async clear(tenant: TenantId, buildId: string): Promise<void> {
    await this.kv.delete(kvKey(tenant, buildId));
  }
}

// Tenant ids and build ids use only KV-safe characters ([a-z0-9_-], hex).
function kvKey(tenant: TenantId, buildId: string): string {
  return `${tenant}.${buildId}`;
}

function decode(value: Uint8Array): string[] {
  try {
    const parsed: unknown = JSON.parse(Buffer.from(value).toString('utf8'));
    return Array.isArray(parsed) ? parsed.filter((h): h is string => typeof h === 'string' && /^[0-9a-f]{1,16}$/.test(h)) : [];
  } catch {
    return [];
  }
}

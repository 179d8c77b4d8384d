import { createHash } from 'node:crypto';
import { Leases, type Bus, type BusKv, type Lease } from '@firn/bus';
import { isTenantId, type TenantId } from '@firn/tenancy';

const MEMBERS_BUCKET = 'FIRN_SCRAPE_MEMBERS';
const LEASES_BUCKET = 'FIRN_SCRAPE_LEASES';
const STATUS_BUCKET = 'FIRN_SCRAPE_STATUS';
/** Keys nobody rewrites (a target gone for good) disappear after this long. */
const KEY_MAX_AGE_MS = 3_600_000;

const enc = new TextEncoder();
const dec = new TextDecoder();

/** What the targets API shows for one target, from whichever replica scraped it last. */
export interface TargetStatus {
  id: string;
  job: string;
  tenant: TenantId;
  url: string;
  labels: Record<string, string>;
  health: 'up' | 'down' | 'unknown';
  owner: string;
  lastScrapeMs: number;
  lastDurationMs: number;
  lastError: string;
}

export interface CoordinatorOptions {
  /** Unique per process; two replicas must never share it. */
  replicaId: string;
  /** How long a replica counts as alive after its last heartbeat. */
  memberTtlMs: number;
  leaseTtlMs: number;
  replicas?: number;
}

/**
 * Shares scrape targets between gateway replicas through NATS KV so each target is scraped by
 * exactly one replica at a time:
 * - **membership**: every replica heartbeats a key in `FIRN_SCRAPE_MEMBERS` (bucket max age =
 *   the member ttl, so a dead replica drops out by itself);
 * - **placement**: rendezvous hashing over the live members names each target's preferred
 *   replica, so targets spread evenly and move only when membership changes;
 * - **exclusion**: a replica scrapes a target only while it holds the target's lease in
 *   `FIRN_SCRAPE_LEASES` (compare-and-set, see `Leases`); a replica that stops being preferred
 *   releases after its scrape, and the new owner can take it only then, so two scrapes of one
 *   target never overlap (a CPU profile would otherwise be counted twice).
 */
export class ScrapeCoordinator {
  private members: string[] = [];

  private constructor(
    private readonly opts: CoordinatorOptions,
    private readonly membersKv: BusKv,
    private readonly leases: Leases,
    private readonly statusKv: BusKv,
  ) {}

  static async open(bus: Bus, opts: CoordinatorOptions): Promise<ScrapeCoordinator> {
    const replicas = opts.replicas;
    const membersKv = await bus.ensureKv(MEMBERS_BUCKET, { history: 1, ttlMs: opts.memberTtlMs, replicas });
    const leasesKv = await bus.ensureKv(LEASES_BUCKET, { history: 1, ttlMs: KEY_MAX_AGE_MS, replicas });
    const statusKv = await bus.ensureKv(STATUS_BUCKET, { history: 1, ttlMs: KEY_MAX_AGE_MS, replicas });
    const c = new ScrapeCoordinator(opts, membersKv, new Leases({ kv: leasesKv, owner: opts.replicaId, ttlMs: opts.leaseTtlMs }), statusKv);
    await c.heartbeat();
    return c;
  }

  get replicaId(): string {
    return this.opts.replicaId;
  }

  get liveMembers(): readonly string[] {
    return this.members;
  }

  /** Announces this replica and re-reads who else is alive. */
  async heartbeat(): Promise<void> {
    await this.membersKv.put(memberKey(this.opts.replicaId), enc.encode(JSON.stringify({ id: this.opts.replicaId, atMs: Date.now() })));
    const ids: string[] = [];
    for (const k of await this.membersKv.keys()) {
      const e = await this.membersKv.get(k);
      if (!e) continue;
      try {
        ids.push((JSON.parse(dec.decode(e.value)) as { id: string }).id);
      } catch {
        // a foreign key: ignore
      }
    }
    if (!ids.includes(this.opts.replicaId)) ids.push(this.opts.replicaId);
    this.members = ids.sort();
  }

  /** Leaves the member set at once (graceful stop), so the others take over without waiting for the ttl. */
  async leave(): Promise<void> {
    await this.membersKv.delete(memberKey(this.opts.replicaId)).catch(() => undefined);
  }

  /** The live replica that should scrape `targetId` (rendezvous hashing). */
  preferred(targetId: string): string {
    let best = this.opts.replicaId;
    let bestScore = -1n;
    for (const m of this.members) {
      const score = createHash('sha256').update(`${m}\u0000${targetId}`).digest().readBigUInt64BE(0);
      if (score > bestScore) {
        bestScore = score;
        best = m;
      }
    }
    return best;
  }

  tryAcquire(targetId: string): Promise<Lease | undefined> {
    return this.leases.tryAcquire(targetId);
  }

  renew(lease: Lease): Promise<Lease> {
    return this.leases.renew(lease);
  }

  isHeld(lease: Lease): Promise<boolean> {
    return this.leases.isHeld(lease);
  }

  release(lease: Lease): Promise<void> {
    return this.leases.release(lease);
  }

  async putStatus(s: TargetStatus): Promise<void> {
    await this.statusKv.put(s.id, enc.encode(JSON.stringify(s)));
  }

  async statuses(): Promise<TargetStatus[]> {
    const out: TargetStatus[] = [];
    for (const k of await this.statusKv.keys()) {
      const e = await this.statusKv.get(k);
      if (!e) continue;
      try {
        const s = JSON.parse(dec.decode(e.value)) as Omit<TargetStatus, 'tenant'> & { tenant?: unknown };
        // A status naming no valid tenant was not written by a replica: foreign like any other.
        if (typeof s.tenant === 'string' && isTenantId(s.tenant)) out.push({ ...s, tenant: s.tenant });
      } catch {
        // ignore a foreign value
      }
    }
    return out;
  }
}

function memberKey(id: string): string {
  return id.replace(/[^A-Za-z0-9_-]/g, '_');
}

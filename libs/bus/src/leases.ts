import { FirnError } from '@firn/errors';
import type { Bus } from './bus';
import type { BusKv } from './bus-kv';
import { CasConflictError, isCasConflict } from './cas-conflict';

/**
 * A held lease. `revision` is the KV revision of our last write of the key: the fencing token.
 * Whoever writes the key after us (a takeover after expiry) changes it.
 */
export interface Lease {
  readonly key: string;
  readonly owner: string;
  readonly revision: number;
  readonly expiresAtMs: number;
}

interface LeaseValue {
  owner: string;
  expiresAtMs: number;
}

export interface LeasesOptions {
  kv: BusKv;
  /** Unique per process (e.g. compactor id + pid): two processes must never share it. */
  owner: string;
  ttlMs: number;
  now?: () => number;
}

const enc = new TextEncoder();
const dec = new TextDecoder();

function decode(bytes: Uint8Array): LeaseValue | undefined {
  try {
    const v = JSON.parse(dec.decode(bytes)) as Partial<LeaseValue>;
    return typeof v.owner === 'string' && typeof v.expiresAtMs === 'number' ? { owner: v.owner, expiresAtMs: v.expiresAtMs } : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Leases in a NATS KV bucket, one key per unit of work (a compactor's tenant-hour, a scrape
 * target). Acquire = KV create
 * (or, once the holder's expiry passed, an update at the revision we read): JetStream's
 * per-subject sequence check makes both compare-and-set, so exactly one racer wins. The bucket's
 * max age (= ttl) also drops keys nobody renews, e.g. of a crashed compactor.
 *
 * Leases keep replicas from doing the same work. Where correctness must not rest on them
 * (clocks and pauses can make two processes believe they hold one), the work is fenced again at
 * its end: the compactor's manifest publish is itself a compare-and-set on the tenant's last
 * delta, and `isHeld` checks the fencing token.
 */
export class Leases {
  private readonly now: () => number;

  constructor(private readonly opts: LeasesOptions) {
    if (!Number.isSafeInteger(opts.ttlMs) || opts.ttlMs < 1) throw FirnError.invalidArgument(`lease ttl must be a positive integer of ms, got ${opts.ttlMs}`);
    if (!opts.owner) throw FirnError.invalidArgument('lease owner must not be empty');
    this.now = opts.now ?? Date.now;
  }

  static async open(bus: Bus, opts: { owner: string; ttlMs: number; bucket: string }): Promise<Leases> {
    const kv = await bus.ensureKv(opts.bucket, { history: 1, ttlMs: opts.ttlMs });
    return new Leases({ kv, owner: opts.owner, ttlMs: opts.ttlMs });
  }

  get owner(): string {
    return this.opts.owner;
  }

  get ttlMs(): number {
    return this.opts.ttlMs;
  }

  /** The lease on `key`, or undefined when someone else holds an unexpired one. */
  async tryAcquire(key: string): Promise<Lease | undefined> {
    const { kv } = this.opts;
    const value = this.value();
    try {
      const current = await kv.get(key);
      if (!current) return this.lease(key, value, await kv.create(key, enc.encode(JSON.stringify(value))));
      const held = decode(current.value);
      if (held && held.owner !== this.opts.owner && held.expiresAtMs > this.now()) return undefined;
      return this.lease(key, value, await kv.update(key, enc.encode(JSON.stringify(value)), current.revision));
    } catch (err) {
      if (isCasConflict(err)) return undefined;
      throw FirnError.unavailable(`cannot acquire lease ${key}: ${(err as Error).message}`, err);
    }
  }

  /** Extends a held lease; CasConflictError (code aborted) when it was lost (the fencing token moved). */
  async renew(lease: Lease): Promise<Lease> {
    const value = this.value();
    try {
      return this.lease(lease.key, value, await this.opts.kv.update(lease.key, enc.encode(JSON.stringify(value)), lease.revision));
    } catch (err) {
      if (isCasConflict(err)) throw new CasConflictError(`lease ${lease.key} was taken over`, err);
      throw FirnError.unavailable(`cannot renew lease ${lease.key}: ${(err as Error).message}`, err);
    }
  }

  /** Fencing check: is the key still at our revision (nobody wrote it since)? */
  async isHeld(lease: Lease): Promise<boolean> {
    const current = await this.opts.kv.get(lease.key);
    return current !== undefined && current.revision === lease.revision && lease.expiresAtMs > this.now();
  }

  /** Deletes the key if still ours (a takeover already replaced it otherwise). */
  async release(lease: Lease): Promise<void> {
    try {
      await this.opts.kv.delete(lease.key, { revision: lease.revision });
    } catch (err) {
      if (!isCasConflict(err)) throw FirnError.unavailable(`cannot release lease ${lease.key}: ${(err as Error).message}`, err);
    }
  }

  private value(): LeaseValue {
    return { owner: this.opts.owner, expiresAtMs: this.now() + this.opts.ttlMs };
  }

  private lease(key: string, value: LeaseValue, revision: number): Lease {
    return { key, owner: value.owner, revision, expiresAtMs: value.expiresAtMs };
  }
}

import { create, toBinary } from '@bufbuild/protobuf';
import { FirnError } from '@firn/errors';
import { firnManifestV1 } from '@firn/proto';
import { tenantFromTrustedSource, type TenantId } from '@firn/tenancy';
import { clipAtOrBelow, containsPoint, insertDisjoint, insertMerged, intersects, normalize, type Interval } from './interval-set';
import { compileMatchers, summaryMayMatch, type LabelMatcher } from './label-match';

type SegmentMeta = firnManifestV1.SegmentMeta;
type ManifestDelta = firnManifestV1.ManifestDelta;

/** One add-set element: a segment and the manifest-stream seq of the delta that added it. */
export interface SegmentEntry {
  /** Shared with the state: treat as read-only. */
  readonly meta: SegmentMeta;
  readonly seq: number;
}

/**
 * - valid: in the add-set, not removed, and won its coverage.
 * - removed: in the remove-set (whether or not it was ever added).
 * - conflict: lost its coverage to a segment added at a smaller (seq, id); never valid.
 * - unknown: not in the add-set (yet).
 */
export type SegmentStatus = 'valid' | 'removed' | 'conflict' | 'unknown';

export interface SegmentQuery {
  /** Inclusive, ms since epoch; segments are kept when [min, max] (truncated to ms) overlaps. */
  startMs: number;
  endMs: number;
  /** Exact profile type id; segments listing no profile types are kept (unknown). */
  profileType?: string;
  matchers?: readonly LabelMatcher[];
}

/** The read side of a ManifestState, as ManifestLog hands it out. */
export interface ManifestView {
  tenants(): TenantId[];
  validSegments(tenant: TenantId): SegmentEntry[];
  /**
   * Every segment of the tenant that won its coverage (valid now, or removed since by
   * compaction or retention), in no particular order: the segments whose data was stored at
   * some point. Usage metering counts ingest from the level-0 ones.
   */
  winners(tenant: TenantId): SegmentEntry[];
  segmentsOverlapping(tenant: TenantId, query: SegmentQuery): SegmentEntry[];
  status(tenant: TenantId, segmentId: string): SegmentStatus;
  isValid(tenant: TenantId, segmentId: string): boolean;
  entry(tenant: TenantId, segmentId: string): SegmentEntry | undefined;
  isCovered(stream: string, seq: number | bigint): boolean;
  /** Highest manifest seq among the tenant's add-set entries; 0 when none. */
  maxSeq(tenant: TenantId): number;
  canonical(): string;
}

interface Entry extends SegmentEntry {
  /** Coverage normalized per stream; empty for compaction output (level > 0). */
  readonly ranges: ReadonlyMap<string, readonly Interval[]>;
  readonly minMs: number;
  readonly maxMs: number;
  /** Won its coverage (computed ignoring the remove-set, see README "Validity"). */
  winner: boolean;
}

interface Claim extends Interval {
  owner: string;
}

class TenantState {
  readonly entries = new Map<string, Entry>();
  readonly removed = new Set<string>();
  /** Per stream, the coverage of winners: disjoint by construction. */
  claims = new Map<string, Claim[]>();
  /** Valid entries sorted by (minMs, id), for time-range queries. */
  byTime: Entry[] = [];
  /** Upper bound of (maxMs - minMs) over byTime; lets a query skip to startMs - maxSpan. */
  maxSpanMs = 0;
  /** The entry with the greatest (seq, id): appends after it take the incremental path. */
  last: Entry | undefined;
  /** Set when an entry arrived out of (seq, id) order: validity is recomputed on next read. */
  dirty = false;
}

const NS_PER_MS = 1_000_000n;

function floorMs(ns: bigint): number {
  const q = ns / NS_PER_MS;
  return Number(ns < 0n && q * NS_PER_MS !== ns ? q - 1n : q);
}

function order(a: SegmentEntry, b: SegmentEntry): number {
  if (a.seq !== b.seq) return a.seq - b.seq;
  return a.meta.id < b.meta.id ? -1 : a.meta.id > b.meta.id ? 1 : 0;
}

function timeOrder(a: Entry, b: Entry): number {
  if (a.minMs !== b.minMs) return a.minMs - b.minMs;
  return a.meta.id < b.meta.id ? -1 : a.meta.id > b.meta.id ? 1 : 0;
}

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

function metaKey(meta: SegmentMeta): string {
  return hex(toBinary(firnManifestV1.SegmentMetaSchema, meta));
}

/**
 * What a removed segment's entry keeps: everything but its label summaries, which only plan reads
 * of valid segments, and are most of a level-0 meta's size (hundreds of label values). A removed
 * winner still decides redeliveries (its covered ranges), feeds usage metering (its counts) and
 * names its objects for a query planned just before the removal (a peer reading an entry without
 * summaries scans it: empty summaries never prune). Every process follows the whole manifest, so
 * this bounds what each holds per segment ever written to a few hundred bytes.
 */
function slim(meta: SegmentMeta): SegmentMeta {
  return meta.labels.length === 0 ? meta : create(firnManifestV1.SegmentMetaSchema, { ...meta, labels: [] });
}

function encodedBefore(a: SegmentMeta, b: SegmentMeta): boolean {
  const sa = metaKey(slim(a));
  const sb = metaKey(slim(b));
  return sa !== sb ? sa < sb : metaKey(a) < metaKey(b);
}

function makeEntry(meta: SegmentMeta, seq: number): Entry {
  const ranges = new Map<string, Interval[]>();
  if (meta.level === 0) {
    const perStream = new Map<string, Interval[]>();
    for (const r of meta.covered) {
      const list = perStream.get(r.stream) ?? [];
      list.push({ first: r.first, last: r.last });
      perStream.set(r.stream, list);
    }
    for (const [stream, list] of perStream) {
      const norm = normalize(list);
      if (norm.length > 0) ranges.set(stream, norm);
    }
  }
  return { meta, seq, ranges, minMs: floorMs(meta.minTimeUnixNano), maxMs: floorMs(meta.maxTimeUnixNano), winner: false };
}

/** Lower bound in a (minMs, id)-sorted array. */
function firstAtOrAfter(list: readonly Entry[], minMs: number): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (list[mid].minMs < minMs) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function indexInTime(list: readonly Entry[], e: Entry): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (timeOrder(list[mid], e) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * A tenant-partitioned manifest CRDT: add-set of {segment meta, seq} plus remove-set of ids,
 * with validity and the coverage index derived from it. See README.md for the model.
 *
 * Costs (n = a tenant's add-set, r = ranges of one segment):
 * - applyDelta in seq order (the live path): O(r log n) for the conflict check, plus an O(n)
 *   array shift to insert into the time and claim indexes (memmove; cheap well past 10^5).
 * - an entry older than the tenant's newest (merge, snapshot load): marks the tenant dirty;
 *   the next read recomputes it in O(n log n) and rebuilds the global coverage index.
 * - removal: O(log n + n shift); a removal never changes which segments won (see README).
 * - segmentsOverlapping: O(log n + k) over the candidates in [startMs - maxSpan, endMs].
 * - isCovered: O(log m) over the merged coverage of the stream.
 */
export class ManifestState implements ManifestView {
  private readonly byTenant = new Map<TenantId, TenantState>();
  /** Union of all tenants' winning claims per ingest stream, clipped above the prune floor. */
  private coverage = new Map<string, Interval[]>();
  private readonly floors = new Map<string, bigint>();
  private dirtyTenants = new Set<TenantId>();

  static merge(a: ManifestState, b: ManifestState): ManifestState {
    const out = a.clone();
    out.mergeFrom(b);
    return out;
  }

  clone(): ManifestState {
    const out = new ManifestState();
    out.mergeFrom(this);
    return out;
  }

  /** Joins `other` into this state (set unions; the smaller seq wins for a repeated id). */
  mergeFrom(other: ManifestState): void {
    for (const [tenant, ot] of other.byTenant) {
      this.restore(tenant, [...ot.entries.values()], [...ot.removed]);
    }
    for (const [stream, floor] of other.floors) {
      if (floor > (this.floors.get(stream) ?? -1n)) this.floors.set(stream, floor);
    }
  }

  /** Adds entries and removed ids in bulk (snapshot load, merge); validity is recomputed lazily. */
  restore(tenant: TenantId, entries: readonly SegmentEntry[], removed: readonly string[]): void {
    const t = this.tenant(tenant);
    for (const id of removed) {
      if (t.removed.has(id)) continue;
      t.removed.add(id);
      const e = t.entries.get(id);
      if (e) this.slimRemoved(t, e);
    }
    for (const e of entries) this.putEntry(t, e.meta, e.seq, true);
    this.markDirty(tenant, t);
  }

  /**
   * Applies one delta published at manifest-stream `seq`. Idempotent; commutes with other deltas.
   * Throws FirnError invalid_argument for a bad seq or tenant id (nothing applied).
   */
  applyDelta(delta: ManifestDelta, seq: number): void {
    if (!Number.isSafeInteger(seq) || seq < 0) throw FirnError.invalidArgument(`manifest seq must be a non-negative integer, got ${seq}`);
    const tenant = tenantFromTrustedSource(delta.tenantId);
    const t = this.tenant(tenant);
    for (const meta of delta.added) {
      if (this.putEntry(t, meta, seq, false)) this.markDirty(tenant, t);
    }
    for (const id of delta.removed) {
      if (t.removed.has(id)) continue;
      t.removed.add(id);
      const e = t.entries.get(id);
      if (!e) continue;
      if (e.winner && !t.dirty) {
        const i = indexInTime(t.byTime, e);
        if (t.byTime[i] === e) t.byTime.splice(i, 1);
      }
      this.slimRemoved(t, e);
    }
  }

  tenants(): TenantId[] {
    return [...this.byTenant.keys()].sort();
  }

  validSegments(tenant: TenantId): SegmentEntry[] {
    const t = this.clean(tenant);
    return t ? t.byTime.map(publicEntry) : [];
  }

  winners(tenant: TenantId): SegmentEntry[] {
    const t = this.clean(tenant);
    if (!t) return [];
    const out: SegmentEntry[] = [];
    for (const e of t.entries.values()) if (e.winner) out.push(publicEntry(e));
    return out;
  }

  segmentsOverlapping(tenant: TenantId, query: SegmentQuery): SegmentEntry[] {
    const { startMs, endMs, profileType } = query;
    if (!Number.isFinite(startMs) || !Number.isFinite(endMs)) {
      throw FirnError.invalidArgument(`segment query needs finite startMs and endMs, got ${startMs}..${endMs}`);
    }
    const matchers = compileMatchers(query.matchers);
    const t = this.clean(tenant);
    if (!t || startMs > endMs) return [];
    const out: SegmentEntry[] = [];
    for (let i = firstAtOrAfter(t.byTime, startMs - t.maxSpanMs); i < t.byTime.length; i++) {
      const e = t.byTime[i];
      if (e.minMs > endMs) break;
      if (e.maxMs < startMs) continue;
      if (profileType !== undefined && e.meta.profileTypes.length > 0 && !e.meta.profileTypes.includes(profileType)) continue;
      if (!summaryMayMatch(e.meta.labels, matchers)) continue;
      out.push(publicEntry(e));
    }
    return out;
  }

  status(tenant: TenantId, segmentId: string): SegmentStatus {
    const t = this.clean(tenant);
    if (!t) return 'unknown';
    if (t.removed.has(segmentId)) return 'removed';
    const e = t.entries.get(segmentId);
    if (!e) return 'unknown';
    return e.winner ? 'valid' : 'conflict';
  }

  isValid(tenant: TenantId, segmentId: string): boolean {
    return this.status(tenant, segmentId) === 'valid';
  }

  entry(tenant: TenantId, segmentId: string): SegmentEntry | undefined {
    const e = this.byTenant.get(tenant)?.entries.get(segmentId);
    return e && publicEntry(e);
  }

  /** Every add-set entry of the tenant in (seq, id) order, valid or not (for snapshots). */
  addSet(tenant: TenantId): SegmentEntry[] {
    const t = this.byTenant.get(tenant);
    return t ? [...t.entries.values()].sort(order).map(publicEntry) : [];
  }

  removeSet(tenant: TenantId): string[] {
    const t = this.byTenant.get(tenant);
    return t ? [...t.removed].sort() : [];
  }

  maxSeq(tenant: TenantId): number {
    return this.clean(tenant)?.last?.seq ?? 0;
  }

  /**
   * Whether ingest message `seq` of `stream` lies in the coverage of a segment that won it
   * (including winners later removed by compaction, whose data lives on in the compacted
   * segment). Points at or below a prune floor are forgotten and answer false.
   */
  isCovered(stream: string, seq: number | bigint): boolean {
    this.cleanAll();
    const list = this.coverage.get(stream);
    return list !== undefined && containsPoint(list, BigInt(seq));
  }

  /**
   * Forgets coverage at or below the consumer's ack floor: those messages are never delivered
   * again, so nobody needs to ask. Local to this view; validity is unaffected (it is computed
   * from the segments' own ranges).
   */
  prune(stream: string, ackFloor: number | bigint): void {
    const floor = BigInt(ackFloor);
    if (floor <= (this.floors.get(stream) ?? -1n)) return;
    this.floors.set(stream, floor);
    const list = this.coverage.get(stream);
    if (list) clipAtOrBelow(list, floor);
  }

  /**
   * A deterministic text form of the CRDT state (add-set and remove-set only; derived indexes
   * and prune floors excluded), so equal states compare equal as strings.
   */
  canonical(): string {
    const parts: string[] = [];
    for (const tenant of this.tenants()) {
      const t = this.byTenant.get(tenant)!;
      if (t.entries.size === 0 && t.removed.size === 0) continue;
      const adds = [...t.entries.values()].sort((a, b) => (a.meta.id < b.meta.id ? -1 : a.meta.id > b.meta.id ? 1 : 0));
      parts.push(
        `tenant ${JSON.stringify(tenant)}`,
        ...adds.map((e) => `+ ${JSON.stringify(e.meta.id)} ${e.seq} ${metaKey(e.meta)}`),
        ...[...t.removed].sort().map((id) => `- ${JSON.stringify(id)}`),
      );
    }
    return parts.join('\n');
  }

  private tenant(tenant: TenantId): TenantState {
    let t = this.byTenant.get(tenant);
    if (!t) {
      t = new TenantState();
      this.byTenant.set(tenant, t);
    }
    return t;
  }

  private markDirty(tenant: TenantId, t: TenantState): void {
    t.dirty = true;
    this.dirtyTenants.add(tenant);
  }

  /**
   * Puts one add-set element. Returns true when the tenant needs a full recompute (the element
   * replaced an existing one or arrived out of order); otherwise validity was updated in place.
   */
  /** Swaps a just-removed entry for one with a slim meta, keeping its place in every index. */
  private slimRemoved(t: TenantState, e: Entry): void {
    const meta = slim(e.meta);
    if (meta === e.meta) return;
    const next: Entry = { ...e, meta };
    t.entries.set(meta.id, next);
    if (t.last === e) t.last = next;
  }

  private putEntry(t: TenantState, added: SegmentMeta, seq: number, bulk: boolean): boolean {
    // Slim before comparing: the state must not depend on whether the remove came first.
    const meta = t.removed.has(added.id) ? slim(added) : added;
    const existing = t.entries.get(meta.id);
    if (existing) {
      // Same id twice: keep the smaller seq; equal seqs keep the smaller encoding so every
      // replica picks the same element whatever the order (slim encodings first, so a removal
      // arriving before or after both adds ends in the same slim meta).
      const replace = seq < existing.seq || (seq === existing.seq && encodedBefore(meta, existing.meta));
      if (!replace) return false;
      t.entries.set(meta.id, makeEntry(meta, seq));
      return true;
    }
    const e = makeEntry(meta, seq);
    t.entries.set(meta.id, e);
    if (bulk || t.dirty || (t.last && order(e, t.last) < 0)) return true;
    t.last = e;
    this.decide(t, e);
    if (e.winner) {
      for (const [stream, list] of e.ranges) {
        const floor = this.floors.get(stream);
        const union = this.coverage.get(stream) ?? [];
        for (const r of list) {
          const first = floor !== undefined && r.first <= floor ? floor + 1n : r.first;
          if (first <= r.last) insertMerged(union, first, r.last);
        }
        this.coverage.set(stream, union);
      }
      if (!t.removed.has(e.meta.id)) this.addToTime(t, e);
    }
    return false;
  }

  /** Greedy step of the validity rule: e wins iff no earlier winner's coverage intersects it. */
  private decide(t: TenantState, e: Entry): void {
    for (const [stream, list] of e.ranges) {
      const claims = t.claims.get(stream);
      if (claims && list.some((r) => intersects(claims, r.first, r.last))) {
        e.winner = false;
        return;
      }
    }
    e.winner = true;
    for (const [stream, list] of e.ranges) {
      let claims = t.claims.get(stream);
      if (!claims) t.claims.set(stream, (claims = []));
      for (const r of list) insertDisjoint(claims, { first: r.first, last: r.last, owner: e.meta.id });
    }
  }

  private addToTime(t: TenantState, e: Entry): void {
    t.byTime.splice(indexInTime(t.byTime, e), 0, e);
    if (e.maxMs - e.minMs > t.maxSpanMs) t.maxSpanMs = e.maxMs - e.minMs;
  }

  private recompute(t: TenantState): void {
    const sorted = [...t.entries.values()].sort(order);
    t.claims = new Map();
    t.byTime = [];
    t.maxSpanMs = 0;
    for (const e of sorted) {
      this.decide(t, e);
      if (e.winner && !t.removed.has(e.meta.id)) {
        t.byTime.push(e);
        if (e.maxMs - e.minMs > t.maxSpanMs) t.maxSpanMs = e.maxMs - e.minMs;
      }
    }
    t.byTime.sort(timeOrder);
    t.last = sorted[sorted.length - 1];
    t.dirty = false;
  }

  private clean(tenant: TenantId): TenantState | undefined {
    if (this.dirtyTenants.has(tenant)) this.cleanAll();
    return this.byTenant.get(tenant);
  }

  private cleanAll(): void {
    if (this.dirtyTenants.size === 0) return;
    for (const tenant of this.dirtyTenants) this.recompute(this.byTenant.get(tenant)!);
    this.dirtyTenants = new Set();
    // Winners may have changed, so the union is rebuilt from every tenant's claims.
    const coverage = new Map<string, Interval[]>();
    for (const t of this.byTenant.values()) {
      for (const [stream, claims] of t.claims) {
        const union = coverage.get(stream) ?? [];
        for (const c of claims) insertMerged(union, c.first, c.last);
        coverage.set(stream, union);
      }
    }
    for (const [stream, floor] of this.floors) {
      const list = coverage.get(stream);
      if (list) clipAtOrBelow(list, floor);
    }
    this.coverage = coverage;
  }
}

function publicEntry(e: Entry): SegmentEntry {
  return { meta: e.meta, seq: e.seq };
}

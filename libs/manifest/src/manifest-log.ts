import { fromBinary, toBinary } from '@bufbuild/protobuf';
import { CasConflictError, isCasConflict, type Bus, type StreamFollower } from '@firn/bus';
import { ErrorCode, FirnError, isFirnError } from '@firn/errors';
import { firnManifestV1 } from '@firn/proto';
import type { ObjectStore } from '@firn/storage';
import { isTenantId, tenantFromTrustedSource, type TenantId } from '@firn/tenancy';
import { ManifestState, type ManifestView, type SegmentEntry, type SegmentQuery, type SegmentStatus } from './manifest-state';
import {
  decodeSnapshot,
  encodeSnapshot,
  snapshotKey,
  snapshotPrefix,
  snapshotSeqOf,
  TENANT_MARKER_PREFIX,
  tenantMarkerKey,
  type TenantSnapshot,
} from './snapshot-codec';

type ManifestDelta = firnManifestV1.ManifestDelta;

/** The subset of a pino logger this lib uses. */
export interface ManifestLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

/** Told after every manifest-stream message the view consumed, in stream order. */
export interface AppliedDelta {
  seq: number;
  /** Undefined when the message was corrupt. */
  tenant: TenantId | undefined;
  added: number;
  removed: number;
  /** Already contained in the tenant's snapshot, so not applied again. */
  skipped: boolean;
  /** The message could not be decoded (logged); nothing was applied. */
  corrupt: boolean;
}

export interface ManifestLogOptions {
  bus: Bus;
  store: ObjectStore;
  streamName?: string;
  subjectPrefix?: string;
  /** Age after which JetStream drops deltas; snapshots must be taken more often. Default 7 days. */
  maxAgeMs?: number;
  replicas?: number;
  log?: ManifestLogger;
  /** Snapshot a tenant after this many of its deltas were applied here. Off when unset. */
  snapshotEvery?: number;
  /** Snapshots kept per tenant (older ones are deleted). Default 2. */
  keepSnapshots?: number;
  /**
   * Default timeout of syncToLatest / waitForSeq. open()'s catch-up fails only after this long
   * without any progress, so a long replay is fine. Default 30 s.
   */
  syncTimeoutMs?: number;
  onApplied?: (e: AppliedDelta) => void;
}

export interface PublishDeltaOptions {
  /** Nats-Msg-Id: a retry with the same id inside the duplicate window returns the original seq. */
  msgId?: string;
  timeoutMs?: number;
  /**
   * Compare-and-set on the tenant's subject: stored only if the tenant's last delta in the stream
   * has this seq (0 = none yet), else `CasConflictError` (code `aborted`). Lets a compactor
   * publish only if no delta of the tenant landed since it verified its inputs (see lastTenantSeq).
   */
  expectedLastTenantSeq?: number;
}

const DAY_MS = 24 * 60 * 60 * 1000;
const RESTART_DELAY_MS = 500;
// Short pulls and heartbeats let the ordered consumer notice a lost server-side consumer fast.
const PULL_EXPIRES_MS = 10_000;
const PULL_HEARTBEAT_MS = 2_000;
const STALL_CHECK_MS = 3_000;
const NO_LOG: ManifestLogger = { info: () => undefined, warn: () => undefined };

interface Waiter {
  seq: number;
  resolve: () => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

/**
 * The manifest as a replicated log: deltas go to a JetStream stream (one subject per tenant),
 * every process folds the whole stream into a ManifestState, and per-tenant snapshots in
 * object storage bound cold-start replay. See README.md.
 */
export class ManifestLog {
  private readonly view = new ManifestState();
  private appliedSeq = 0;
  /** Per tenant, the seq of the snapshot its state was loaded from; deltas at or below are in it. */
  private readonly loadedSnapshotSeq = new Map<TenantId, number>();
  private readonly sinceSnapshot = new Map<TenantId, number>();
  private readonly snapshotting = new Map<TenantId, Promise<unknown>>();
  private waiters: Waiter[] = [];
  private closed = false;
  private follower: Promise<void> | undefined;
  private interrupt: (() => void) | undefined;
  private stopWatchingConnection: (() => void) | undefined;
  private watchdog: NodeJS.Timeout | undefined;
  private readonly log: ManifestLogger;
  private readonly streamName: string;
  private readonly subjectPrefix: string;
  private readonly syncTimeoutMs: number;

  private constructor(private readonly opts: ManifestLogOptions) {
    this.log = opts.log ?? NO_LOG;
    this.streamName = opts.streamName ?? 'FIRN_MANIFEST';
    this.subjectPrefix = opts.subjectPrefix ?? 'firn.manifest';
    this.syncTimeoutMs = opts.syncTimeoutMs ?? 30_000;
  }

  /**
   * Ensures the stream, loads the newest readable snapshot of every tenant, replays the
   * stream from the oldest point any tenant needs, and resolves once caught up with the
   * stream's last seq at that time. Then keeps following live.
   */
  static async open(opts: ManifestLogOptions): Promise<ManifestLog> {
    const m = new ManifestLog(opts);
    await opts.bus.ensureStream({
      name: m.streamName,
      subjects: [`${m.subjectPrefix}.>`],
      maxAgeMs: opts.maxAgeMs ?? 7 * DAY_MS,
      storage: 'file',
      ...(opts.replicas !== undefined ? { replicas: opts.replicas } : {}),
    });
    const startSeq = await m.coldStart();
    m.appliedSeq = startSeq - 1;
    m.follower = m.follow();
    // The server may have lost the ephemeral consumer (restart, failover): start a fresh one.
    m.stopWatchingConnection = opts.bus.onReconnect(() => m.restart('reconnected'));
    m.startWatchdog();
    try {
      await m.catchUp();
    } catch (err) {
      await m.close();
      throw err;
    }
    return m;
  }

  /** Read-only view of the folded manifest. */
  get state(): ManifestView {
    return this.view;
  }

  /** Shorthands for the view; see ManifestState. */
  isValid(tenant: TenantId, segmentId: string): boolean {
    return this.view.isValid(tenant, segmentId);
  }

  status(tenant: TenantId, segmentId: string): SegmentStatus {
    return this.view.status(tenant, segmentId);
  }

  isCovered(stream: string, seq: number | bigint): boolean {
    return this.view.isCovered(stream, seq);
  }

  /** Forgets coverage at or below the ingest consumer's ack floor (local to this view). */
  prune(stream: string, ackFloor: number | bigint): void {
    this.view.prune(stream, ackFloor);
  }

  validSegments(tenant: TenantId): SegmentEntry[] {
    return this.view.validSegments(tenant);
  }

  segmentsOverlapping(tenant: TenantId, query: SegmentQuery): SegmentEntry[] {
    return this.view.segmentsOverlapping(tenant, query);
  }

  /** Highest manifest-stream seq this view has consumed. */
  get lastAppliedSeq(): number {
    return this.appliedSeq;
  }

  /** Publishes a delta and resolves with its stream seq once JetStream stored it durably. */
  async publish(delta: ManifestDelta, opts: PublishDeltaOptions = {}): Promise<number> {
    if (this.closed) throw FirnError.unavailable('manifest log is closed');
    const tenant = validateDelta(delta);
    const expected = opts.expectedLastTenantSeq;
    try {
      const ack = await this.opts.bus.publish(`${this.subjectPrefix}.${tenant}`, toBinary(firnManifestV1.ManifestDeltaSchema, delta), {
        ...(opts.msgId !== undefined ? { msgId: opts.msgId } : {}),
        ...(opts.timeoutMs !== undefined ? { timeoutMs: opts.timeoutMs } : {}),
        ...(expected !== undefined ? { expectLastSubjectSeq: expected } : {}),
      });
      return ack.seq;
    } catch (err) {
      // Another delta of the tenant came first.
      if (isCasConflict(err)) throw new CasConflictError(`manifest of tenant ${delta.tenantId} moved past seq ${expected}; re-check and retry`, err);
      throw err;
    }
  }

  /** Stream seq of the tenant's newest delta (0 when it has none): the value for expectedLastTenantSeq. */
  async lastTenantSeq(tenant: TenantId): Promise<number> {
    const m = await this.opts.bus.lastBySubject(this.streamName, `${this.subjectPrefix}.${tenant}`);
    return m?.seq ?? 0;
  }

  /** Resolves when this view has applied every delta up to `seq`; FirnError unavailable on timeout. */
  waitForSeq(seq: number, timeoutMs = this.syncTimeoutMs): Promise<void> {
    if (seq <= this.appliedSeq) return Promise.resolve();
    if (this.closed) return Promise.reject(FirnError.unavailable('manifest log is closed'));
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        seq,
        resolve,
        reject,
        timer: setTimeout(() => {
          this.waiters = this.waiters.filter((w) => w !== waiter);
          reject(FirnError.unavailable(`manifest view did not reach seq ${seq} within ${timeoutMs} ms (at ${this.appliedSeq})`));
        }, timeoutMs),
      };
      this.waiters.push(waiter);
    });
  }

  /** Waits until the view has applied everything up to the stream's last seq at call time. */
  async syncToLatest(timeoutMs = this.syncTimeoutMs): Promise<void> {
    const s = await this.opts.bus.streamState(this.streamName);
    // An empty stream (everything aged out or purged) has no message left to wait for.
    if (s.messages === 0) return;
    await this.waitForSeq(s.lastSeq, timeoutMs);
  }

  /** Like syncToLatest, but a long replay only fails when it stops making progress. */
  private async catchUp(): Promise<void> {
    const s = await this.opts.bus.streamState(this.streamName);
    if (s.messages === 0) return;
    for (;;) {
      const before = this.appliedSeq;
      try {
        await this.waitForSeq(s.lastSeq);
        return;
      } catch (err) {
        if (this.closed || this.appliedSeq === before) throw err;
      }
    }
  }

  /**
   * Writes the tenant's state at the current applied seq to
   * `tenants/<tenant>/manifest/snapshot-<seq>.binpb`, then deletes all but the newest few.
   */
  async snapshot(tenant: TenantId): Promise<{ key: string; seq: number }> {
    // Captured synchronously, so no delta can land between the seq and the content.
    const snap: TenantSnapshot = {
      tenant,
      seq: this.appliedSeq,
      takenAtUnixNano: BigInt(Date.now()) * 1_000_000n,
      entries: this.view.addSet(tenant),
      removed: this.view.removeSet(tenant),
    };
    const bytes = encodeSnapshot(snap);
    this.sinceSnapshot.set(tenant, 0);
    const key = snapshotKey(tenant, snap.seq);
    const { store } = this.opts;
    await store.put(tenantMarkerKey(tenant), new Uint8Array(0));
    await store.put(key, bytes, { contentType: 'application/octet-stream' });
    const seqs = await this.listSnapshotSeqs(tenant);
    for (const old of seqs.slice(this.opts.keepSnapshots ?? 2)) {
      await store.delete(snapshotKey(tenant, old));
    }
    this.log.info({ tenant, seq: snap.seq, segments: snap.entries.length, bytes: bytes.length }, 'manifest snapshot written');
    return { key, seq: snap.seq };
  }

  /** Stops following; pending waits fail with unavailable. Does not close the bus or store. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.watchdog);
    this.stopWatchingConnection?.();
    this.interrupt?.();
    await this.follower;
    await Promise.allSettled([...this.snapshotting.values()]);
    for (const w of this.waiters) {
      clearTimeout(w.timer);
      w.reject(FirnError.unavailable('manifest log closed'));
    }
    this.waiters = [];
  }

  /** Loads snapshots and returns the first stream seq to replay. */
  private async coldStart(): Promise<number> {
    const { store, bus } = this.opts;
    const snapshotTenants: TenantId[] = [];
    for await (const o of store.listAll(TENANT_MARKER_PREFIX)) {
      const tenant = o.key.slice(TENANT_MARKER_PREFIX.length);
      if (isTenantId(tenant)) snapshotTenants.push(tenant);
      else this.log.warn({ key: o.key }, 'ignoring manifest tenant marker with an invalid tenant id');
    }
    for (const tenant of snapshotTenants) await this.loadNewestSnapshot(tenant);

    const state = await bus.streamState(this.streamName, { subjectsFilter: `${this.subjectPrefix}.>` });
    const lastSeq = state.lastSeq;
    const streamTenants = Object.keys(state.subjects ?? {}).map((s) => s.slice(this.subjectPrefix.length + 1));
    for (const [tenant, seq] of this.loadedSnapshotSeq) {
      if (seq > lastSeq) {
        // The stream was recreated (seqs restarted): skipping by seq would drop new deltas.
        this.log.warn({ tenant, snapshotSeq: seq, streamLastSeq: lastSeq }, 'manifest snapshot is newer than the stream; replaying every delta of the tenant');
        this.loadedSnapshotSeq.set(tenant, 0);
      }
    }
    // A tenant in the stream without a snapshot may have deltas anywhere: replay from the start.
    if (streamTenants.some((t) => !isTenantId(t) || !this.loadedSnapshotSeq.has(t)) || this.loadedSnapshotSeq.size === 0) return 1;
    return Math.min(...this.loadedSnapshotSeq.values()) + 1;
  }

  private async listSnapshotSeqs(tenant: TenantId): Promise<number[]> {
    const seqs: number[] = [];
    for await (const o of this.opts.store.listAll(snapshotPrefix(tenant))) {
      const seq = snapshotSeqOf(tenant, o.key);
      if (seq !== undefined) seqs.push(seq);
    }
    return seqs.sort((a, b) => b - a);
  }

  private async loadNewestSnapshot(tenant: TenantId): Promise<void> {
    for (const seq of await this.listSnapshotSeqs(tenant)) {
      const key = snapshotKey(tenant, seq);
      let snap: TenantSnapshot;
      try {
        snap = decodeSnapshot(await this.opts.store.get(key));
        if (snap.tenant !== tenant || snap.seq !== seq) {
          throw FirnError.invalidArgument(`corrupt manifest snapshot: holds tenant ${snap.tenant} seq ${snap.seq}`);
        }
      } catch (err) {
        // A deleted-meanwhile object or a damaged one: an older snapshot plus more replay does as well.
        if (!isFirnError(err, ErrorCode.InvalidArgument) && !isFirnError(err, ErrorCode.NotFound)) throw err;
        this.log.warn({ tenant, key, err: (err as Error).message }, 'skipping unreadable manifest snapshot');
        continue;
      }
      this.view.restore(tenant, snap.entries, snap.removed);
      this.loadedSnapshotSeq.set(tenant, seq);
      return;
    }
  }

  /**
   * Follows the stream with an ordered consumer, recreating it from the next unapplied seq
   * whenever it ends, the connection comes back, or a wait makes no progress. Recreating is
   * always safe: messages at or below the applied seq are dropped, so nothing is applied twice.
   */
  private async follow(): Promise<void> {
    while (!this.closed) {
      const interrupted = new Promise<'interrupted'>((resolve) => {
        this.interrupt = () => resolve('interrupted');
      });
      try {
        // nats.js retries creating the consumer with long back-offs while the server is away;
        // an interrupt abandons that attempt (closing it if it ever completes) and starts over.
        const starting = this.startConsumer();
        const started = await Promise.race([starting, interrupted]);
        if (started === 'interrupted') {
          void starting.then((late) => late.close()).catch(() => undefined);
        } else {
          await this.applyUntilInterrupted(started, interrupted).finally(() => void started.close().catch(() => undefined));
        }
      } catch (err) {
        if (this.closed) break;
        this.log.warn({ err: (err as Error).message, stream: this.streamName }, 'manifest stream consumer failed; restarting');
      }
      if (!this.closed) await Promise.race([interrupted, new Promise((resolve) => setTimeout(resolve, RESTART_DELAY_MS).unref())]);
    }
  }

  private async applyUntilInterrupted(it: StreamFollower, interrupted: Promise<'interrupted'>): Promise<void> {
    const messages = it[Symbol.asyncIterator]();
    while (!this.closed) {
      // Raced, so close() and restarts never wait on a consumer stuck inside nats.js.
      const next = await Promise.race([messages.next(), interrupted]);
      if (next === 'interrupted' || next.done) return;
      this.onMessage(next.value.seq, next.value.data);
    }
  }

  private startConsumer(): Promise<StreamFollower> {
    return this.opts.bus.follow(this.streamName, {
      startSeq: this.appliedSeq + 1,
      filterSubject: `${this.subjectPrefix}.>`,
      batch: 512,
      expiresMs: PULL_EXPIRES_MS,
      heartbeatMs: PULL_HEARTBEAT_MS,
    });
  }

  private restart(reason: string): void {
    this.log.info({ stream: this.streamName, reason, appliedSeq: this.appliedSeq }, 'restarting manifest stream consumer');
    this.interrupt?.();
  }

  /** Restarts the consumer when someone is waiting and nothing arrived for a while. */
  private startWatchdog(): void {
    let seen = this.appliedSeq;
    this.watchdog = setInterval(() => {
      if (this.waiters.length > 0 && this.appliedSeq === seen) this.restart('no progress while waiting');
      seen = this.appliedSeq;
    }, STALL_CHECK_MS);
    this.watchdog.unref();
  }

  private onMessage(seq: number, data: Uint8Array): void {
    if (seq <= this.appliedSeq) return;
    let delta: ManifestDelta | undefined;
    let tenant: TenantId | undefined;
    try {
      delta = fromBinary(firnManifestV1.ManifestDeltaSchema, data);
      tenant = tenantFromTrustedSource(delta.tenantId);
    } catch (err) {
      delta = undefined;
      this.log.warn({ seq, err: (err as Error).message }, 'skipping undecodable manifest delta');
    }
    const skipped = tenant !== undefined && seq <= (this.loadedSnapshotSeq.get(tenant) ?? 0);
    if (delta && !skipped) this.view.applyDelta(delta, seq);
    this.appliedSeq = seq;
    this.releaseWaiters();
    try {
      this.opts.onApplied?.({ seq, tenant, added: delta?.added.length ?? 0, removed: delta?.removed.length ?? 0, skipped, corrupt: !delta });
    } catch (err) {
      this.log.warn({ seq, err: (err as Error).message }, 'manifest onApplied listener threw');
    }
    if (tenant !== undefined && !skipped) this.maybeSnapshot(tenant);
  }

  private releaseWaiters(): void {
    if (this.waiters.length === 0) return;
    const still: Waiter[] = [];
    for (const w of this.waiters) {
      if (w.seq <= this.appliedSeq) {
        clearTimeout(w.timer);
        w.resolve();
      } else {
        still.push(w);
      }
    }
    this.waiters = still;
  }

  private maybeSnapshot(tenant: TenantId): void {
    const every = this.opts.snapshotEvery;
    if (every === undefined || every <= 0) return;
    const n = (this.sinceSnapshot.get(tenant) ?? 0) + 1;
    this.sinceSnapshot.set(tenant, n);
    if (n < every || this.snapshotting.has(tenant) || this.closed) return;
    const p = this.snapshot(tenant)
      .catch((err: unknown) => this.log.warn({ tenant, err: (err as Error).message }, 'manifest snapshot failed'))
      .finally(() => this.snapshotting.delete(tenant));
    this.snapshotting.set(tenant, p);
  }
}

/** The delta's tenant, once the delta is well-formed; FirnError invalid_argument otherwise. */
function validateDelta(delta: ManifestDelta): TenantId {
  const tenant = tenantFromTrustedSource(delta.tenantId);
  if (delta.added.length === 0 && delta.removed.length === 0) {
    throw FirnError.invalidArgument(`manifest delta for tenant ${delta.tenantId} adds and removes nothing`);
  }
  const ids = new Set<string>();
  for (const meta of delta.added) {
    if (meta.id === '') throw FirnError.invalidArgument(`manifest delta for tenant ${delta.tenantId} adds a segment without an id`);
    if (ids.has(meta.id)) throw FirnError.invalidArgument(`manifest delta adds segment ${meta.id} twice`);
    ids.add(meta.id);
    if (meta.tenantId !== delta.tenantId) {
      throw FirnError.invalidArgument(`segment ${meta.id} belongs to tenant ${JSON.stringify(meta.tenantId)}, not the delta's ${delta.tenantId}`);
    }
    if (meta.level > 0 && meta.covered.length > 0) {
      throw FirnError.invalidArgument(`segment ${meta.id} is level ${meta.level} (compaction output) and must not carry ingest coverage`);
    }
    for (const r of meta.covered) {
      if (r.stream === '' || r.first > r.last) {
        throw FirnError.invalidArgument(`segment ${meta.id} has an invalid covered range ${JSON.stringify(r.stream)} ${r.first}..${r.last}`);
      }
    }
  }
  for (const id of delta.removed) {
    if (id === '') throw FirnError.invalidArgument(`manifest delta for tenant ${delta.tenantId} removes an empty segment id`);
  }
  return tenant;
}

import { ErrorCode, FirnError } from '@firn/errors';
import {
  connect,
  DiscardPolicy,
  Events,
  headers as natsHeaders,
  millis,
  nanos,
  RetentionPolicy,
  StorageType,
  type JetStreamClient,
  type JetStreamManager,
  type JetStreamPublishOptions,
  type NatsConnection,
  type StoredMsg,
  type StreamConfig,
  type StreamInfo as NatsStreamInfo,
} from 'nats';
import { ensureDurableConsumer, headerMap, startConsumer, type BusHandler, type ConsumeOptions, type ConsumerHandle } from './bus-consumer';
import { BusKv } from './bus-kv';
import { JsApiCode, jsApiCode, toFirnError } from './nats-errors';

export interface ConnectBusOptions {
  servers: string[];
  /** Connection name shown by the server's monitoring (e.g. "firn-ingester-0"). */
  name: string;
  token?: string;
  user?: string;
  pass?: string;
  /** Per attempt of the first connection. Default 5000 ms. */
  connectTimeoutMs?: number;
  /** Timeout of JetStream API calls and publish acks. Default 5000 ms. */
  requestTimeoutMs?: number;
  /**
   * Replicas of every stream and KV bucket whose spec does not name its own (default 1). With 3
   * on a 3-node JetStream cluster, an acked message survives the loss of one server.
   */
  replicas?: number;
}

export interface StreamSpec {
  name: string;
  subjects: string[];
  /** -1 or undefined = unlimited. */
  maxBytes?: number;
  /** 0 or undefined = keep forever. */
  maxAgeMs?: number;
  replicas?: number;
  storage?: 'file' | 'memory';
  /** Window in which a repeated msgId is dropped as a duplicate. Server default: 2 min. */
  duplicateWindowMs?: number;
}

export interface StreamState {
  messages: number;
  bytes: number;
  firstSeq: number;
  lastSeq: number;
  consumerCount: number;
  /** Messages per subject, only when asked for with `subjectsFilter`. */
  subjects?: Record<string, number>;
}

/** A stream's settings (in `StreamSpec` terms), state and, on a cluster, its leader. */
export interface StreamInfo {
  name: string;
  subjects: string[];
  maxBytes: number;
  maxAgeMs: number;
  replicas: number;
  storage: 'file' | 'memory';
  duplicateWindowMs: number;
  state: StreamState;
  /** Server name of the stream's leader; undefined when JetStream is not clustered. */
  leader: string | undefined;
}

/** One stored message, read by seq or by subject. */
export interface StreamMessage {
  readonly subject: string;
  readonly seq: number;
  readonly data: Uint8Array;
  /** First value of each header. */
  readonly headers: ReadonlyMap<string, string>;
}

/** A durable consumer's progress. */
export interface ConsumerState {
  /** Stream seq at and below which every message is acked: those are never redelivered. */
  ackFloor: number;
  /** Stream seq of the last message delivered. */
  deliveredSeq: number;
  /** Messages not delivered yet. */
  pending: number;
  /** Messages delivered but not acked yet. */
  ackPending: number;
  /** Messages delivered more than once and not acked yet. */
  redelivered: number;
}

export interface FollowOptions {
  /** First stream seq to deliver. Default: the stream's first message. */
  startSeq?: number;
  /** Only messages on this subject (wildcards allowed). */
  filterSubject?: string;
  /** Messages buffered per pull. Default 512. */
  batch?: number;
  /** How long one pull waits (short pulls notice a lost server-side consumer sooner). */
  expiresMs?: number;
  /** Server heartbeats while a pull is idle, so a dead pull is noticed. */
  heartbeatMs?: number;
}

/** Stream messages in seq order, from an ordered consumer; `close()` ends the iteration. */
export interface StreamFollower extends AsyncIterable<StreamMessage> {
  close(): Promise<void>;
}

export interface PublishOptions {
  /** Sets Nats-Msg-Id: a repeat within the stream's duplicate window is not stored again. */
  msgId?: string;
  headers?: Record<string, string>;
  timeoutMs?: number;
  /**
   * Compare-and-set on the subject: stored only if the last message on `subject` in the stream
   * has this seq (0 = none yet), else `CasConflictError`.
   */
  expectLastSubjectSeq?: number;
}

export interface PublishAck {
  stream: string;
  seq: number;
  /** True when the server dropped the message as a repeat of an earlier msgId. */
  duplicate: boolean;
}

export interface KvBucketOptions {
  /** Values kept per key. Default 1. */
  history?: number;
  ttlMs?: number;
  maxBytes?: number;
  replicas?: number;
  storage?: 'file' | 'memory';
}

const DEFAULT_TIMEOUT_MS = 5000;

/**
 * Connects to NATS with JetStream. Keeps reconnecting forever after the first connection;
 * check() reports unavailable while it is disconnected.
 */
export async function connectBus(opts: ConnectBusOptions): Promise<Bus> {
  const timeout = opts.requestTimeoutMs ?? DEFAULT_TIMEOUT_MS;
  let nc: NatsConnection;
  try {
    nc = await connect({
      servers: opts.servers,
      name: opts.name,
      token: opts.token,
      user: opts.user,
      pass: opts.pass,
      timeout: opts.connectTimeoutMs ?? DEFAULT_TIMEOUT_MS,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 1000,
      // Without it every request (each JetStream publish, each ack that waits for its
      // confirmation) makes an Error and a Timeout error up front for their stack traces, in case
      // it fails: 0.22-0.32 → 0.17-0.27 CPU-s per 2 000 publishes of 68 KB, 8 in flight
      // (libs/bus/bench/publish.bench.ts). A failure still has its code and message, which is all
      // Firn reads of it.
      noAsyncTraces: true,
    });
  } catch (err) {
    throw FirnError.unavailable(`cannot connect to NATS at ${opts.servers.join(',')}: ${errText(err)}`, err);
  }
  try {
    const jsm = await nc.jetstreamManager({ timeout });
    return new Bus(nc, nc.jetstream({ timeout }), jsm, opts.servers, timeout, opts.replicas ?? 1);
  } catch (err) {
    await nc.close().catch(() => undefined);
    throw FirnError.unavailable(`JetStream is not available at ${opts.servers.join(',')}: ${errText(err)}`, err);
  }
}

/** The only place Firn touches the NATS SDK; components depend on this, not on `nats`. */
export class Bus {
  private connected = true;
  private readonly consumers = new Set<ConsumerHandle>();
  private readonly reconnectListeners = new Set<() => void>();

  constructor(
    private readonly nc: NatsConnection,
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
    private readonly servers: string[],
    private readonly timeoutMs: number,
    /** Replicas of streams and KV buckets that do not name their own. */
    readonly defaultReplicas = 1,
  ) {
    void this.watchStatus();
  }

  /** Throws FirnError unavailable unless connected and JetStream answers. */
  async check(): Promise<void> {
    if (this.nc.isClosed()) throw FirnError.unavailable('NATS connection is closed');
    if (!this.connected) throw FirnError.unavailable(`NATS at ${this.servers.join(',')} is disconnected (reconnecting)`);
    try {
      await this.jsm.getAccountInfo();
    } catch (err) {
      throw FirnError.unavailable(`JetStream is not answering: ${errText(err)}`, err);
    }
  }

  /** The server's max_payload: the largest message publish() accepts, headers included. */
  maxPayload(): number {
    return this.nc.info?.max_payload ?? 1024 * 1024;
  }

  /** Creates the stream or brings its mutable settings in line with `spec`. Idempotent. */
  async ensureStream(spec: StreamSpec): Promise<void> {
    const wanted: Partial<StreamConfig> = {
      name: spec.name,
      subjects: spec.subjects,
      max_bytes: spec.maxBytes ?? -1,
      max_age: nanos(spec.maxAgeMs ?? 0),
      num_replicas: spec.replicas ?? this.defaultReplicas,
      storage: spec.storage === 'memory' ? StorageType.Memory : StorageType.File,
      retention: RetentionPolicy.Limits,
      discard: DiscardPolicy.Old,
      ...(spec.duplicateWindowMs !== undefined ? { duplicate_window: nanos(spec.duplicateWindowMs) } : {}),
    };
    let current: StreamConfig;
    try {
      current = (await this.jsm.streams.info(spec.name)).config;
    } catch (err) {
      if (jsApiCode(err) !== JsApiCode.StreamNotFound) throw toFirnError(err, `ensure stream ${spec.name}`);
      try {
        await this.jsm.streams.add(wanted);
        return;
      } catch (addErr) {
        throw toFirnError(addErr, `create stream ${spec.name}`);
      }
    }
    if (current.storage !== wanted.storage) {
      throw new FirnError(
        ErrorCode.FailedPrecondition,
        `stream ${spec.name} exists with ${current.storage} storage, wanted ${wanted.storage}; storage cannot change in place`,
      );
    }
    const differs =
      [...current.subjects].sort().join('\n') !== [...spec.subjects].sort().join('\n') ||
      current.max_bytes !== wanted.max_bytes ||
      current.max_age !== wanted.max_age ||
      current.num_replicas !== wanted.num_replicas ||
      (wanted.duplicate_window !== undefined && current.duplicate_window !== wanted.duplicate_window);
    if (!differs) return;
    try {
      await this.jsm.streams.update(spec.name, { ...current, ...wanted });
    } catch (err) {
      throw toFirnError(err, `update stream ${spec.name}`);
    }
  }

  /** The stream's state; with `subjectsFilter` (e.g. `firn.manifest.>`), also its messages per subject. */
  async streamState(name: string, opts: { subjectsFilter?: string } = {}): Promise<StreamState> {
    return (await this.streamInfo(name, opts)).state;
  }

  async streamInfo(name: string, opts: { subjectsFilter?: string } = {}): Promise<StreamInfo> {
    try {
      return streamInfoOf(await this.jsm.streams.info(name, opts.subjectsFilter !== undefined ? { subjects_filter: opts.subjectsFilter } : undefined));
    } catch (err) {
      throw toFirnError(err, `stream info ${name}`);
    }
  }

  /** Every stream on the server (KV buckets are streams named `KV_<bucket>`). */
  async listStreams(): Promise<StreamInfo[]> {
    try {
      const out: StreamInfo[] = [];
      for await (const s of this.jsm.streams.list()) out.push(streamInfoOf(s));
      return out;
    } catch (err) {
      throw toFirnError(err, 'list streams');
    }
  }

  /** The message at `seq`, or undefined when there is none (never stored, deleted, aged out). */
  async getMessage(stream: string, seq: number): Promise<StreamMessage | undefined> {
    return this.storedMessage(stream, { seq }, `read message ${seq} of stream ${stream}`);
  }

  /** The newest message on `subject` (no wildcards), or undefined when the stream has none. */
  async lastBySubject(stream: string, subject: string): Promise<StreamMessage | undefined> {
    return this.storedMessage(stream, { last_by_subj: subject }, `read the last message on ${subject} in stream ${stream}`);
  }

  /** Deletes every message of the stream, or with `belowSeq` only those with a smaller seq. */
  async purgeStream(name: string, opts: { belowSeq?: number } = {}): Promise<void> {
    try {
      await this.jsm.streams.purge(name, opts.belowSeq !== undefined ? { seq: opts.belowSeq } : undefined);
    } catch (err) {
      throw toFirnError(err, `purge stream ${name}`);
    }
  }

  /** Progress of a durable consumer (e.g. its ack floor: nothing at or below it is redelivered). */
  async consumerState(stream: string, durableName: string): Promise<ConsumerState> {
    try {
      const info = await this.jsm.consumers.info(stream, durableName);
      return {
        ackFloor: info.ack_floor.stream_seq,
        deliveredSeq: info.delivered.stream_seq,
        pending: info.num_pending,
        ackPending: info.num_ack_pending,
        redelivered: info.num_redelivered,
      };
    } catch (err) {
      throw toFirnError(err, `consumer info ${stream}/${durableName}`);
    }
  }

  /**
   * Reads the stream in seq order with an ordered consumer (ephemeral, no acks; the SDK recreates
   * it at the next seq after a gap). The server may still lose it (restart, failover) without the
   * iteration ending: followers that must not stall restart it after `onReconnect` and when a
   * wait makes no progress, from the seq after the last one they saw.
   */
  async follow(stream: string, opts: FollowOptions = {}): Promise<StreamFollower> {
    try {
      const consumer = await this.js.consumers.get(stream, {
        ...(opts.startSeq !== undefined ? { opt_start_seq: opts.startSeq } : {}),
        ...(opts.filterSubject !== undefined ? { filterSubjects: opts.filterSubject } : {}),
      });
      const messages = await consumer.consume({
        max_messages: opts.batch ?? 512,
        ...(opts.expiresMs !== undefined ? { expires: opts.expiresMs } : {}),
        ...(opts.heartbeatMs !== undefined ? { idle_heartbeat: opts.heartbeatMs } : {}),
      });
      return {
        [Symbol.asyncIterator]: () => {
          const it = messages[Symbol.asyncIterator]();
          return {
            next: async (): Promise<IteratorResult<StreamMessage>> => {
              const r = await it.next().catch((err: unknown) => Promise.reject(toFirnError(err, `follow stream ${stream}`)));
              if (r.done) return { done: true, value: undefined };
              const m = r.value;
              return { done: false, value: { subject: m.subject, seq: m.seq, data: m.data, headers: headerMap(m.headers) } };
            },
          };
        },
        close: async () => {
          await messages.close();
        },
      };
    } catch (err) {
      throw toFirnError(err, `follow stream ${stream}`);
    }
  }

  /** Calls `listener` each time the connection comes back after a disconnect; returns the unsubscribe. */
  onReconnect(listener: () => void): () => void {
    this.reconnectListeners.add(listener);
    return () => this.reconnectListeners.delete(listener);
  }

  /** Publishes to JetStream and waits for the stream's ack: resolved means stored durably. */
  async publish(subject: string, data: Uint8Array, opts: PublishOptions = {}): Promise<PublishAck> {
    if (this.nc.isClosed() || !this.connected) {
      // nats.js would buffer the publish while reconnecting; callers need a prompt answer instead.
      throw FirnError.unavailable(`cannot publish to ${subject}: NATS is disconnected`);
    }
    const pubOpts: Partial<JetStreamPublishOptions> = { timeout: opts.timeoutMs ?? this.timeoutMs };
    if (opts.msgId !== undefined) pubOpts.msgID = opts.msgId;
    if (opts.expectLastSubjectSeq !== undefined) pubOpts.expect = { lastSubjectSequence: opts.expectLastSubjectSeq };
    if (opts.headers) {
      const h = natsHeaders();
      for (const [k, v] of Object.entries(opts.headers)) h.set(k, v);
      pubOpts.headers = h;
    }
    try {
      const ack = await this.js.publish(subject, data, pubOpts);
      return { stream: ack.stream, seq: ack.seq, duplicate: ack.duplicate };
    } catch (err) {
      throw toFirnError(err, `publish to ${subject}`);
    }
  }

  /** Opens (creating if needed) a KV bucket. */
  async ensureKv(bucket: string, opts: KvBucketOptions = {}): Promise<BusKv> {
    const replicas = opts.replicas ?? this.defaultReplicas;
    let kv: Awaited<ReturnType<JetStreamClient['views']['kv']>>;
    try {
      kv = await this.js.views.kv(bucket, {
        history: opts.history ?? 1,
        ...(opts.ttlMs !== undefined ? { ttl: opts.ttlMs } : {}),
        ...(opts.maxBytes !== undefined ? { max_bytes: opts.maxBytes } : {}),
        replicas,
        storage: opts.storage === 'memory' ? StorageType.Memory : StorageType.File,
        timeout: this.timeoutMs,
      });
    } catch (err) {
      throw toFirnError(err, `open KV bucket ${bucket}`);
    }
    // An existing bucket keeps the replicas it was made with; raise (or lower) them in place, so
    // an install that moves from one NATS server to a cluster gets the durability it asks for.
    const stream = `KV_${bucket}`;
    try {
      const { config } = await this.jsm.streams.info(stream);
      if (config.num_replicas !== replicas) await this.jsm.streams.update(stream, { ...config, num_replicas: replicas });
    } catch (err) {
      throw toFirnError(err, `set replicas of KV bucket ${bucket}`);
    }
    return new BusKv(kv, bucket);
  }

  /**
   * Ensures the durable pull consumer exists and starts handling its messages one at a time.
   * See ConsumerHandle.stop() for graceful drain.
   */
  async consume(stream: string, durableName: string, handler: BusHandler, opts: ConsumeOptions = {}): Promise<ConsumerHandle> {
    await ensureDurableConsumer(this.jsm, stream, durableName, opts);
    const inner = startConsumer(
      this.js,
      () => this.nc.isClosed(),
      () => this.maxPayload(),
      stream,
      durableName,
      handler,
      opts,
    );
    const handle: ConsumerHandle = {
      stop: async () => {
        await inner.stop();
        this.consumers.delete(handle);
      },
    };
    this.consumers.add(handle);
    return handle;
  }

  /** Stops consumers (waiting for in-flight handlers), flushes pending publishes, then closes. */
  async drain(): Promise<void> {
    await Promise.all([...this.consumers].map((c) => c.stop()));
    if (this.nc.isClosed() || this.nc.isDraining()) return this.waitClosed();
    try {
      await this.nc.drain();
    } catch {
      // Draining a disconnected client fails; closing is all that is left to do.
      await this.nc.close();
    }
  }

  async close(): Promise<void> {
    await Promise.all([...this.consumers].map((c) => c.stop()));
    if (!this.nc.isClosed()) await this.nc.close();
  }

  private async waitClosed(): Promise<void> {
    await this.nc.closed();
  }

  private async watchStatus(): Promise<void> {
    void this.nc.closed().then(() => {
      this.connected = false;
    });
    for await (const s of this.nc.status()) {
      if (s.type === Events.Disconnect) this.connected = false;
      else if (s.type === Events.Reconnect) {
        this.connected = true;
        for (const listener of this.reconnectListeners) {
          try {
            listener();
          } catch {
            // A listener's failure must not stop status tracking for everyone else.
          }
        }
      }
    }
  }

  private async storedMessage(stream: string, query: { seq: number } | { last_by_subj: string }, what: string): Promise<StreamMessage | undefined> {
    let m: StoredMsg;
    try {
      m = await this.jsm.streams.getMessage(stream, query);
    } catch (err) {
      if (jsApiCode(err) === JsApiCode.NoMessageFound) return undefined;
      throw toFirnError(err, what);
    }
    return { subject: m.subject, seq: m.seq, data: m.data, headers: headerMap(m.header) };
  }
}

function streamInfoOf(info: NatsStreamInfo): StreamInfo {
  const { config, state } = info;
  return {
    name: config.name,
    subjects: config.subjects,
    maxBytes: config.max_bytes,
    maxAgeMs: millis(config.max_age),
    replicas: config.num_replicas,
    storage: config.storage === StorageType.Memory ? 'memory' : 'file',
    duplicateWindowMs: millis(config.duplicate_window),
    state: {
      messages: state.messages,
      bytes: state.bytes,
      firstSeq: state.first_seq,
      lastSeq: state.last_seq,
      consumerCount: state.consumer_count,
      ...(state.subjects ? { subjects: state.subjects } : {}),
    },
    leader: info.cluster?.leader,
  };
}

function errText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

import { ErrorCode, FirnError } from '@firn/errors';
import {
  connect,
  DiscardPolicy,
  Events,
  headers as natsHeaders,
  nanos,
  RetentionPolicy,
  StorageType,
  type JetStreamClient,
  type JetStreamManager,
  type JetStreamPublishOptions,
  type KV,
  type NatsConnection,
  type StreamConfig,
} from 'nats';
import { ensureDurableConsumer, startConsumer, type BusHandler, type ConsumeOptions, type ConsumerHandle } from './bus-consumer';
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
}

export interface PublishOptions {
  /** Sets Nats-Msg-Id: a repeat within the stream's duplicate window is not stored again. */
  msgId?: string;
  headers?: Record<string, string>;
  timeoutMs?: number;
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

export type BusKv = KV;

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

  constructor(
    readonly nc: NatsConnection,
    readonly js: JetStreamClient,
    readonly jsm: JetStreamManager,
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

  async streamState(name: string): Promise<StreamState> {
    try {
      const { state } = await this.jsm.streams.info(name);
      return {
        messages: state.messages,
        bytes: state.bytes,
        firstSeq: state.first_seq,
        lastSeq: state.last_seq,
        consumerCount: state.consumer_count,
      };
    } catch (err) {
      throw toFirnError(err, `stream info ${name}`);
    }
  }

  /** Publishes to JetStream and waits for the stream's ack: resolved means stored durably. */
  async publish(subject: string, data: Uint8Array, opts: PublishOptions = {}): Promise<PublishAck> {
    if (this.nc.isClosed() || !this.connected) {
      // nats.js would buffer the publish while reconnecting; callers need a prompt answer instead.
      throw FirnError.unavailable(`cannot publish to ${subject}: NATS is disconnected`);
    }
    const pubOpts: Partial<JetStreamPublishOptions> = { timeout: opts.timeoutMs ?? this.timeoutMs };
    if (opts.msgId !== undefined) pubOpts.msgID = opts.msgId;
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
    let kv: BusKv;
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
    return kv;
  }

  /**
   * Ensures the durable pull consumer exists and starts handling its messages one at a time.
   * See ConsumerHandle.stop() for graceful drain.
   */
  async consume(stream: string, durableName: string, handler: BusHandler, opts: ConsumeOptions = {}): Promise<ConsumerHandle> {
    await ensureDurableConsumer(this.jsm, stream, durableName, opts);
    const inner = startConsumer(this.js, () => this.nc.isClosed(), stream, durableName, handler, opts);
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
      else if (s.type === Events.Reconnect) this.connected = true;
    }
  }
}

function errText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

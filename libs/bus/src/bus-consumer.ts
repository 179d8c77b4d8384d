import { ErrorCode, FirnError } from '@firn/errors';
import {
  AckPolicy,
  DeliverPolicy,
  nanos,
  type ConsumerConfig,
  type ConsumerMessages,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
  type MsgHdrs,
} from 'nats';
import { JsApiCode, jsApiCode, toFirnError } from './nats-errors';

/** One JetStream message as handlers see it; the SDK's JsMsg stays inside this lib. */
export interface BusMessage {
  readonly subject: string;
  readonly data: Uint8Array;
  /** First value of each header. */
  readonly headers: ReadonlyMap<string, string>;
  /** The publisher's Nats-Msg-Id, if any. */
  readonly msgId: string | undefined;
  readonly streamSeq: number;
  /** 1 on first delivery, higher on redelivery. */
  readonly deliveryCount: number;
  /** Settles the message as done. Called automatically when the handler resolves unsettled. */
  ack(): void;
  /** Asks for redelivery, optionally after a delay. Called automatically when the handler throws. */
  nak(delayMs?: number): void;
  /** Never redeliver (poison message). */
  term(): void;
  /** Extends the ack deadline for a long-running handler. */
  working(): void;
  /** Leaves the message unsettled: the server redelivers it after ackWait. */
  abandon(): void;
}

export type BusHandler = (msg: BusMessage) => Promise<void>;

export interface ConsumeOptions {
  /** Only messages on this subject (wildcards allowed). Fixed at creation of the durable. */
  filterSubject?: string;
  /** How long the server waits for an ack before redelivering. Default 30 s. */
  ackWaitMs?: number;
  /** Cap on delivered-but-unacked messages across all instances of this durable. */
  maxAckPending?: number;
  /** Messages pulled per request. Default 64. */
  batch?: number;
  /**
   * Pull by size instead: at most this many bytes of messages per pull request (and at most 100
   * messages), so what waits in the client's prefetch buffer is bounded by bytes and is handled
   * well within ackWait however large the messages are. Raised to 4 × (max_payload + headroom):
   * the client tops a pull up once 25 % of its bytes are used, and a top-up smaller than the next
   * message would stall until the pull expires (30 s). Replaces `batch` when set.
   */
  maxBytes?: number;
  /** Give up on a message after this many deliveries (-1 = never, the default). */
  maxDeliver?: number;
  /** Redelivery delay after a handler throws. Default 1000 ms. */
  nakDelayMs?: number;
  /** Told about handler failures and pull errors; the consumer keeps going. */
  onError?: (err: unknown, msg?: BusMessage) => void;
  /**
   * The handler settles messages itself, possibly later (e.g. the ingester acks only after the
   * segment holding the message is durable). A message left unsettled is redelivered after
   * ackWait unless `working()` extends it. A throwing handler still naks.
   */
  manualAck?: boolean;
}

export interface ConsumerHandle {
  /** Stops pulling, waits for the in-flight handler, and naks prefetched messages. Idempotent. */
  stop(): Promise<void>;
}

const DEFAULT_BATCH = 64;
/** Subject, headers and reply subject on top of a max_payload-sized body. */
const PULL_HEADROOM_BYTES = 64 * 1024;
const DEFAULT_NAK_DELAY_MS = 1000;
const PULL_RETRY_DELAY_MS = 1000;

/** Creates the durable pull consumer, or updates the settings the server allows to change. */
export async function ensureDurableConsumer(jsm: JetStreamManager, stream: string, durableName: string, opts: ConsumeOptions): Promise<void> {
  const wanted: Partial<ConsumerConfig> = {
    durable_name: durableName,
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    ack_wait: nanos(opts.ackWaitMs ?? 30_000),
    max_deliver: opts.maxDeliver ?? -1,
    ...(opts.maxAckPending !== undefined ? { max_ack_pending: opts.maxAckPending } : {}),
    ...(opts.filterSubject !== undefined ? { filter_subject: opts.filterSubject } : {}),
  };
  const what = `consumer ${stream}/${durableName}`;
  try {
    const info = await jsm.consumers.info(stream, durableName);
    const current = info.config;
    if ((current.filter_subject ?? '') !== (opts.filterSubject ?? '')) {
      throw new FirnError(
        ErrorCode.FailedPrecondition,
        `${what} exists with filter subject '${current.filter_subject ?? ''}', wanted '${opts.filterSubject ?? ''}'; delete it or use another durable name`,
      );
    }
    const changed =
      current.ack_wait !== wanted.ack_wait ||
      current.max_deliver !== wanted.max_deliver ||
      (wanted.max_ack_pending !== undefined && current.max_ack_pending !== wanted.max_ack_pending);
    if (changed) {
      await jsm.consumers.update(stream, durableName, {
        ack_wait: wanted.ack_wait,
        max_deliver: wanted.max_deliver,
        ...(wanted.max_ack_pending !== undefined ? { max_ack_pending: wanted.max_ack_pending } : {}),
      });
    }
  } catch (err) {
    if (jsApiCode(err) !== JsApiCode.ConsumerNotFound) throw toFirnError(err, `ensure ${what}`);
    try {
      await jsm.consumers.add(stream, wanted);
    } catch (addErr) {
      throw toFirnError(addErr, `create ${what}`);
    }
  }
}

/**
 * Pulls from a durable consumer and runs `handler` on one message at a time. At-least-once:
 * a message is acked only after its handler resolves; a crash or stop() before that means
 * redelivery.
 */
export function startConsumer(
  js: JetStreamClient,
  connectionClosed: () => boolean,
  maxPayload: () => number,
  stream: string,
  durableName: string,
  handler: BusHandler,
  opts: ConsumeOptions,
): ConsumerHandle {
  let stopping = false;
  let current: ConsumerMessages | undefined;
  const nakDelayMs = opts.nakDelayMs ?? DEFAULT_NAK_DELAY_MS;
  let wakeRetry: (() => void) | undefined;

  // Interruptible by stop(), so a pause between pull attempts never delays shutdown.
  const pause = (): Promise<void> =>
    new Promise<void>((resolve) => {
      wakeRetry = resolve;
      setTimeout(resolve, PULL_RETRY_DELAY_MS).unref();
    });

  const loop = (async () => {
    while (!stopping && !connectionClosed()) {
      try {
        const consumer = await js.consumers.get(stream, durableName);
        current = await consumer.consume(pullLimit(opts, maxPayload()));
        if (stopping) await current.close();
        for await (const m of current) {
          const msg = wrap(m);
          if (stopping) {
            // Prefetched but not started: hand it back now instead of after ackWait.
            m.nak();
            continue;
          }
          await runHandler(handler, msg, nakDelayMs, opts.onError, opts.manualAck ?? false);
        }
      } catch (err) {
        if (stopping) break;
        opts.onError?.(toFirnError(err, `consume ${stream}/${durableName}`));
      }
      // The SDK ended the pull (consumer deleted, connection closed...): retry, but not in a spin.
      if (!stopping && !connectionClosed()) await pause();
    }
  })();

  let stopped: Promise<void> | undefined;
  return {
    stop: () =>
      (stopped ??= (async () => {
        stopping = true;
        wakeRetry?.();
        await current?.close().catch(() => undefined);
        await loop;
      })()),
  };
}

/** What one pull request asks for: a message count, or bytes (never less than one message's worth). */
function pullLimit(opts: Pick<ConsumeOptions, 'batch' | 'maxBytes'>, maxPayload: number): { max_messages: number } | { max_bytes: number } {
  if (opts.maxBytes === undefined) return { max_messages: opts.batch ?? DEFAULT_BATCH };
  return { max_bytes: Math.max(opts.maxBytes, 4 * (maxPayload + PULL_HEADROOM_BYTES)) };
}

async function runHandler(
  handler: BusHandler,
  msg: SettlingMessage,
  nakDelayMs: number,
  onError: ConsumeOptions['onError'],
  manualAck: boolean,
): Promise<void> {
  try {
    await handler(msg);
    if (!msg.settled && !manualAck) msg.ack();
  } catch (err) {
    if (!msg.settled) msg.nak(nakDelayMs);
    onError?.(err, msg);
  }
}

interface SettlingMessage extends BusMessage {
  readonly settled: boolean;
}

/** First value of each header (the SDK keeps a list per name). */
export function headerMap(h: MsgHdrs | undefined): Map<string, string> {
  const out = new Map<string, string>();
  if (h) for (const [k, v] of h) if (v.length > 0) out.set(k, v[0]);
  return out;
}

function wrap(m: JsMsg): SettlingMessage {
  let settled = false;
  let headers: Map<string, string> | undefined;
  const settle = (fn: () => void): void => {
    if (settled) return;
    settled = true;
    fn();
  };
  return {
    subject: m.subject,
    data: m.data,
    get headers() {
      return (headers ??= headerMap(m.headers));
    },
    get msgId() {
      return m.headers?.get('Nats-Msg-Id') || undefined;
    },
    streamSeq: m.seq,
    deliveryCount: m.info.deliveryCount,
    get settled() {
      return settled;
    },
    ack: () => settle(() => m.ack()),
    nak: (delayMs?: number) => settle(() => m.nak(delayMs)),
    term: () => settle(() => m.term()),
    abandon: () => settle(() => undefined),
    working: () => m.working(),
  };
}

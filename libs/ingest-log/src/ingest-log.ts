import { createHash, randomUUID } from 'node:crypto';
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import type { Bus, StreamSpec } from '@firn/bus';
import { ErrorCode, FirnError } from '@firn/errors';
import { firnIngestV1 } from '@firn/proto';
import type { ObjectStore } from '@firn/storage';
import { tenantFromTrustedSource, tenantPrefix, type TenantId } from '@firn/tenancy';

const { IngestMessageSchema, PayloadKind } = firnIngestV1;

/**
 * The durable ingest log: JetStream stream FIRN_INGEST, one subject per tenant. The gateway
 * appends (and answers the client only after JetStream acked); ingesters consume with one shared
 * durable consumer. Payloads are Arrow IPC in the firn.samples.v1 schema (@firn/profiles).
 */
export const INGEST_STREAM = 'FIRN_INGEST';
export const INGEST_SUBJECT_PREFIX = 'firn.ingest';
export const INGEST_CONSUMER = 'firn-ingesters';

/**
 * `duplicateWindowMs`: how long JetStream remembers a write's message id, i.e. how long a retry of
 * it is recognised (the gateway's dedupe window). Only the writer (the gateway) sets it; readers
 * leave it undefined so they never undo the writer's setting.
 */
export function ingestStreamSpec(opts: { maxAgeMs?: number; maxBytes?: number; duplicateWindowMs?: number } = {}): StreamSpec {
  return {
    name: INGEST_STREAM,
    subjects: [`${INGEST_SUBJECT_PREFIX}.>`],
    storage: 'file',
    // Kept after ack for a while: replay for debugging and a cushion for slow consumers.
    maxAgeMs: opts.maxAgeMs ?? 24 * 3600_000,
    maxBytes: opts.maxBytes,
    duplicateWindowMs: opts.duplicateWindowMs,
  };
}

export function ingestSubject(tenant: TenantId): string {
  return `${INGEST_SUBJECT_PREFIX}.${tenant}`;
}

/** Room left in a NATS message for the envelope and headers. */
const ENVELOPE_HEADROOM = 16 * 1024;

export interface AppendResult {
  seq: number;
  duplicate: boolean;
  claimCheck: boolean;
  bytes: number;
}

/**
 * Appends one write. Payloads too large for a NATS message go to object storage first
 * (claim check) and the message carries only their key, size and hash; nothing is rejected for
 * being larger than NATS' max_payload. Resolves only once JetStream has the message durably.
 */
export async function appendIngest(
  bus: Bus,
  store: ObjectStore,
  w: {
    tenant: TenantId;
    requestId: string;
    payload: Uint8Array;
    /**
     * What makes a retry of this write recognisable (the gateway derives it from what the client
     * sent); a repeat within the stream's duplicate window is not stored again. Default: a hash
     * of the payload.
     */
    idempotencyKey?: string;
    nowMs?: number;
    /**
     * NATS message headers, e.g. the request's W3C `traceparent`, which the ingester continues
     * (`BusMessage.headers`). Not part of the message id: a retry is the same write.
     */
    headers?: Record<string, string>;
  },
): Promise<AppendResult> {
  const nowMs = w.nowMs ?? Date.now();
  const msg = create(IngestMessageSchema, {
    tenantId: w.tenant,
    requestId: w.requestId,
    receivedAtUnixNano: BigInt(nowMs) * 1_000_000n,
    kind: PayloadKind.ARROW,
  });
  let claimCheck = false;
  if (w.payload.length + ENVELOPE_HEADROOM > bus.maxPayload()) {
    const key = `${tenantPrefix(w.tenant)}claims/${new Date(nowMs).toISOString().slice(0, 10)}/${randomUUID()}.arrow`;
    await store.put(key, w.payload);
    msg.body = {
      case: 'claimCheck',
      value: create(firnIngestV1.ClaimCheckSchema, { objectKey: key, size: BigInt(w.payload.length), sha256: sha256(w.payload) }),
    };
    claimCheck = true;
  } else {
    msg.body = { case: 'inlinePayload', value: w.payload };
  }
  const data = toBinary(IngestMessageSchema, msg);
  // The message id makes client retries idempotent: JetStream drops a write of the same tenant
  // and key within its duplicate window. Request ids are not used: a client reusing one for
  // different data must not lose the second write.
  const ack = await bus.publish(ingestSubject(w.tenant), data, { msgId: `${w.tenant}:${w.idempotencyKey ?? sha256(w.payload)}`, headers: w.headers });
  if (ack.duplicate && msg.body.case === 'claimCheck') {
    // The first copy's message points at its own object; this one's is referenced by nothing.
    await store.delete(msg.body.value.objectKey).catch(() => undefined);
  }
  return { seq: ack.seq, duplicate: ack.duplicate, claimCheck, bytes: w.payload.length };
}

export interface DecodedIngest {
  tenant: TenantId;
  requestId: string;
  receivedAtMs: number;
  /** Claim-check object key, to delete once the data is durable in a segment. */
  claimKey?: string;
  payload: Uint8Array;
}

/**
 * Decodes a message from the log. A malformed envelope or a subject/tenant mismatch is a poison
 * message (FirnError invalid_argument): the gateway never writes one, so it is not retried.
 */
export async function readIngest(store: ObjectStore, subject: string, data: Uint8Array): Promise<DecodedIngest> {
  let msg: firnIngestV1.IngestMessage;
  try {
    msg = fromBinary(IngestMessageSchema, data);
  } catch (err) {
    throw new FirnError(ErrorCode.InvalidArgument, `malformed ingest message: ${(err as Error).message}`);
  }
  const tenant = tenantFromTrustedSource(msg.tenantId);
  if (subject !== ingestSubject(tenant)) {
    throw new FirnError(ErrorCode.InvalidArgument, `ingest message for tenant ${tenant} on subject ${subject}`);
  }
  if (msg.kind !== PayloadKind.ARROW) throw new FirnError(ErrorCode.InvalidArgument, `unsupported payload kind ${msg.kind}`);
  const base = { tenant, requestId: msg.requestId, receivedAtMs: Number(msg.receivedAtUnixNano / 1_000_000n) };
  switch (msg.body.case) {
    case 'inlinePayload':
      return { ...base, payload: msg.body.value };
    case 'claimCheck': {
      const c = msg.body.value;
      if (!c.objectKey.startsWith(tenantPrefix(tenant)))
        throw new FirnError(ErrorCode.InvalidArgument, `claim check outside the tenant prefix: ${c.objectKey}`);
      // not_found/unavailable propagate: the message is retried, not dropped.
      const payload = await store.get(c.objectKey);
      if (payload.length !== Number(c.size) || sha256(payload) !== c.sha256) {
        throw new FirnError(ErrorCode.InvalidArgument, `corrupt claim check ${c.objectKey} does not match its hash/size`);
      }
      return { ...base, claimKey: c.objectKey, payload };
    }
    default:
      throw new FirnError(ErrorCode.InvalidArgument, 'ingest message without a payload');
  }
}

function sha256(b: Uint8Array): string {
  return createHash('sha256').update(b).digest('hex');
}

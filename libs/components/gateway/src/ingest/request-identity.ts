import { createHash, type Hash } from 'node:crypto';
import { FirnError } from '@firn/errors';
import type { IngestParams, IngestPart } from './ingest-decoder';

/** The header (HTTP) / metadata key (gRPC, Connect) a client may name its write with. */
export const IDEMPOTENCY_KEY_HEADER = 'idempotency-key';

/** Visible ASCII, as in the IETF Idempotency-Key draft's examples (UUIDs, ULIDs, hashes). */
const KEY_RE = /^[\x21-\x7e]{1,255}$/;

/** The client's own key from a header value, or undefined; a malformed one is refused (400). */
export function explicitIdempotencyKey(value: string | readonly string[] | null | undefined): string | undefined {
  if (value === null || value === undefined) return undefined;
  if (typeof value !== 'string') throw FirnError.invalidArgument(`${IDEMPOTENCY_KEY_HEADER} given more than once`);
  const v = value.trim();
  if (!KEY_RE.test(v)) throw FirnError.invalidArgument(`${IDEMPOTENCY_KEY_HEADER} must be 1-255 visible ASCII characters`);
  return v;
}

/**
 * The idempotency key of one ingest request: what makes a client's retry of it recognisable.
 * Derived only from what the client sent, never from our own decoding or encoding:
 *
 * - with an explicit Idempotency-Key: the API and that key (the client promises equal keys mean
 *   the same write);
 * - otherwise: the API, every request parameter (sorted; `from`/`until` place a Pyroscope upload
 *   in time) and every part's name, envelope labels and bytes (after the transport's
 *   Content-Encoding, so re-compressing a retry does not make it new; multipart fields without
 *   their random boundary, as the decoder reports them).
 *
 * A part that carries its own time (pprof `time_nanos`, Arrow `timestamp`) is placed in time by
 * its bytes. One that does not is placed at the receive time of its first copy; within the
 * dedupe window an identical copy is a retry of it, after the window new data (the rule in
 * docs/architecture.md). The tenant is added by the ingest log.
 */
export function requestIdentity(api: string, params: IngestParams, parts: readonly IngestPart[], explicitKey: string | undefined): string {
  const h = createHash('sha256');
  field(h, 'firn.ingest.identity.v1');
  field(h, api);
  if (explicitKey !== undefined) {
    field(h, 'idempotency-key');
    field(h, explicitKey);
    return `k${h.digest('hex')}`;
  }
  const keys = Object.keys(params)
    .filter((k) => params[k] !== undefined)
    .sort();
  field(h, String(keys.length));
  for (const k of keys) {
    const v: unknown = params[k];
    // Query parsers may also produce arrays and, for `a[b]=c`, objects: hash them as they came.
    const values = typeof v === 'string' ? [v] : Array.isArray(v) ? v.map((x) => (typeof x === 'string' ? x : JSON.stringify(x))) : [JSON.stringify(v)];
    field(h, k);
    field(h, String(values.length));
    for (const x of values) field(h, x);
  }
  field(h, String(parts.length));
  for (const p of parts) {
    field(h, p.what);
    field(h, String(p.labels?.length ?? 0));
    for (const [n, v] of p.labels ?? []) {
      field(h, n);
      field(h, v);
    }
    field(h, p.bytes);
  }
  return `c${h.digest('hex')}`;
}

/** Length-prefixed, so no two different field lists hash the same bytes. */
function field(h: Hash, v: string | Uint8Array): void {
  const b = typeof v === 'string' ? Buffer.from(v, 'utf8') : v;
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(b.length));
  h.update(len);
  h.update(b);
}

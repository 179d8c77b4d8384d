import { setTimeout as sleep } from 'node:timers/promises';
import { Code, ConnectError } from '@connectrpc/connect';

/** What a client saw while retrying, to check the server said what to do with every refusal. */
export class RetryLog {
  attempts = 0;
  retries = 0;
  /** Refusals by kind: `http 503`, `grpc 14`, `network`, … */
  readonly byKind = new Map<string, number>();
  /** Retryable refusals (429/503, RESOURCE_EXHAUSTED/UNAVAILABLE) that carried no Retry-After. */
  readonly withoutRetryAfter: string[] = [];

  note(kind: string): void {
    this.byKind.set(kind, (this.byKind.get(kind) ?? 0) + 1);
  }

  count(prefix: string): number {
    let n = 0;
    for (const [k, v] of this.byKind) if (k.startsWith(prefix)) n += v;
    return n;
  }

  summary(): string {
    return `${this.attempts} attempts, ${this.retries} retries (${[...this.byKind].map(([k, v]) => `${k}: ${v}`).join(', ') || 'no refusals'})`;
  }
}

/** A refusal worth retrying, and how long the server asked to wait (seconds), if it did. */
class Retryable extends Error {
  constructor(
    readonly kind: string,
    readonly retryAfterS: number | undefined,
  ) {
    super(kind);
  }
}

/** A refusal retrying cannot fix: the test fails. */
class Permanent extends Error {}

const PERMANENT = new Set([Code.InvalidArgument, Code.Unauthenticated, Code.PermissionDenied, Code.Unimplemented, Code.FailedPrecondition]);

/**
 * Sends one request until it is accepted, as an agent does: the same bytes every time; waits as
 * long as the server's Retry-After says (capped at 2 s to keep tests short), else a short backoff;
 * network errors and timeouts are retried too (the server may have stored a request whose answer
 * was lost — that is what idempotent ingest is for). A permanent refusal fails the test.
 */
export async function untilAccepted(
  what: string,
  log: RetryLog,
  attempt: (signal: AbortSignal) => Promise<void>,
  opts: { giveUpAfterMs?: number; attemptTimeoutMs?: number } = {},
): Promise<void> {
  // A deadline, not an attempt count: a restarted app can take minutes to become ready on a
  // loaded 2-core machine, and connection refusals come back at once.
  const deadline = Date.now() + (opts.giveUpAfterMs ?? 12 * 60_000);
  for (let i = 1; ; i++) {
    log.attempts++;
    try {
      // Generous: a loaded 2-core machine can take many seconds to decode a large request.
      await attempt(AbortSignal.timeout(opts.attemptTimeoutMs ?? 60_000));
      return;
    } catch (err) {
      const r = asRetryable(err, what);
      log.note(r.kind);
      if (Date.now() >= deadline) throw new Error(`${what}: not accepted after ${i} attempts (last: ${r.kind})`);
      log.retries++;
      if (r.retryAfterS === undefined && /^(http (429|503)|grpc (8|14))$/.test(r.kind)) log.withoutRetryAfter.push(`${what}: ${r.kind}`);
      const waitMs = r.retryAfterS !== undefined ? Math.min(2000, r.retryAfterS * 1000) : Math.min(2000, 100 * 2 ** Math.min(i, 4));
      await sleep(waitMs * (0.5 + Math.random() / 2));
    }
  }
}

function asRetryable(err: unknown, what: string): Retryable {
  if (err instanceof Retryable) return err;
  if (err instanceof Permanent) throw err;
  if (err instanceof ConnectError) {
    if (PERMANENT.has(err.code)) throw new Permanent(`${what}: refused permanently: ${Code[err.code]} ${err.rawMessage}`);
    const ra = err.metadata.get('retry-after');
    if (err.code === Code.ResourceExhausted && ra === null) throw new Permanent(`${what}: refused for size: ${err.rawMessage}`);
    return new Retryable(`grpc ${err.code}`, ra === null ? undefined : Number(ra));
  }
  // fetch: network failure, abort, or a timeout.
  return new Retryable('network', undefined);
}

/** One HTTP attempt: 2xx resolves; 429/503 are retryable (with their Retry-After); other statuses are permanent. */
export async function httpAttempt(url: string, init: RequestInit): Promise<void> {
  const res = await fetch(url, init);
  const text = await res.text();
  if (res.ok) return;
  if (res.status === 429 || res.status === 503) {
    const ra = res.headers.get('retry-after');
    throw new Retryable(`http ${res.status}`, ra === null ? undefined : Number(ra));
  }
  throw new Permanent(`${init.method ?? 'GET'} ${url}: refused permanently: ${res.status} ${text.slice(0, 300)}`);
}

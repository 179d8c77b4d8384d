import { setTimeout as sleep } from 'node:timers/promises';
import type { Interceptor } from '@connectrpc/connect';
import type { Bus } from '@firn/bus';
import { INGEST_CONSUMER, INGEST_STREAM } from '@firn/ingest-log';
import type { S3Server } from '@firn/testing';

// Moved to the harness (the in-process cluster tests use them too); e2e specs keep importing them here.
export { makeTokens } from '@firn/testing';
export { storedTotals } from '@firn/test-cluster';

/** Waits until every message in the ingest log has been delivered and acked. */
export async function waitForIngestDrained(bus: Bus, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let stableRounds = 0;
  for (;;) {
    try {
      const c = await bus.consumerState(INGEST_STREAM, INGEST_CONSUMER);
      if (c.pending === 0 && c.ackPending === 0) {
        if (++stableRounds >= 3) return;
      } else stableRounds = 0;
      if (Date.now() > deadline) throw new Error(`ingest log not drained: pending ${c.pending}, unacked ${c.ackPending}`);
    } catch (err) {
      if (Date.now() > deadline) throw err;
    }
    await sleep(250);
  }
}

export function sortedEntries(m: Map<string, number>): Array<[string, number]> {
  return [...m].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

/** Adds `Authorization: Bearer <token>` to every call of a Connect client. */
export function bearer(token: string): Interceptor {
  return (next) => (req) => {
    req.header.set('authorization', `Bearer ${token}`);
    return next(req);
  };
}

/** The FIRN_* settings that point an app at a test S3 server. */
export function s3Env(s3: S3Server): Record<string, string> {
  return {
    FIRN_STORAGE: 's3',
    FIRN_S3_ENDPOINT: s3.endpoint,
    FIRN_S3_BUCKET: s3.bucket,
    FIRN_S3_REGION: s3.region,
    FIRN_S3_ACCESS_KEY_ID: s3.accessKeyId,
    FIRN_S3_SECRET_ACCESS_KEY: s3.secretAccessKey,
  };
}

import { setTimeout as sleep } from 'node:timers/promises';
import type { Interceptor } from '@connectrpc/connect';
import type { Bus } from '@firn/bus';
import { INGEST_CONSUMER, INGEST_STREAM } from '@firn/ingest-log';
import { ManifestLog } from '@firn/manifest';
import { keysOfDir, readSegment, totalsBySeriesAndStack } from '@firn/segments';
import type { ObjectStore } from '@firn/storage';
import { Scope, issueToken, tenantFromTrustedSource, writeTokenFile } from '@firn/tenancy';
import type { S3Server } from '@firn/testing';
import { addTotals } from './profiles-data';

export async function makeTokens(file: string, tenants: string[]): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const records = [];
  for (const t of tenants) {
    const issued = issueToken(t, [Scope.WriteProfiles, Scope.ReadProfiles]);
    out[t] = issued.token;
    records.push(issued.record);
  }
  await writeTokenFile(file, records);
  return out;
}

/** Waits until every message in the ingest log has been delivered and acked. */
export async function waitForIngestDrained(bus: Bus, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let stableRounds = 0;
  for (;;) {
    try {
      const info = await bus.jsm.consumers.info(INGEST_STREAM, INGEST_CONSUMER);
      if (info.num_pending === 0 && info.num_ack_pending === 0) {
        if (++stableRounds >= 3) return;
      } else stableRounds = 0;
      if (Date.now() > deadline) throw new Error(`ingest log not drained: pending ${info.num_pending}, unacked ${info.num_ack_pending}`);
    } catch (err) {
      if (Date.now() > deadline) throw err;
    }
    await sleep(250);
  }
}

/** Totals of every valid segment of a tenant, read back through a fresh manifest view. */
export async function storedTotals(bus: Bus, store: ObjectStore, tenant: string): Promise<{ totals: Map<string, number>; segments: number }> {
  const manifest = await ManifestLog.open({ bus, store });
  try {
    await manifest.syncToLatest();
    const totals = new Map<string, number>();
    const segments = manifest.validSegments(tenantFromTrustedSource(tenant));
    for (const seg of segments) {
      const dir = seg.meta.objectKey;
      if (!dir.startsWith(`tenants/${tenant}/`)) throw new Error(`segment ${seg.meta.id} of ${tenant} stored outside its prefix: ${dir}`);
      const { samples, stacks } = await readSegment(store, keysOfDir(dir));
      addTotals(totals, await totalsBySeriesAndStack(samples, stacks));
    }
    return { totals, segments: segments.length };
  } finally {
    await manifest.close();
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

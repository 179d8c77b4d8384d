import { hostname } from 'node:os';
import { z } from 'zod';
import { byteSize, durationMs, positiveInt, setting } from '@firn/config';
import { DEFAULT_INGESTER_OPTIONS, FLUSH_STEPS, type IngesterOptions } from './ingester.options';

const mib = (bytes: number): string => `${bytes / (1024 * 1024)}MiB`;

/** Ingester settings, shared by the ingester and the all-in-one. */
export function ingesterSettings() {
  const d = DEFAULT_INGESTER_OPTIONS;
  return {
    flushMaxAgeMs: setting({
      env: 'FIRN_INGESTER_FLUSH_MAX_AGE_MS',
      flag: 'ingester-flush-max-age-ms',
      schema: durationMs,
      default: String(d.flushMaxAgeMs),
      description: "Flush a tenant's buffer into a segment once its oldest write is this old.",
    }),
    flushMaxRows: setting({
      env: 'FIRN_INGESTER_FLUSH_MAX_ROWS',
      flag: 'ingester-flush-max-rows',
      schema: positiveInt,
      default: String(d.flushMaxRows),
      description: '...or once it holds this many rows.',
    }),
    flushMaxBytes: setting({
      env: 'FIRN_INGESTER_FLUSH_MAX_BYTES',
      flag: 'ingester-flush-max-bytes',
      schema: byteSize,
      default: mib(d.flushMaxBytes),
      description:
        "...or once the writes it holds take about this much memory (e.g. 128MiB; estimated at ≈ 8× the log's payload bytes, decode to flush). Under a backlog this sets the segment size: larger segments cost less CPU and storage per sample, and more memory while flushing.",
    }),
    maxBufferedBytes: setting({
      env: 'FIRN_INGESTER_MAX_BUFFERED_BYTES',
      flag: 'ingester-max-buffered-bytes',
      schema: byteSize,
      default: mib(d.maxBufferedBytes),
      description:
        'Memory budget for writes held in this process (buffered or being flushed). At the budget it pulls nothing more until a flush frees memory, so a backlog is drained at a bounded size. The process takes ≈ 150-250 MiB on top (code, V8, parquet-wasm).',
    }),
    pullMaxBytes: setting({
      env: 'FIRN_INGESTER_PULL_MAX_BYTES',
      flag: 'ingester-pull-max-bytes',
      schema: byteSize,
      default: mib(d.pullMaxBytes),
      description: "Bytes of the ingest log pulled per request (at least 4 × NATS' max_payload): what waits unprocessed in the client is bounded by size.",
    }),
    ackWaitMs: setting({
      env: 'FIRN_INGESTER_ACK_WAIT_MS',
      flag: 'ingester-ack-wait-ms',
      schema: durationMs,
      default: String(d.ackWaitMs),
      description: 'JetStream redelivers a write not acked (nor kept alive) within this time.',
    }),
    maxAckPending: setting({
      env: 'FIRN_INGESTER_MAX_ACK_PENDING',
      flag: 'ingester-max-ack-pending',
      schema: positiveInt,
      default: String(d.maxAckPending),
      description: 'Writes delivered but not yet in a segment, across all ingesters (a cap by count; memory is bounded by FIRN_INGESTER_MAX_BUFFERED_BYTES).',
    }),
    writerId: setting({
      env: 'FIRN_INGESTER_ID',
      flag: 'ingester-id',
      schema: z.string(),
      default: '',
      description: 'Name of this ingester in manifest entries (empty = hostname-pid).',
    }),
    crashAt: setting({
      env: 'FIRN_INGESTER_CRASH_AT',
      flag: 'ingester-crash-at',
      schema: z.enum(['', ...FLUSH_STEPS]),
      default: '',
      description: 'Fault injection for tests only: SIGKILL the process at this flush step.',
    }),
  };
}

export function ingesterOptionsFrom(c: Omit<IngesterOptions, 'crashAt'> & { crashAt: string }): IngesterOptions {
  return {
    flushMaxAgeMs: c.flushMaxAgeMs,
    flushMaxRows: c.flushMaxRows,
    flushMaxBytes: c.flushMaxBytes,
    maxBufferedBytes: c.maxBufferedBytes,
    pullMaxBytes: c.pullMaxBytes,
    ackWaitMs: c.ackWaitMs,
    maxAckPending: c.maxAckPending,
    writerId: c.writerId || `${hostname()}-${process.pid}`,
    crashAt: c.crashAt === '' ? undefined : (c.crashAt as IngesterOptions['crashAt']),
  };
}

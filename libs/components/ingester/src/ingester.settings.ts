import { hostname } from 'node:os';
import { z } from 'zod';
import { durationMs, positiveInt, setting } from '@firn/config';
import { DEFAULT_INGESTER_OPTIONS, FLUSH_STEPS, type IngesterOptions } from './ingester.options';

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
      description: 'Writes delivered but not yet in a segment, across all ingesters (bounds memory).',
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
    ackWaitMs: c.ackWaitMs,
    maxAckPending: c.maxAckPending,
    writerId: c.writerId || `${hostname()}-${process.pid}`,
    crashAt: c.crashAt === '' ? undefined : (c.crashAt as IngesterOptions['crashAt']),
  };
}

/** The steps of the flush protocol, in order. Fault-injection tests crash the process at one. */
export const FLUSH_STEPS = ['after-segment-write', 'after-manifest-publish', 'before-ack'] as const;
export type FlushStep = (typeof FLUSH_STEPS)[number];

export interface IngesterOptions {
  /** A tenant's buffer is flushed once its oldest message is this old. */
  flushMaxAgeMs: number;
  /** ...or once it holds this many rows. */
  flushMaxRows: number;
  /**
   * ...or once the writes it holds are estimated to take this much memory (see heldBytesOf). Under
   * a backlog or a burst this sets the segment size: every segment rewrites the stacks table of its
   * distinct stacks, so larger segments cost less ingester CPU per sample and fewer stored bytes
   * per sample, for more memory while flushing.
   */
  flushMaxBytes: number;
  /**
   * Memory budget for writes held in this process, buffered or being flushed (estimated, see
   * heldBytesOf). At the budget the ingester pulls nothing more until a flush frees memory, so a
   * backlog is worked off at a bounded size instead of being read into memory.
   */
  maxBufferedBytes: number;
  /** Bytes of log messages pulled per request (bounds the client's prefetch buffer by size). */
  pullMaxBytes: number;
  /** How long JetStream waits for an ack before redelivering (kept alive with `working()`). */
  ackWaitMs: number;
  /** Delivered-but-unacked messages across all ingesters (bounds buffered data). */
  maxAckPending: number;
  /** Stable id of this process in manifest entries. */
  writerId: string;
  /** Test hook: crash at the given flush step (RuntimeContext.crash: SIGKILL, or cut off in-process). */
  crashAt?: FlushStep;
}

export const INGESTER_OPTIONS = Symbol('firn.ingester-options');

export const DEFAULT_INGESTER_OPTIONS: Omit<IngesterOptions, 'writerId'> = {
  flushMaxAgeMs: 2000,
  flushMaxRows: 500_000,
  // 128 MiB (≈ 16 MiB of log payload): draining a 10-minute backlog of fleet-1h, 78.5 k samples
  // per ingester CPU-s at 436 MiB peak RSS, vs 57.8 k at 406 MiB with 64 MiB (docs/benchmarks.md,
  // "Issue #19, seventh step"); 192 MiB peaked at 465 MiB, too near the 512 MiB the backlog must fit in.
  flushMaxBytes: 128 * 1024 * 1024,
  maxBufferedBytes: 192 * 1024 * 1024,
  pullMaxBytes: 8 * 1024 * 1024,
  ackWaitMs: 30_000,
  maxAckPending: 20_000,
};

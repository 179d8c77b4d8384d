import { ErrorCode, FirnError } from '@firn/errors';

/**
 * Bytes all ingest requests of one gateway may hold at once (as received plus inflated), so the
 * gateway's memory is bounded however many clients send at the same time. A request that would
 * pass the budget is refused with UNAVAILABLE and a Retry-After (another replica, or this one a
 * moment later, can take it); one request is always let through, so a single request larger than
 * the budget is limited by the per-request limits alone.
 */
export class InflightBudget {
  private used = 0;

  constructor(private readonly maxBytes: number) {}

  get inUse(): number {
    return this.used;
  }

  /** Takes `bytes` more for a request already holding `held`; throws when over budget. */
  take(bytes: number, held: number): void {
    if (this.used + bytes > this.maxBytes && this.used - held > 0) {
      throw new FirnError(
        ErrorCode.Unavailable,
        `gateway is busy: ingest requests in flight hold ${this.used} bytes, the budget is ${this.maxBytes}; retry shortly`,
        {
          details: { limit: 'max_inflight_bytes', retry_after_seconds: 1 },
        },
      );
    }
    this.used += bytes;
  }

  release(bytes: number): void {
    this.used -= bytes;
  }
}

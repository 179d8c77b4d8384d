export interface RetryOptions {
  /** Total attempts including the first; 1 means no retry. */
  attempts: number;
  shouldRetry(err: unknown): boolean;
  baseDelayMs?: number;
  maxDelayMs?: number;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Exponential backoff with full jitter, so clients that failed together don't retry together.
 * Only for failures the SDK's own retry strategy can't see (see S3Store).
 */
export async function withRetry<T>(fn: (attempt: number) => Promise<T>, opts: RetryOptions): Promise<T> {
  const base = opts.baseDelayMs ?? 100;
  const max = opts.maxDelayMs ?? 5_000;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (err) {
      if (attempt >= opts.attempts || !opts.shouldRetry(err)) throw err;
      await sleep(Math.random() * Math.min(max, base * 2 ** (attempt - 1)));
    }
  }
}

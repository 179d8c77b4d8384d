import { throwIfAborted } from './abort';

/**
 * Runs `fn` over `items` with at most `concurrency` calls in flight, results in input order.
 * Stops starting new calls after the first failure or once `signal` fires (calls already
 * running finish; their results are dropped) and rejects with that error.
 */
export async function mapBounded<T, R>(
  items: readonly T[],
  concurrency: number,
  fn: (item: T, index: number) => Promise<R>,
  signal?: AbortSignal,
): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  let failed = false;
  let firstError: unknown;
  const worker = async (): Promise<void> => {
    while (!failed && next < items.length) {
      throwIfAborted(signal);
      const i = next++;
      try {
        out[i] = await fn(items[i], i);
      } catch (err) {
        if (!failed) firstError = err;
        failed = true;
        return;
      }
    }
  };
  const n = Math.max(1, Math.min(Math.floor(concurrency) || 1, items.length));
  const settled = await Promise.allSettled(Array.from({ length: n }, () => worker()));
  if (failed) throw firstError;
  const aborted = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (aborted) throw aborted.reason;
  throwIfAborted(signal);
  return out;
}

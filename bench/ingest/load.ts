// Pushes requests with a fixed number in flight and records each one's ack latency.

export interface LoadResult {
  /** Milliseconds from sending a request to its response, in completion order. */
  latenciesMs: number[];
  wallSec: number;
  errors: number;
  firstError?: unknown;
}

/**
 * Runs `send(i)` for i in 0..count-1 with at most `concurrency` in flight (a closed loop, like
 * agents that wait for the ack before sending their next flush). Stops sending after the first
 * error, or when `deadlineMs` (absolute) passes.
 */
export async function runClosedLoop(count: number, concurrency: number, send: (i: number) => Promise<void>, deadlineMs: number): Promise<LoadResult> {
  const latenciesMs: number[] = [];
  let next = 0;
  let errors = 0;
  let firstError: unknown;
  const t0 = performance.now();
  const worker = async (): Promise<void> => {
    while (next < count && errors === 0) {
      if (Date.now() > deadlineMs) {
        errors++;
        firstError ??= new Error(`benchmark deadline passed with ${count - next} requests unsent`);
        return;
      }
      const i = next++;
      const start = performance.now();
      try {
        await send(i);
        latenciesMs.push(performance.now() - start);
      } catch (err) {
        errors++;
        firstError ??= err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, concurrency) }, worker));
  return { latenciesMs, wallSec: (performance.now() - t0) / 1000, errors, firstError };
}

/**
 * Sends request i at t0 + i / ratePerSec whatever is still in flight (an open loop, like a fleet
 * of agents on their own timers), so latency reflects the service at that load, not queueing
 * behind the benchmark's own backlog.
 */
export async function runOpenLoop(count: number, ratePerSec: number, send: (i: number) => Promise<void>, deadlineMs: number): Promise<LoadResult> {
  const latenciesMs: number[] = [];
  let errors = 0;
  let firstError: unknown;
  const t0 = performance.now();
  const inFlight: Array<Promise<void>> = [];
  for (let i = 0; i < count && errors === 0; i++) {
    if (Date.now() > deadlineMs) {
      errors++;
      firstError ??= new Error(`benchmark deadline passed with ${count - i} requests unsent`);
      break;
    }
    const wait = t0 + (i * 1000) / ratePerSec - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const start = performance.now();
    inFlight.push(
      send(i).then(
        () => void latenciesMs.push(performance.now() - start),
        (err: unknown) => {
          errors++;
          firstError ??= err;
        },
      ),
    );
  }
  await Promise.all(inFlight);
  return { latenciesMs, wallSec: (performance.now() - t0) / 1000, errors, firstError };
}

/** Nearest-rank percentile (q in 0..1) of unsorted values. */
export function percentile(values: number[], q: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[rank];
}

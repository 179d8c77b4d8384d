import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Calls `fn` every `intervalMs` until it returns a value (errors count as "not yet"); past the
 * deadline, throws naming what was awaited, the last error and `context()` (e.g. a process's log tail).
 */
export async function waitUntil<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs: number, context: () => string, intervalMs = 1000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}\n${context()}`);
    await sleep(intervalMs);
  }
}

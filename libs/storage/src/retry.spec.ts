import { describe, expect, it } from 'vitest';
import { withRetry } from './retry';

describe(withRetry.name, () => {
  it('retries retryable failures until an attempt succeeds', async () => {
    const attempts: number[] = [];
    const result = await withRetry(
      async (attempt) => {
        attempts.push(attempt);
        if (attempt < 3) throw new Error('transient');
        return 'ok';
      },
      { attempts: 5, shouldRetry: () => true, baseDelayMs: 1 },
    );
    expect(result).toBe('ok');
    expect(attempts).toEqual([1, 2, 3]);
  });

  it('gives up after the configured number of attempts with the last error', async () => {
    let calls = 0;
    const err = await withRetry(
      async (attempt) => {
        calls++;
        throw new Error(`failure ${attempt}`);
      },
      { attempts: 3, shouldRetry: () => true, baseDelayMs: 1 },
    ).catch((e: unknown) => e);
    expect(calls).toBe(3);
    expect((err as Error).message).toBe('failure 3');
  });

  it('does not retry errors the predicate rejects', async () => {
    let calls = 0;
    await expect(
      withRetry(
        async () => {
          calls++;
          throw new Error('permanent');
        },
        { attempts: 5, shouldRetry: () => false, baseDelayMs: 1 },
      ),
    ).rejects.toThrow('permanent');
    expect(calls).toBe(1);
  });
});

import { expect } from 'vitest';
import { FirnError } from '@firn/errors';

/** Test helper: `fn` must throw a FirnError invalid_argument whose message matches `re`. */
export function expectInvalid(fn: () => unknown, re: RegExp): void {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(FirnError);
    expect((err as FirnError).code).toBe('invalid_argument');
    expect((err as Error).message).toMatch(re);
    return;
  }
  throw new Error('expected a FirnError invalid_argument');
}

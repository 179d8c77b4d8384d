import { describe, expect, it } from 'vitest';
import { FirnError } from '@firn/errors';
import { normalizeBuildId } from './build-id';

describe(normalizeBuildId.name, () => {
  it('normalizes build ids and refuses what could escape a key', () => {
    expect(normalizeBuildId(' ABCDEF ')).toBe('abcdef');
    expect(() => normalizeBuildId('ab/../cd')).toThrow(FirnError);
  });
});

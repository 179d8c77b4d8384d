import { describe, expect, it } from 'vitest';
import { FirnError } from '@firn/errors';
import { compareKeys, validateListLimit, validateObjectKey, validateObjectPrefix, validateRange } from './object-key';

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
    return undefined;
  } catch (err) {
    return err instanceof FirnError ? err.code : 'not a FirnError';
  }
}

describe(validateObjectKey.name, () => {
  it('accepts plain slash-separated keys up to 1024 bytes', () => {
    for (const key of ['a', 'tenant-1/segments/2024/01/x.parquet', '.hidden', 'a..b/c', 'ü/日本', 'k'.repeat(1024)]) {
      expect(validateObjectKey(key)).toBe(key);
    }
  });

  it('rejects empty, absolute, dot-segment, empty-segment, control-character, backslash and long keys', () => {
    const bad = ['', '/a', '..', 'a/..', '../a', 'a/../b', '.', 'a/./b', 'a//b', 'a/', 'a\\b', 'a\u0000b', 'a\tb', 'a\u007fb'];
    for (const key of bad)
      expect(
        codeOf(() => validateObjectKey(key)),
        JSON.stringify(key),
      ).toBe('invalid_argument');
    // 1024 bytes is a byte limit: 342 three-byte characters is 1026 bytes.
    expect(codeOf(() => validateObjectKey('€'.repeat(342)))).toBe('invalid_argument');
    expect(codeOf(() => validateObjectKey(42))).toBe('invalid_argument');
  });

  it('names the offending key in the message', () => {
    expect(() => validateObjectKey('x/../y')).toThrow(/"x\/\.\.\/y"/);
  });
});

describe(validateObjectPrefix.name, () => {
  it('accepts empty prefixes, partial names and trailing slashes', () => {
    for (const p of ['', 'a', 'a/', 'a/b', 'a/b/', '.', '..x', 'a/..']) expect(validateObjectPrefix(p)).toBe(p);
  });

  it('rejects complete segments that are empty or dots, and absolute prefixes', () => {
    for (const p of ['/', '/a', 'a//', '../a', 'a/./b', 'a\\b']) {
      expect(
        codeOf(() => validateObjectPrefix(p)),
        JSON.stringify(p),
      ).toBe('invalid_argument');
    }
  });
});

describe(validateRange.name, () => {
  it('returns the exclusive end of a valid range', () => {
    expect(validateRange('k', 0, 0)).toBe(0);
    expect(validateRange('k', 10, 5)).toBe(15);
  });

  it('rejects negative and non-integer offsets and lengths', () => {
    for (const [o, l] of [
      [-1, 1],
      [0, -1],
      [0.5, 1],
      [0, Number.NaN],
      [0, Infinity],
    ]) {
      expect(codeOf(() => validateRange('k', o, l))).toBe('invalid_argument');
    }
  });
});

describe(validateListLimit.name, () => {
  it('defaults to 1000 and accepts 1..1000', () => {
    expect(validateListLimit(undefined)).toBe(1000);
    expect(validateListLimit(1)).toBe(1);
  });

  it('rejects limits outside 1..1000', () => {
    for (const l of [0, -5, 1001, 2.5]) expect(codeOf(() => validateListLimit(l))).toBe('invalid_argument');
  });
});

describe(compareKeys.name, () => {
  it('orders by UTF-8 bytes', () => {
    expect(compareKeys('a-b', 'a/b')).toBeLessThan(0);
    expect(compareKeys('\uFFFD', '\u{1F600}')).toBeLessThan(0);
    expect('\uFFFD' < '\u{1F600}').toBe(false);
    expect(compareKeys('same', 'same')).toBe(0);
  });
});

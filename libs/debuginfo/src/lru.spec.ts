import { describe, expect, it } from 'vitest';
import { SeenSet } from './lru';

describe(SeenSet.name, () => {
  it('remembers a key for ttlMs after it was added, however often it is hit', () => {
    const s = new SeenSet<string>(100, 1000);
    s.add('a', 0);
    expect(s.has('a', 500)).toBe(true);
    expect(s.has('a', 999)).toBe(true);
    expect(s.has('a', 1000)).toBe(false);
    expect(s.has('b', 0)).toBe(false);
  });

  it('holds at most maxEntries and keeps keys that are hit while older ones go', () => {
    const s = new SeenSet<number>(10);
    s.add(0, 0);
    for (let i = 1; i < 100; i++) {
      s.add(i, 0);
      expect(s.has(0, 0)).toBe(true);
      expect(s.size).toBeLessThanOrEqual(10);
    }
    expect(s.has(1, 0)).toBe(false);
    expect(s.has(99, 0)).toBe(true);
  });

  it('keeps the age limit of a key moved forward between generations', () => {
    const s = new SeenSet<string>(2, 1000);
    s.add('a', 0);
    s.add('b', 10); // 'a' is now in the previous generation
    expect(s.has('a', 900)).toBe(true);
    expect(s.has('a', 1000)).toBe(false);
  });

  it('forgets a deleted key in either generation', () => {
    const s = new SeenSet<string>(2);
    s.add('a', 0);
    s.add('b', 0);
    s.delete('a');
    s.delete('b');
    expect(s.has('a', 0)).toBe(false);
    expect(s.has('b', 0)).toBe(false);
  });
});

import { describe, expect, it } from 'vitest';
import { PerfMap } from './perf-map';

describe(PerfMap.name, () => {
  it('names addresses inside JIT entries; later entries at the same start win', () => {
    const map = PerfMap.parse(
      ['3a1c00 40 LazyCompile:*hot /app/x.js:3', '3a1d00 20 Builtin:Call', 'garbage', '3a1c00 40 LazyCompile:*hot2 /app/x.js:3', ''].join('\n'),
    );
    expect(map.size).toBe(3);
    expect(map.lookup(0x3a1c10n)).toBe('LazyCompile:*hot2 /app/x.js:3');
    expect(map.lookup(0x3a1d1fn)).toBe('Builtin:Call');
    expect(map.lookup(0x3a1d20n)).toBe('');
    expect(map.lookup(0x10n)).toBe('');
  });
});

import { describe, expect, it } from 'vitest';
import { formatValue } from './report-format';

describe(formatValue.name, () => {
  it('scales time and bytes the way go tool pprof reads, and leaves counts as they are', () => {
    expect(formatValue(3_000_000_000, 'nanoseconds')).toBe('3s');
    expect(formatValue(1_500_000_000, 'nanoseconds')).toBe('1.5s');
    expect(formatValue(10_000_000, 'nanoseconds')).toBe('10ms');
    expect(formatValue(1_234, 'nanoseconds')).toBe('1.23us');
    expect(formatValue(12, 'nanoseconds')).toBe('12ns');
    expect(formatValue(0, 'nanoseconds')).toBe('0');
    expect(formatValue(5 * 2 ** 20 + 2 ** 19, 'bytes')).toBe('5.5MiB');
    expect(formatValue(512, 'bytes')).toBe('512B');
    expect(formatValue(1234567, 'count')).toBe('1234567');
  });
});

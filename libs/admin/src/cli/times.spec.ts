import { describe, expect, it } from 'vitest';
import { UsageError } from './args';
import { parseRange, parseTime } from './times';

const NOW = Date.UTC(2025, 0, 2, 12, 0, 0);

describe(parseTime.name, () => {
  it('reads RFC 3339, unix seconds and milliseconds, now and relative times', () => {
    expect(parseTime('2025-01-02T10:30:00Z', NOW, 't')).toBe(Date.UTC(2025, 0, 2, 10, 30));
    expect(parseTime('2025-01-02T10:30:00.250+02:00', NOW, 't')).toBe(Date.UTC(2025, 0, 2, 8, 30, 0, 250));
    expect(parseTime('2025-01-02 10:30:00.123456789Z', NOW, 't')).toBe(Date.UTC(2025, 0, 2, 10, 30, 0, 123));
    expect(parseTime('1735813800', NOW, 't')).toBe(1_735_813_800_000);
    expect(parseTime('1735813800.5', NOW, 't')).toBe(1_735_813_800_500);
    expect(parseTime('1735813800123', NOW, 't')).toBe(1_735_813_800_123);
    expect(parseTime('now', NOW, 't')).toBe(NOW);
    expect(parseTime('now-1h', NOW, 't')).toBe(NOW - 3_600_000);
    expect(parseTime('now-1h30m', NOW, 't')).toBe(NOW - 5_400_000);
    expect(parseTime('now+5m', NOW, 't')).toBe(NOW + 300_000);
    expect(parseTime('now-2d', NOW, 't')).toBe(NOW - 2 * 86_400_000);
  });

  it('refuses anything else with a usage error naming the flag', () => {
    for (const bad of ['yesterday', '', 'now-', 'now-1x', '2025-01-02', '2025-13-45T99:99:99Z', '-5', '1e12']) {
      expect(() => parseTime(bad, NOW, '--from'), bad).toThrow(UsageError);
      expect(() => parseTime(bad, NOW, '--from'), bad).toThrow(/^--from: /);
    }
    expect(() => parseTime('now-3600', NOW, '--from')).toThrow(/needs a unit/);
  });
});

describe(parseRange.name, () => {
  it('applies defaults and requires the end after the start', () => {
    expect(parseRange(undefined, undefined, NOW, { from: 'now-1h', to: 'now' })).toEqual({ startMs: NOW - 3_600_000, endMs: NOW });
    expect(() => parseRange('now', 'now', NOW, { from: 'now-1h', to: 'now' })).toThrow(/--to .* must be after --from/);
  });
});

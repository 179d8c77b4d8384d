import { describe, expect, it } from 'vitest';
import { duration, formatDuration, parseDuration } from './duration';

describe(parseDuration.name, () => {
  it('reads units, compounds and plain ms', () => {
    expect(parseDuration('30d')).toBe(30 * 86_400_000);
    expect(parseDuration('1h30m')).toBe(5_400_000);
    expect(parseDuration('500ms')).toBe(500);
    expect(parseDuration('0')).toBe(0);
    expect(parseDuration('2500')).toBe(2500);
  });

  it('reads a bare number in the unit a setting was named for', () => {
    expect(parseDuration('3600', 's')).toBe(3_600_000);
    expect(parseDuration('744', 'h')).toBe(744 * 3_600_000);
    expect(parseDuration('90s', 'h')).toBe(90_000);
  });

  it('rejects anything else', () => {
    for (const bad of ['', '3 days', '1x', 'h', '-1d', '1.5h']) expect(() => parseDuration(bad)).toThrow(/not a duration/);
  });
});

describe(formatDuration.name, () => {
  it('writes the largest exact unit, and round-trips', () => {
    expect(formatDuration(30 * 86_400_000)).toBe('30d');
    expect(formatDuration(90_000)).toBe('90s');
    expect(formatDuration(1500)).toBe('1500ms');
    expect(formatDuration(0)).toBe('0');
    for (const ms of [0, 1, 999, 60_000, 5_400_000, 7 * 86_400_000]) expect(parseDuration(formatDuration(ms))).toBe(ms);
  });
});

describe(duration.name, () => {
  it('takes strings and numbers (a file may hold either), in ms', () => {
    const d = duration();
    expect(d.parse('30s')).toBe(30_000);
    expect(d.parse(2500)).toBe(2500);
    expect(d.parse('0')).toBe(0);
    expect(duration({ bare: 's' }).parse('60')).toBe(60_000);
  });

  it('names the expected form, and refuses 0 when it must be positive', () => {
    expect(duration().safeParse('a month').error?.issues[0]?.message).toMatch(/duration like 30d.*milliseconds/);
    expect(duration({ bare: 'h' }).safeParse('soon').error?.issues[0]?.message).toMatch(/bare number is hours/);
    expect(duration({ positive: true }).safeParse('0').success).toBe(false);
    expect(duration().safeParse(-5).success).toBe(false);
  });
});

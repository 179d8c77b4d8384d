import { describe, expect, it } from 'vitest';
import { clipToRetention } from './retention-clip';

const H = 3_600_000;
const NOW = 100 * H;

describe(clipToRetention.name, () => {
  it('leaves a range alone without retention or when it is wholly retained', () => {
    const r = { startMs: 10 * H, endMs: 20 * H };
    expect(clipToRetention(r, 0, NOW)).toBe(r);
    expect(clipToRetention(r, 95 * H, NOW)).toBe(r);
  });

  it('moves the start to the retention cutoff', () => {
    expect(clipToRetention({ startMs: 10 * H, endMs: 99 * H, selector: 's' }, 24 * H, NOW)).toEqual({ startMs: 76 * H, endMs: 99 * H, selector: 's' });
  });

  it('moves the start by whole steps, so buckets keep their boundaries', () => {
    const out = clipToRetention({ startMs: 7, endMs: NOW }, NOW - 1000, NOW, 300);
    expect(out.startMs).toBe(7 + 4 * 300);
    expect((out.startMs - 7) % 300).toBe(0);
    expect(out.startMs).toBeGreaterThanOrEqual(1000);
  });

  it('keeps a one-millisecond range when the whole range is past retention', () => {
    expect(clipToRetention({ startMs: 10 * H, endMs: 20 * H }, 24 * H, NOW)).toEqual({ startMs: 20 * H - 1, endMs: 20 * H });
  });
});

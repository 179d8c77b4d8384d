import { describe, expect, it } from 'vitest';
import { compareLabelSets, compareStrings, seriesKeyOf } from './label-order';

describe(compareStrings.name, () => {
  it('orders by code point (UTF-8 bytes), unlike UTF-16 comparison', () => {
    const astral = '😀'; // U+1F600, surrogate pair in UTF-16
    const bmpHigh = '\uFFFD';
    expect(astral < bmpHigh).toBe(true); // what plain JS comparison says
    expect(compareStrings(astral, bmpHigh)).toBeGreaterThan(0);
    expect(Buffer.compare(Buffer.from(astral), Buffer.from(bmpHigh))).toBeGreaterThan(0);
  });

  it('agrees with byte order on mixed strings', () => {
    const words = ['b', 'a', 'ab', '', 'ä', 'z😀', 'z\uFFFD', 'zz', 'A', '\u0000'];
    const ours = [...words].sort(compareStrings);
    const bytes = [...words].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));
    expect(ours).toEqual(bytes);
  });
});

describe(compareLabelSets.name, () => {
  it('compares pair by pair, names before values, prefixes first', () => {
    expect(compareLabelSets([], [['a', '1']])).toBeLessThan(0);
    expect(
      compareLabelSets(
        [['a', '2']],
        [
          ['a', '1'],
          ['b', '1'],
        ],
      ),
    ).toBeGreaterThan(0);
    expect(compareLabelSets([['a', '1']], [['b', '0']])).toBeLessThan(0);
    expect(
      compareLabelSets(
        [
          ['a', '1'],
          ['b', '2'],
        ],
        [
          ['a', '1'],
          ['b', '2'],
        ],
      ),
    ).toBe(0);
  });
});

describe(seriesKeyOf.name, () => {
  it('is unambiguous for values containing separators', () => {
    expect(seriesKeyOf([['a', 'x,b=y']])).not.toBe(
      seriesKeyOf([
        ['a', 'x'],
        ['b', 'y'],
      ]),
    );
  });
});

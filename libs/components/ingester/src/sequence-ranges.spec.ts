import { describe, expect, it } from 'vitest';
import { toSequenceRanges } from './sequence-ranges';

describe(toSequenceRanges.name, () => {
  it('merges consecutive and duplicate sequences into ranges', () => {
    const r = toSequenceRanges('S', [7, 3, 4, 5, 5, 9, 10]).map((x) => [x.stream, Number(x.first), Number(x.last)]);
    expect(r).toEqual([
      ['S', 3, 5],
      ['S', 7, 7],
      ['S', 9, 10],
    ]);
  });

  it('returns nothing for no sequences', () => {
    expect(toSequenceRanges('S', [])).toEqual([]);
  });
});

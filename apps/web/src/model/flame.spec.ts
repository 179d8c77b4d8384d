import { describe, expect, it } from 'vitest';
import { buildFlame, nodeAt, nodeByPath, pathOf, search, selfDiff, type Flame } from './flame';
import { sandwich } from './sandwich';
import { sortRows, topTable } from './table';

// root(100) → main(100) → { work(90) → { hot(60), cold(20) }, idle(10) }; work also calls main (recursion): work → main(5)
export function sample(): Flame {
  const names = ['total', 'main', 'work', 'idle', 'hot', 'cold'];
  return buildFlame({
    parent: [-1, 0, 1, 1, 2, 2, 2],
    total: [100, 100, 90, 10, 60, 20, 5],
    self: [0, 0, 5, 10, 60, 20, 5],
    name: [0, 1, 2, 3, 4, 5, 1],
    names,
    unit: 'count',
  });
}

describe(buildFlame.name, () => {
  it('does lay out children left to right inside their parent', () => {
    const f = sample();
    expect([...f.offset]).toEqual([0, 0, 0, 90, 0, 60, 80]);
    expect([...f.depth]).toEqual([0, 1, 2, 2, 3, 3, 3]);
    expect([...f.depthStart]).toEqual([0, 1, 2, 4, 7]);
  });

  it('does refuse rows that are not breadth-first', () => {
    expect(() => buildFlame({ parent: [-1, 2, 0], total: [1, 1, 1], self: [0, 0, 0], name: [0, 0, 0], names: ['x'], unit: '' })).toThrow(/before its parent/);
  });
});

describe(nodeAt.name, () => {
  it('does find the node under x at a depth', () => {
    const f = sample();
    expect(nodeAt(f, 3, 10)).toBe(4);
    expect(nodeAt(f, 3, 61)).toBe(5);
    expect(nodeAt(f, 3, 82)).toBe(6);
    expect(nodeAt(f, 3, 95)).toBe(-1);
    expect(nodeAt(f, 2, 95)).toBe(3);
    expect(nodeAt(f, 9, 1)).toBe(-1);
  });
});

describe(pathOf.name, () => {
  it('does round-trip a node through its name path', () => {
    const f = sample();
    expect(pathOf(f, 5)).toEqual(['main', 'work', 'cold']);
    expect(nodeByPath(f, ['main', 'work', 'cold'])).toBe(5);
    expect(nodeByPath(f, [])).toBe(0);
    expect(nodeByPath(f, ['main', 'nope'])).toBe(-1);
  });
});

describe(search.name, () => {
  it('does count nested matches once', () => {
    const f = sample();
    const r = search(f, '^main$');
    expect(r?.count).toBe(2);
    expect(r?.matchedTotal).toBe(100);
    expect(search(f, 'o')?.matchedTotal).toBe(90); // work, with hot and cold under it
    expect(search(f, '(')?.count).toBe(0); // an invalid regex is searched as text
  });
});

describe(topTable.name, () => {
  it('does sum self and count recursive totals once', () => {
    const rows = sortRows(topTable(sample()), 'self', true);
    expect(rows.map((r) => [r.label, r.self, r.total])).toEqual([
      ['hot', 60, 60],
      ['cold', 20, 20],
      ['idle', 10, 10],
      ['main', 5, 100],
      ['work', 5, 90],
    ]);
  });

  it('does carry diffs per function', () => {
    const base = sample();
    const f = buildFlame({
      parent: base.parent,
      total: base.total,
      self: base.self,
      name: base.name,
      names: base.names,
      unit: '',
      diff: [10, 10, 10, 0, 30, -20, 0],
    });
    expect([...(selfDiff(f) as Float64Array)]).toEqual([0, 0, 0, 0, 30, -20, 0]);
    const hot = topTable(f).find((r) => r.label === 'hot');
    expect(hot).toMatchObject({ totalDiff: 30, selfDiff: 30 });
  });
});

describe(sandwich.name, () => {
  it('does gather callers and callees of a function', () => {
    const f = sample();
    const s = sandwich(f, f.names.indexOf('work'));
    expect(s).toBeDefined();
    const { callers, callees } = s as NonNullable<typeof s>;
    expect(callers.names[callers.name[0]]).toBe('work');
    expect(callers.total[0]).toBe(90);
    expect(pathOf(callers, 1)).toEqual(['main']);
    expect(callees.total[0]).toBe(90);
    expect(
      topTable(callees)
        .map((r) => [r.label, r.total])
        .sort(),
    ).toEqual([
      ['cold', 20],
      ['hot', 60],
      ['main', 5],
    ]);
  });
});

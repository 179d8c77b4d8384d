import { describe, expect, it } from 'vitest';
import { applyCompletion, contextAt, normalizeSelector, preferredProfileType, withoutLabel } from './selector';

describe(contextAt.name, () => {
  it('does find label names after { and , and values inside quotes', () => {
    expect(contextAt('{', 1)).toEqual({ kind: 'name', partial: '', from: 1 });
    expect(contextAt('{no', 3)).toEqual({ kind: 'name', partial: 'no', from: 1 });
    expect(contextAt('{node="a", po', 13)).toEqual({ kind: 'name', partial: 'po', from: 11 });
    expect(contextAt('{node=~"ab', 10)).toEqual({ kind: 'value', label: 'node', partial: 'ab', from: 8 });
    expect(contextAt('{node="a"', 9)).toEqual({ kind: 'none' });
    expect(contextAt('node', 4)).toEqual({ kind: 'name', partial: 'node', from: 0 });
  });
});

describe(applyCompletion.name, () => {
  it('does insert a name ready for its value, then close the value', () => {
    const a = applyCompletion('{no}', 3, contextAt('{no}', 3), 'node');
    expect(a).toEqual({ text: '{node="}', caret: 7 });
    const b = applyCompletion(a.text, a.caret, contextAt(a.text, a.caret), 'host "1"');
    expect(b.text).toBe('{node="host \\"1\\""}');
  });
});

describe(normalizeSelector.name, () => {
  it('does add braces', () => {
    expect(normalizeSelector('')).toBe('{}');
    expect(normalizeSelector('a="b"')).toBe('{a="b"}');
    expect(normalizeSelector('{a="b"')).toBe('{a="b"}');
  });
});

describe(withoutLabel.name, () => {
  it('does drop one label and unfinished matchers', () => {
    expect(withoutLabel('{a="1", b=~"x,y", c="', 'a')).toBe('{b=~"x,y"}');
  });
});

describe(preferredProfileType.name, () => {
  it('does prefer the agent CPU type', () => {
    expect(preferredProfileType(['app:alloc:bytes::', 'demo:cpu:nanoseconds:cpu:nanoseconds', 'parca_agent:samples:count:cpu:nanoseconds:delta'])).toBe(
      'parca_agent:samples:count:cpu:nanoseconds:delta',
    );
  });
});

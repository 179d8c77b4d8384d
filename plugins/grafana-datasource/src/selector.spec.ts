import { describe, expect, it } from 'vitest';
import { formatMatchers, parseMatchers, profileTypeParts, scopedSelector, splitSelector } from './selector';

describe(parseMatchers.name, () => {
  it('does read every matcher operator and quoting style', () => {
    expect(parseMatchers('{namespace="checkout", pod!="a-1",node=~"n.*" , comm!~\'x|y\'}')).toEqual([
      { name: 'namespace', op: '=', value: 'checkout' },
      { name: 'pod', op: '!=', value: 'a-1' },
      { name: 'node', op: '=~', value: 'n.*' },
      { name: 'comm', op: '!~', value: 'x|y' },
    ]);
  });

  it('does unescape quoted values and accept empty selectors', () => {
    expect(parseMatchers('{a="say \\"hi\\"", b="c:\\\\tmp"}')).toEqual([
      { name: 'a', op: '=', value: 'say "hi"' },
      { name: 'b', op: '=', value: 'c:\\tmp' },
    ]);
    expect(parseMatchers('{}')).toEqual([]);
    expect(parseMatchers('')).toEqual([]);
    expect(parseMatchers('{a="b",}')).toEqual([{ name: 'a', op: '=', value: 'b' }]);
  });

  it('does refuse what it cannot show as rows', () => {
    for (const bad of ['{a=b}', 'namespace="x"', '{a="b" c="d"}', '{1a="b"}', '{a="unterminated}', 'type{a="b"}']) {
      expect(parseMatchers(bad), bad).toBeUndefined();
    }
  });

  it('does round-trip through formatMatchers', () => {
    const ms = parseMatchers('{a="x\\"y", b=~"1|2"}') ?? [];
    expect(formatMatchers(ms)).toBe('{a="x\\"y", b=~"1|2"}');
    expect(parseMatchers(formatMatchers(ms))).toEqual(ms);
  });
});

describe(splitSelector.name, () => {
  it('does split a Parca-style selector into profile type and labels', () => {
    expect(splitSelector('parca_agent:samples:count:cpu:nanoseconds:delta{node="n1"}')).toEqual({
      profileTypeId: 'parca_agent:samples:count:cpu:nanoseconds:delta',
      labelSelector: '{node="n1"}',
    });
    expect(splitSelector('process_cpu:cpu:nanoseconds:cpu:nanoseconds')).toEqual({
      profileTypeId: 'process_cpu:cpu:nanoseconds:cpu:nanoseconds',
      labelSelector: '{}',
    });
  });

  it('does leave Pyroscope-style selectors alone', () => {
    expect(splitSelector(' {a="b"} ')).toEqual({ labelSelector: '{a="b"}' });
    expect(splitSelector('{a="x:y:z:w:v"}')).toEqual({ labelSelector: '{a="x:y:z:w:v"}' });
  });
});

describe(scopedSelector.name, () => {
  it('does add the profile type as __profile_type__', () => {
    expect(scopedSelector('p:c:n:c:n', '{a="b"}')).toBe('{__profile_type__="p:c:n:c:n", a="b"}');
    expect(scopedSelector(undefined, '{a="b"}')).toBe('{a="b"}');
    expect(scopedSelector(undefined, undefined)).toBe('{}');
  });
});

describe(profileTypeParts.name, () => {
  it('does name the parts of a profile type id', () => {
    expect(profileTypeParts('parca_agent:samples:count:cpu:nanoseconds:delta')).toEqual({
      name: 'parca_agent',
      sampleType: 'samples',
      sampleUnit: 'count',
      periodType: 'cpu',
      periodUnit: 'nanoseconds',
    });
    expect(profileTypeParts('cpu')).toBeUndefined();
  });
});

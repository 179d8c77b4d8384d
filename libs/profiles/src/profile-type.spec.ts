import { expectInvalid as invalid } from './expect-invalid';
import { describe, expect, it } from 'vitest';
import { formatProfileType, isDeltaSampleType, matchesLabels, parseMatchers, parseProfileType, parseSelector } from './profile-type';

describe(parseProfileType.name, () => {
  it('parses and formats Parca and Pyroscope ids', () => {
    const t = parseProfileType('parca_agent:samples:count:cpu:nanoseconds:delta');
    expect(t).toEqual({ name: 'parca_agent', sampleType: 'samples', sampleUnit: 'count', periodType: 'cpu', periodUnit: 'nanoseconds', delta: true });
    expect(formatProfileType(t)).toBe('parca_agent:samples:count:cpu:nanoseconds:delta');
    const p = parseProfileType('memory:inuse_space:bytes:space:bytes');
    expect(p.delta).toBe(false);
    expect(formatProfileType(p)).toBe('memory:inuse_space:bytes:space:bytes');
    expect(parseProfileType('process_cpu:samples:count::milliseconds').periodType).toBe('');
  });

  it('rejects malformed ids naming the problem', () => {
    invalid(() => parseProfileType('a:b:c'), /3 parts/);
    invalid(() => parseProfileType('a:b:c:d:e:nodelta'), /"delta"/);
    invalid(() => parseProfileType(':b:c:d:e'), /empty name/);
    invalid(() => parseProfileType('a::c:d:e'), /empty sample type/);
    invalid(() => parseProfileType('a:b{:c:d:e'), /brace/);
  });
});

describe(parseSelector.name, () => {
  it('parses all four operators, quotes and escapes', () => {
    const s = parseSelector(`process_cpu:cpu:nanoseconds:cpu:nanoseconds:delta{a="x", b!='y', c=~"fo+|ba\\\\d", d!~\`z.*\`, e="q\\"uote"}`);
    expect(s.profileType.name).toBe('process_cpu');
    expect(s.matchers.map(({ name, op, value }) => [name, op, value])).toEqual([
      ['a', '=', 'x'],
      ['b', '!=', 'y'],
      ['c', '=~', 'fo+|ba\\d'],
      ['d', '!~', 'z.*'],
      ['e', '=', 'q"uote'],
    ]);
  });

  it('accepts a bare profile type, empty braces and a trailing comma', () => {
    expect(parseSelector('a:b:c:d:e').matchers).toEqual([]);
    expect(parseSelector('a:b:c:d:e{}').matchers).toEqual([]);
    expect(parseSelector('a:b:c:d:e{x="1",}').matchers).toHaveLength(1);
  });

  it('anchors regexes like Prometheus', () => {
    const [m] = parseMatchers('{job=~"api"}');
    expect(matchesLabels([m], [['job', 'api']])).toBe(true);
    expect(matchesLabels([m], [['job', 'api-2']])).toBe(false);
    expect(matchesLabels([m], [['job', 'my-api']])).toBe(false);
    const [n] = parseMatchers('{job!~"a.*"}');
    expect(matchesLabels([n], [['job', 'b']])).toBe(true);
    expect(matchesLabels([n], [['job', 'abc']])).toBe(false);
  });

  it('treats an absent label as the empty string', () => {
    expect(matchesLabels(parseMatchers('{x=""}'), [])).toBe(true);
    expect(matchesLabels(parseMatchers('{x!=""}'), [])).toBe(false);
    expect(matchesLabels(parseMatchers('{x!="a"}'), [['y', 'a']])).toBe(true);
  });

  it('rejects bad syntax and invalid regexes with invalid_argument', () => {
    invalid(() => parseSelector('{a="b"}'), /missing profile type/);
    invalid(() => parseSelector('a:b:c:d:e{a="b"'), /expected "," or "}"/);
    invalid(() => parseSelector('a:b:c:d:e{1a="b"}'), /invalid label name/);
    invalid(() => parseSelector('a:b:c:d:e{a=b}'), /quoted/);
    invalid(() => parseSelector('a:b:c:d:e{a="b} x'), /unterminated/);
    invalid(() => parseSelector('a:b:c:d:e{a=~"(unclosed"}'), /invalid regex for label "a"/);
    invalid(() => parseSelector('a:b:c:d:e{a="b"} trailing'), /unexpected text/);
  });
});

describe(isDeltaSampleType.name, () => {
  it('marks cpu, allocations and contention as delta, snapshots not', () => {
    expect(isDeltaSampleType('samples', 'cpu')).toBe(true);
    expect(isDeltaSampleType('alloc_space', 'space')).toBe(true);
    expect(isDeltaSampleType('inuse_space', 'space')).toBe(false);
    expect(isDeltaSampleType('delay', 'contentions')).toBe(true);
    expect(isDeltaSampleType('goroutine', 'goroutine')).toBe(false);
  });
});

import { describe, expect, it } from 'vitest';
import { FirnError } from '@firn/errors';
import { engineSelector, parsePyroscopeSelectors, privateLabelsOf, pyroscopeId, typeMatches } from './pyroscope-selection';

const CPU = 'process_cpu:cpu:nanoseconds:cpu:nanoseconds:delta';
const WALL = 'wall:wall:nanoseconds:wall:nanoseconds:delta';
const HEAP = 'memory:inuse_space:bytes:inuse_space:bytes';

describe(parsePyroscopeSelectors.name, () => {
  it("reads the selector shapes Grafana's Pyroscope data source sends", () => {
    // Query editor and health: `{}` and ''; variables: `<profile type id>{}`; label editor:
    // `{__profile_type__="…", service_name="…"}`; older editors: `<id>{service_name="…"}`.
    expect(parsePyroscopeSelectors(['{}'])).toEqual({ typeMatchers: [], matchers: [] });
    expect(parsePyroscopeSelectors([''])).toEqual({ typeMatchers: [], matchers: [] });
    expect(parsePyroscopeSelectors(['process_cpu:cpu:nanoseconds:cpu:nanoseconds{}']).typeMatchers).toEqual([
      { name: '__profile_type__', op: '=', value: 'process_cpu:cpu:nanoseconds:cpu:nanoseconds' },
    ]);
    const both = parsePyroscopeSelectors(['{__profile_type__="wall:wall:nanoseconds:wall:nanoseconds", service_name=~"api|web"}']);
    expect(both.typeMatchers.map((m) => m.name)).toEqual(['__profile_type__']);
    expect(both.matchers.map((m) => [m.name, m.op, m.value])).toEqual([['service_name', '=~', 'api|web']]);
    expect(parsePyroscopeSelectors(['memory{env="prod"}']).typeMatchers).toEqual([{ name: '__name__', op: '=', value: 'memory' }]);
    // A profile type id with empty period parts (Pyroscope's own ids have them).
    expect(parsePyroscopeSelectors(['process_cpu:samples:count::milliseconds{}']).typeMatchers[0].value).toBe('process_cpu:samples:count::milliseconds');
  });

  it('names what is wrong with a bad selector', () => {
    expect(() => parsePyroscopeSelectors(['a:b{}'])).toThrow(FirnError);
    expect(() => parsePyroscopeSelectors(['a:b{}'])).toThrow(/neither a profile name nor a profile type id/);
    expect(() => parsePyroscopeSelectors(['{service_name="x"'])).toThrow(/invalid label matchers/);
  });
});

describe(typeMatches.name, () => {
  it('matches private labels derived from the stored profile type', () => {
    expect(typeMatches(CPU, parsePyroscopeSelectors(['process_cpu:cpu:nanoseconds:cpu:nanoseconds{}']).typeMatchers)).toBe(true);
    expect(typeMatches(WALL, parsePyroscopeSelectors(['process_cpu:cpu:nanoseconds:cpu:nanoseconds{}']).typeMatchers)).toBe(false);
    expect(typeMatches(HEAP, parsePyroscopeSelectors(['{__name__="memory", __type__=~"inuse_.*"}']).typeMatchers)).toBe(true);
    expect(typeMatches(HEAP, parsePyroscopeSelectors(['{__unit__!="bytes"}']).typeMatchers)).toBe(false);
  });

  it('lists the private labels of a type without the delta suffix', () => {
    expect(pyroscopeId(CPU)).toBe('process_cpu:cpu:nanoseconds:cpu:nanoseconds');
    expect(Object.fromEntries(privateLabelsOf(WALL))).toEqual({
      __name__: 'wall',
      __period_type__: 'wall',
      __period_unit__: 'nanoseconds',
      __profile_type__: 'wall:wall:nanoseconds:wall:nanoseconds',
      __type__: 'wall',
      __unit__: 'nanoseconds',
    });
    expect(engineSelector(CPU, [{ name: 'a', op: '=~', value: 'x\\d' }])).toBe(`${CPU}{a=~"x\\\\d"}`);
  });
});

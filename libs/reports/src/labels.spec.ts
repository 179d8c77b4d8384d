import { describe, expect, it } from 'vitest';
import { frameLabel, pyroscopeFrameName } from './labels';
import { F } from './test-profiles';

describe(frameLabel.name, () => {
  it('prefixes the mapping basename and falls back to the hex address', () => {
    expect(frameLabel(F.main)).toBe('[app] main');
    expect(frameLabel(F.unsym)).toBe('[libc.so.6] 0xabc');
    expect(frameLabel({ ...F.unsym, mappingFile: '' })).toBe('0xabc');
    expect(frameLabel({ ...F.main, mappingFile: '' })).toBe('main');
  });
});

describe(pyroscopeFrameName.name, () => {
  it('uses the function name, else binary!0xaddr', () => {
    expect(pyroscopeFrameName(F.main)).toBe('main');
    expect(pyroscopeFrameName(F.unsym)).toBe('libc.so.6!0xabc');
    expect(pyroscopeFrameName({ ...F.unsym, mappingFile: '' })).toBe('unknown!0xabc');
  });
});

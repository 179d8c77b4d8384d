import { describe, expect, it } from 'vitest';
import { UsageError, checkFlags, flag, flagList, parseArgs } from './args';

describe(parseArgs.name, () => {
  it('splits positional words, valued flags (both spellings), repeats, switches and short forms', () => {
    const a = parseArgs(['profile', 'push', 'f.pb', '--label', 'a=b', '--label=c=d', '--json', '-o', 'out', '--from', '-1', '-h']);
    expect(a.positional).toEqual(['profile', 'push', 'f.pb']);
    expect(flagList(a, 'label')).toEqual(['a=b', 'c=d']);
    expect(flag(a, 'output')).toBe('out');
    expect(flag(a, 'from')).toBe('-1');
    expect([...a.switches]).toEqual(['json', 'help']);
  });

  it('refuses a flag without its value, a value on a switch, unknown short flags and repeats of single flags', () => {
    expect(() => parseArgs(['--url'])).toThrow(/flag --url needs a value/);
    expect(() => parseArgs(['--json=yes'])).toThrow(/takes no value/);
    expect(() => parseArgs(['-x'])).toThrow(UsageError);
    expect(() => flag(parseArgs(['--to', '1', '--to', '2']), 'to')).toThrow(/given more than once/);
    expect(() => checkFlags(parseArgs(['--lable', 'x']), ['label'], 'profile push')).toThrow('unknown flag --lable for "firn profile push"');
  });
});

import { describe, expect, it } from 'vitest';
import { findMapping, isFileMapping, parseProcMaps, parseStartTime } from './proc-maps';

const MAPS = `55d4c8a00000-55d4c8a01000 r--p 00000000 fd:01 1311 /usr/bin/hot cold
55d4c8a01000-55d4c8a02000 r-xp 00001000 fd:01 1311 /usr/bin/hot cold
7f0000000000-7f0000021000 rw-p 00000000 00:00 0
7ffd1e1f0000-7ffd1e1f2000 r-xp 00000000 00:00 0                          [vdso]
garbage line`;

describe(parseProcMaps.name, () => {
  it('parses mappings, paths with spaces and pseudo files', () => {
    const maps = parseProcMaps(MAPS);
    expect(maps).toHaveLength(4);
    expect(maps[1]).toEqual({
      start: 0x55d4c8a01000n,
      end: 0x55d4c8a02000n,
      perms: 'r-xp',
      offset: 0x1000n,
      dev: 'fd:01',
      inode: 1311,
      path: '/usr/bin/hot cold',
    });
    expect(maps[2].path).toBe('');
    expect(maps[3].path).toBe('[vdso]');
    expect(maps.map(isFileMapping)).toEqual([true, true, false, false]);
  });

  it('keeps only code mappings when asked', () => {
    const maps = parseProcMaps(MAPS, { executableOnly: true });
    expect(maps.map((m) => m.path)).toEqual(['/usr/bin/hot cold', '[vdso]']);
  });

  it('finds the mapping holding an address (end exclusive)', () => {
    const maps = parseProcMaps(MAPS);
    expect(findMapping(maps, 0x55d4c8a01234n)?.offset).toBe(0x1000n);
    expect(findMapping(maps, 0x55d4c8a02000n)).toBeUndefined();
    expect(findMapping(maps, 0x7ffd1e1f0001n)?.path).toBe('[vdso]');
    expect(findMapping(maps, 1n)).toBeUndefined();
  });
});

describe(parseStartTime.name, () => {
  it('reads field 22 even when comm has spaces and parentheses', () => {
    const stat = '4242 (my (odd) prog) S 1 4242 4242 0 -1 4194304 100 0 0 0 5 3 0 0 20 0 1 0 987654 1000000 200';
    expect(parseStartTime(stat)).toBe('987654');
  });
});

import { describe, expect, it } from 'vitest';
import { cleanFunctionName, parseAddr2lineOutput } from './addr2line-output';

describe(parseAddr2lineOutput.name, () => {
  it('reads elfutils inline chains innermost first, with columns', () => {
    const out = [
      '0x0000000000001175',
      'ns::Box<int>::get() const inlined at /src/b.cpp:15:16 in ns::work(int)',
      '/src/b.cpp:9:43',
      'ns::work(int)',
      '/src/b.cpp:15:16',
      '0x0000000000001160',
      'ns::work(int)',
      '/src/b.cpp:13',
      '',
    ].join('\n');
    expect(parseAddr2lineOutput(out, [0x1175n, 0x1160n], 'elfutils')).toEqual([
      [
        { functionName: 'ns::Box<int>::get() const', fileName: '/src/b.cpp', line: 9, inlined: true },
        { functionName: 'ns::work(int)', fileName: '/src/b.cpp', line: 15, inlined: false },
      ],
      [{ functionName: 'ns::work(int)', fileName: '/src/b.cpp', line: 13, inlined: false }],
    ]);
  });

  it('reads binutils locations with discriminators and unknown lines', () => {
    const out = ['0x10', 'f', '/a/b.c:7 (discriminator 3)', '0x20', 'g', '??:?', '0x30', '??', '??:0', ''].join('\n');
    expect(parseAddr2lineOutput(out, [0x10n, 0x20n, 0x30n], 'binutils')).toEqual([
      [{ functionName: 'f', fileName: '/a/b.c', line: 7, inlined: false }],
      [{ functionName: 'g', fileName: '', line: 0, inlined: false }],
      [],
    ]);
  });

  it('keeps colons inside file names', () => {
    const out = ['0x10', 'f', 'C:/x:y/b.c:7:2', ''].join('\n');
    expect(parseAddr2lineOutput(out, [0x10n], 'elfutils')[0][0]).toMatchObject({ fileName: 'C:/x:y/b.c', line: 7 });
  });

  it('gives no frames rather than shifted ones when the output does not line up', () => {
    const out = ['0x10', 'f', 'a.c:1', '0x99', 'g', 'a.c:2', ''].join('\n');
    expect(parseAddr2lineOutput(out, [0x10n, 0x20n], 'elfutils')).toEqual([[], []]);
    const ok = ['0x10', 'f', 'a.c:1', '0x20', 'g', 'a.c:2', ''].join('\n');
    expect(parseAddr2lineOutput(ok, [0x10n, 0x20n], 'elfutils').map((f) => f.length)).toEqual([1, 1]);
    expect(parseAddr2lineOutput('', [0x10n], 'elfutils')).toEqual([[]]);
    expect(parseAddr2lineOutput('0x10\nf\n', [0x10n], 'elfutils')).toEqual([[]]);
  });
});

describe(cleanFunctionName.name, () => {
  it('drops the legacy Rust hash and unknown markers only', () => {
    expect(cleanFunctionName('core::fmt::write::h0123456789abcdef')).toBe('core::fmt::write');
    expect(cleanFunctionName('a::h0123')).toBe('a::h0123');
    expect(cleanFunctionName('??')).toBe('');
  });
});

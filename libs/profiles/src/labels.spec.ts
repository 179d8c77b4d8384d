import { describe, expect, it } from 'vitest';
import { expectInvalid } from './expect-invalid';
import { mergeLabels, normalizeLabels, validateLabels } from './labels';

function rejects(labels: Array<[string, string]>, re: RegExp): void {
  expectInvalid(() => validateLabels(labels), re);
}

describe(validateLabels.name, () => {
  it('accepts Prometheus names and UTF-8 values', () => {
    expect(() =>
      validateLabels([
        ['service_name', 'api'],
        ['_x9', 'ünïcødé 🔥'],
      ]),
    ).not.toThrow();
  });

  it('rejects bad names, lone surrogates, long names/values, too many and duplicates, naming the label', () => {
    rejects([['9lives', 'x']], /invalid label name "9lives"/);
    rejects([['a-b', 'x']], /invalid label name "a-b"/);
    rejects([['env', 'bad\uD800']], /label "env" is not valid UTF-8/);
    rejects([['env', 'bad\uDC00x']], /label "env" is not valid UTF-8/);
    rejects([['a'.repeat(1025), 'x']], /longer than 1024/);
    rejects([['big', 'v'.repeat(2049)]], /label "big" is longer than 2048/);
    rejects(
      Array.from({ length: 65 }, (_, i) => [`l${i}`, 'x'] as [string, string]),
      /too many labels: 65 > 64/,
    );
    rejects(
      [
        ['a', '1'],
        ['a', '2'],
      ],
      /duplicate label name "a"/,
    );
  });
});

describe(normalizeLabels.name, () => {
  it('sorts by name and drops empty values', () => {
    expect(
      normalizeLabels([
        ['b', '2'],
        ['a', '1'],
        ['c', ''],
      ]),
    ).toEqual([
      ['a', '1'],
      ['b', '2'],
    ]);
  });
});

describe(mergeLabels.name, () => {
  it('lets the earlier set win', () => {
    expect(
      mergeLabels(
        [['a', 'req']],
        [
          ['a', 'sample'],
          ['b', 's'],
        ],
      ),
    ).toEqual([
      ['a', 'req'],
      ['b', 's'],
    ]);
  });
});

import { describe, expect, it } from 'vitest';
import { deadExports } from './dead-exports';

// A library's index is its public API: what no other project imports is internal and goes (run
// `node scripts/run-ts.cjs tools/lint/dead-exports.ts --fix` and delete code nothing uses).
describe('library APIs', () => {
  it('export nothing that no other project imports', () => {
    const dead = deadExports().map((d) => `${d.alias} ${d.name} (${d.file})`);
    expect(dead).toEqual([]);
  }, 120_000);
});

import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { makeTempDir, removeDir } from '@firn/testing';

const ROOT = resolve(__dirname, '..', '..', '..');

// A fresh process that sets the factor at run time (as a server does after reading its config),
// then runs one full collection with V8 tracing how it set the next limit.
const CHILD = `
import { applyHeapGrowing } from '${join(ROOT, 'libs/server-runtime/src/run-server')}';

applyHeapGrowing(Number(process.argv[2]));
const kept = Array.from({ length: 10_000 }, (_, i) => ({ i }));
(globalThis as unknown as { gc(): void }).gc();
console.log(kept.length);
`;

describe('applyHeapGrowing', () => {
  const dir = makeTempDir('heap-growing');
  const file = join(dir, 'child.ts');
  writeFileSync(file, CHILD);
  afterAll(() => removeDir(dir));

  /** The growing factor of the last old-generation limit V8 set (after the forced collection), as it traced it. */
  function lastLimitFactor(percent: number): string | undefined {
    const out = execFileSync(process.execPath, ['--expose-gc', '--trace-gc-verbose', join(ROOT, 'scripts/run-ts.cjs'), file, String(percent)], {
      cwd: ROOT,
      encoding: 'utf8',
      maxBuffer: 64 * 1024 * 1024,
    });
    expect(out.trim().split('\n').at(-1)).toBe('10000');
    // Collections while the modules load ran before the factor was set: only the last one counts.
    return [...out.matchAll(/\[HeapController\] Limit: .* \((\d+\.\d)\)$/gm)].at(-1)?.[1];
  }

  it('fixes the factor V8 sets the next full collection by, in a running process', () => {
    expect(lastLimitFactor(100)).toBe('2.0');
    expect(lastLimitFactor(30)).toBe('1.3');
  });

  it('leaves V8 its own factor at 0', () => {
    // V8's own comes from its measured speeds (4× on a heap this small): anything but a fixed one.
    const own = lastLimitFactor(0);
    expect(own).toBeDefined();
    expect(own).not.toBe('2.0');
  });
});

import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PF_X, readElfFile, readSymbolsFromFile } from '@firn/elf';
import type { Frame } from '@firn/profiles';
import { buildIdDebugPath, findDebugFile } from '../symbols/debug-files';
import { frameKindOf, localFrames } from '../symbols/local-symbols';
import { elfObjectReader } from './object-reader';

const one = (f: Frame | Frame[]): Frame => (Array.isArray(f) ? f[0] : f);

interface TestProgram {
  binaryPath: string;
  debugPath: string;
  buildId: string;
  /** File offsets one byte into `<prefix>_leaf`, `<prefix>_middle` and `main`. */
  offsets: Record<string, bigint>;
}

/** gcc build of `<prefix>_leaf`/`<prefix>_middle`/`main`, its debug info split off and the binary stripped, as a distro ships it. */
async function buildProgram(dir: string, prefix: string): Promise<TestProgram> {
  mkdirSync(dir, { recursive: true });
  const src = join(dir, `${prefix}.c`);
  writeFileSync(
    src,
    `__attribute__((noinline)) int ${prefix}_leaf(int x) { return x * 3 + 1; }\n__attribute__((noinline)) int ${prefix}_middle(int x) { return ${prefix}_leaf(x) + 2; }\nint main(int argc, char **argv) { (void)argv; return ${prefix}_middle(argc); }\n`,
  );
  const full = join(dir, `${prefix}.full`);
  const binaryPath = join(dir, prefix);
  const debugPath = join(dir, `${prefix}.debug`);
  execFileSync('gcc', ['-g', '-O1', '-Wl,--build-id', '-o', full, src]);
  execFileSync('objcopy', ['--only-keep-debug', full, debugPath]);
  execFileSync('objcopy', ['--strip-all', full, binaryPath]);
  const elf = await readElfFile(full);
  const symbols = await readSymbolsFromFile(full);
  const offsets: Record<string, bigint> = {};
  for (const name of [`${prefix}_leaf`, `${prefix}_middle`, 'main']) {
    const sym = symbols.find((x) => x.name === name);
    const load = sym && elf.loads.find((l) => (l.flags & PF_X) !== 0 && sym.address >= l.vaddr && sym.address < l.vaddr + l.filesz);
    if (!sym || !load) throw new Error(`${name} not found in an executable segment of ${full}`);
    offsets[name] = sym.address + 1n - load.vaddr + load.offset;
  }
  return { binaryPath, debugPath, buildId: elf.buildId, offsets };
}

/** Real gcc builds: a stripped program whose debug file sits in a `.build-id` tree, as `*-dbgsym` installs it. */
describe(elfObjectReader.name, () => {
  let root: string;
  let debugDir: string;
  let prog: TestProgram;
  let other: TestProgram;

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'firn-object-reader-'));
    debugDir = join(root, 'debug');
    [prog, other] = await Promise.all([buildProgram(join(root, 'p'), 'dbgsym'), buildProgram(join(root, 'o'), 'other')]);
    const at = buildIdDebugPath(debugDir, prog.buildId)!;
    mkdirSync(dirname(at), { recursive: true });
    copyFileSync(prog.debugPath, at);
  }, 60_000);

  afterAll(async () => {
    if (root) await rm(root, { recursive: true, force: true });
  });

  it('names a stripped file from its installed debug file, as kind native_debuginfo', async () => {
    const info = await elfObjectReader({ localSymbols: true, debugDirs: [join(root, 'missing'), debugDir] })(prog.binaryPath);
    expect(info.buildId).toBe(prog.buildId);
    expect(info.symbols?.debugFile).toBe(buildIdDebugPath(debugDir, prog.buildId));
    for (const name of ['dbgsym_leaf', 'dbgsym_middle', 'main']) {
      const f = one(localFrames(info.symbols, info.buildId, prog.binaryPath, prog.offsets[name]));
      expect(f.functionName).toBe(name);
      expect(frameKindOf(f)).toEqual({ kind: 'native_debuginfo' });
    }
  });

  it('leaves the file to the server without a debug file, and ignores one whose build id differs', async () => {
    const plain = await elfObjectReader({ localSymbols: true })(prog.binaryPath);
    expect(plain.symbols?.debugFile).toBeUndefined();
    expect(frameKindOf(one(localFrames(plain.symbols, plain.buildId, prog.binaryPath, prog.offsets.dbgsym_leaf)))).toEqual({
      kind: 'native_stripped',
      reason: 'no_symbols',
    });

    // A stale file at the build id's path (e.g. left by an upgraded package) names nothing.
    const stale = join(root, 'stale');
    const at = buildIdDebugPath(stale, other.buildId)!;
    mkdirSync(dirname(at), { recursive: true });
    copyFileSync(prog.debugPath, at);
    expect(await findDebugFile(other.buildId, [stale])).toBeUndefined();
    const info = await elfObjectReader({ localSymbols: true, debugDirs: [stale] })(other.binaryPath);
    expect(info.symbols?.debugFile).toBeUndefined();
    expect(one(localFrames(info.symbols, info.buildId, other.binaryPath, other.offsets.other_leaf)).functionName).toBe('');
  });

  it('finds debug files by GNU build id only', async () => {
    expect(await findDebugFile(prog.buildId, [debugDir])).toBe(buildIdDebugPath(debugDir, prog.buildId));
    expect(buildIdDebugPath(debugDir, 'h-0123456789abcdef')).toBeUndefined();
    expect(await findDebugFile('h-0123456789abcdef', [debugDir])).toBeUndefined();
  });
});

import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PF_X, readElfFile, readSymbolsFromFile } from '@firn/elf';
import { requireBinary } from './require-binary';

export interface TestProgram {
  /** Stripped executable (no symbols, no DWARF). */
  binaryPath: string;
  /** `objcopy --only-keep-debug` file: what debuginfod serves as /debuginfo. */
  debugPath: string;
  buildId: string;
  /** File offsets (in the executable) of an instruction inside each named function. */
  offsets: Record<string, bigint>;
}

/**
 * Compiles a small C program whose functions are called `<prefix>_leaf`, `<prefix>_middle` and
 * `main`, splits its debug info off, and strips it: the layout of a distro package.
 * Shared by the symbolizer's integration tests and e2e.
 */
export async function buildTestProgram(dir: string, prefix: string, opts: { unstrippedDir?: string } = {}): Promise<TestProgram> {
  requireBinary('gcc');
  mkdirSync(dir, { recursive: true });
  const src = join(dir, `${prefix}.c`);
  writeFileSync(
    src,
    `#include <stdio.h>
__attribute__((noinline)) int ${prefix}_leaf(int x) { return x * 3 + 1; }
__attribute__((noinline)) int ${prefix}_middle(int x) { return ${prefix}_leaf(x) + 2; }
int main(int argc, char **argv) { (void)argv; printf("%d\\n", ${prefix}_middle(argc)); return 0; }
`,
  );
  // The unstripped build can be kept out of `dir` (e.g. a directory debuginfod serves).
  const full = join(opts.unstrippedDir ?? dir, `${prefix}.full`);
  const binaryPath = join(dir, prefix);
  const debugPath = join(dir, `${prefix}.debug`);
  execFileSync('gcc', ['-g', '-O1', '-Wl,--build-id', '-o', full, src]);
  execFileSync('objcopy', ['--only-keep-debug', full, debugPath]);
  execFileSync('objcopy', ['--strip-all', full, binaryPath]);
  const elf = await readElfFile(full);
  const symbols = await readSymbolsFromFile(full);
  const offsets: Record<string, bigint> = {};
  for (const name of [`${prefix}_leaf`, `${prefix}_middle`, 'main']) {
    const sym = symbols.find((s) => s.name === name);
    if (!sym) throw new Error(`symbol ${name} not found in ${full}`);
    const load = elf.loads.find((l) => (l.flags & PF_X) !== 0 && sym.address >= l.vaddr && sym.address < l.vaddr + l.filesz);
    if (!load) throw new Error(`no executable segment holds ${name}`);
    // One byte in: inside the function, as a sampled return address would be.
    offsets[name] = sym.address + 1n - load.vaddr + load.offset;
  }
  return { binaryPath, debugPath, buildId: elf.buildId, offsets };
}

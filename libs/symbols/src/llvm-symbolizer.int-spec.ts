import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PF_X, readElfFile, readSymbolsFromFile } from '@firn/elf';
import { isFirnError } from '@firn/errors';
import { findBinary, requireBinary } from '@firn/testing';
import { LlvmSymbolizer, parseLlvmSymbolizerJson } from './llvm-symbolizer';

const C_SOURCE = `static inline unsigned helper(unsigned x) {
  return (x * 2654435761u) ^ (x >> 13);
}

__attribute__((noinline))
unsigned work(const unsigned *v, int n)
{
  unsigned s = 0;
  for (int i = 0; i < n; i++) s = s * 31 + helper(v[i]);
  return s;
}
int main(int argc, char **argv) { unsigned v[8] = {1, 2, 3}; (void)argv; return work(v, argc) & 1; }
`;

const GO_SOURCE = `package main

import "os"

//go:noinline
func hot(n int) int {
	s := 0
	for i := 0; i < n; i++ {
		s = s*31 + i
	}
	return s
}

func main() {
	if hot(len(os.Args)*1000) == 42 {
		os.Exit(1)
	}
}
`;

/** File offsets of every instruction of a function. */
async function offsetsOf(bin: string, name: string): Promise<bigint[]> {
  const elf = await readElfFile(bin);
  const sym = (await readSymbolsFromFile(bin)).find((s) => s.name === name);
  if (!sym) throw new Error(`no symbol ${name}`);
  const load = elf.loads.find((l) => (l.flags & PF_X) !== 0 && sym.address >= l.vaddr && sym.address < l.vaddr + l.filesz);
  if (!load) throw new Error('no executable load');
  const out = execFileSync(
    'objdump',
    ['-d', '--no-show-raw-insn', `--start-address=0x${sym.address.toString(16)}`, `--stop-address=0x${(sym.address + sym.size).toString(16)}`, bin],
    { encoding: 'utf8' },
  );
  return [...out.matchAll(/^\s+([0-9a-f]+):/gm)].map((m) => BigInt(`0x${m[1]}`) - load.vaddr + load.offset);
}

describe(LlvmSymbolizer.name, () => {
  let dir: string;
  const haveGo = findBinary('go') !== undefined;

  beforeAll(() => {
    requireBinary('llvm-symbolizer');
    requireBinary('clang');
    dir = mkdtempSync(join(tmpdir(), 'firn-llvm-sym-'));
  });

  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('gives linkage names, inline chains, discriminators and DW_AT_decl_line start lines for clang code', async () => {
    writeFileSync(join(dir, 'w.c'), C_SOURCE);
    const bin = join(dir, 'w');
    execFileSync('clang', ['-O2', '-g', '-fdebug-info-for-profiling', '-o', bin, join(dir, 'w.c')]);
    const offsets = await offsetsOf(bin, 'work');
    const { at } = await new LlvmSymbolizer().resolve({ debugPath: bin, binaryPath: bin }, offsets);
    const chains = offsets.map((o) => at.get(o) ?? []);
    // work's subprogram is declared on line 6 (its `{` is on line 7, which an entry-line guess would give).
    for (const c of chains.filter((c) => c.length > 0)) expect(c.at(-1)).toMatchObject({ functionName: 'work', startLine: 6 });
    const inlined = chains.find((c) => c.length === 2 && c[0].functionName === 'helper');
    expect(inlined?.[0]).toMatchObject({ functionName: 'helper', startLine: 1, line: 2 });
    expect(inlined?.[1].line).toBe(9);
    expect(chains.some((c) => c.some((l) => l.discriminator > 0))).toBe(true);
  }, 60_000);

  it.skipIf(!haveGo)(
    'falls back to the entry line as the start line where Go DWARF has no DW_AT_decl_line',
    async () => {
      const goDir = join(dir, 'go');
      execFileSync('mkdir', ['-p', goDir]);
      writeFileSync(join(goDir, 'main.go'), GO_SOURCE);
      writeFileSync(join(goDir, 'go.mod'), 'module example.com/firnpgo\n\ngo 1.19\n');
      const bin = join(goDir, 'hot');
      execFileSync('go', ['build', '-o', bin, '.'], {
        cwd: goDir,
        env: {
          PATH: process.env.PATH,
          HOME: dir,
          GOCACHE: join(dir, 'gocache'),
          GOPATH: join(dir, 'gopath'),
          GOFLAGS: '-mod=mod',
          GOPROXY: 'off',
          GOTOOLCHAIN: 'local',
          CGO_ENABLED: '0',
        },
      });
      const offsets = await offsetsOf(bin, 'main.hot');
      const { at, returns } = await new LlvmSymbolizer().resolve({ debugPath: bin, binaryPath: bin }, offsets.slice(2), [offsets[3]]);
      const lines = [...at.values()].map((c) => c.at(-1));
      // `func hot` is line 6 of the source.
      for (const l of lines) expect(l).toMatchObject({ functionName: 'main.hot', startLine: 6 });
      expect(lines.some((l) => (l?.line ?? 0) >= 8)).toBe(true);
      expect(returns.get(offsets[3])?.at(-1)?.functionName).toBe('main.hot');
      // What the agent uploads: objcopy --only-keep-debug, whose first segment keeps the ELF
      // headers (filesz 0x1000 of a much larger text segment): offsets are still mapped right.
      const debugOnly = join(goDir, 'hot.debug');
      execFileSync('objcopy', ['--only-keep-debug', bin, debugOnly]);
      const fromDebug = await new LlvmSymbolizer().resolve({ debugPath: debugOnly }, offsets.slice(2));
      expect([...fromDebug.at.values()].map((c) => c.at(-1)?.line)).toEqual([...at.values()].map((c) => c.at(-1)?.line));
    },
    180_000,
  );

  it('reports a file it cannot read, and a missing tool as FAILED_PRECONDITION', async () => {
    expect(() => parseLlvmSymbolizerJson('{"Address":"0x1","Error":{"Message":"No such file or directory"}}\n', 1)).toThrow(
      /cannot read the file: No such file/,
    );
    const err = await new LlvmSymbolizer({ path: 'llvm-symbolizer-not-installed' })
      .resolve({ debugPath: join(dir, 'w'), binaryPath: join(dir, 'w') }, [0x1000n])
      .catch((e: unknown) => e);
    expect(isFirnError(err, 'failed_precondition')).toBe(true);
    expect(String(err)).toMatch(/not installed on this querier \(Debian package llvm/);
  });
});

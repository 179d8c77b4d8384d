// Compiles real programs (C with gcc and clang, C++, Rust, Go) and checks the symbolizer against
// GNU binutils addr2line, an implementation independent of elfutils and of our ELF parser.
import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDemangler } from '@firn/demangle';
import { createSymbolizer, type Addr2lineEngine } from './symbolizer';
import {
  binutilsAddr2line,
  elfutilsAddr2line,
  hasTool,
  nmFunction,
  readelfLoads,
  sh,
  TempDir,
  vaddrToFileOffset,
  type NmSymbol,
  type RefFrame,
} from './testing/toolchain';
import type { SymbolFrame } from './types';

const PROGRAMS = join(__dirname, 'testing', 'programs');
const symbolizers: Record<Addr2lineEngine, ReturnType<typeof createSymbolizer>> = {
  binutils: createSymbolizer({ engine: 'binutils' }),
  elfutils: createSymbolizer({ engine: 'elfutils' }),
};
let symbolizer = symbolizers.binutils;
const demangler = createDemangler();
/** Names as the queriers show them (the symbolizer keeps them raw). */
async function readable(frames: SymbolFrame[]): Promise<string[]> {
  return demangler.demangleAll(frames.map((f) => f.functionName));
}

function strip(frames: SymbolFrame[]): RefFrame[] {
  return frames.map(({ functionName, fileName, line }) => ({ functionName, fileName, line }));
}

/** Every byte address of a function: covers prologue, inlined body, calls and epilogue. */
function addressesOf(fn: NmSymbol): bigint[] {
  const out: bigint[] = [];
  for (let a = fn.address; a < fn.address + fn.size; a++) out.push(a);
  return out;
}

async function symbolizeVaddrs(files: { binaryPath?: string; debugPath: string }, loadsOf: string, vaddrs: bigint[]): Promise<SymbolFrame[][]> {
  const loads = readelfLoads(loadsOf);
  const offsets = vaddrs.map((v) => vaddrToFileOffset(loads, v));
  const res = await symbolizer.symbolize(files, offsets);
  expect(res.map((r) => r.address)).toEqual(offsets);
  return res.map((r) => r.frames);
}

/**
 * Checks our answer for every address of `fns` equals binutils' on `reference` and, where the
 * two agree (gcc output), elfutils'.
 */
async function expectMatchesBinutils(
  files: { binaryPath?: string; debugPath: string },
  loadsOf: string,
  reference: string,
  fns: NmSymbol[],
  alsoElfutils = true,
): Promise<SymbolFrame[][]> {
  const vaddrs = fns.flatMap(addressesOf);
  const ours = await symbolizeVaddrs(files, loadsOf, vaddrs);
  for (const ref of [binutilsAddr2line(reference, vaddrs), ...(alsoElfutils ? [elfutilsAddr2line(reference, vaddrs)] : [])]) {
    expect(ref).toHaveLength(vaddrs.length);
    const mismatches = vaddrs
      .map((v, i) => ({ address: '0x' + v.toString(16), ours: strip(ours[i]), ref: ref[i] }))
      .filter((m) => JSON.stringify(m.ours) !== JSON.stringify(m.ref));
    expect(mismatches).toEqual([]);
  }
  for (const frames of ours) frames.forEach((f, i) => expect(f.inlined).toBe(i < frames.length - 1));
  return ours;
}

interface CVariant {
  name: string;
  compiler: 'gcc' | 'clang';
  flags: string[];
  debug: boolean;
}

const C_VARIANTS: CVariant[] = [
  { name: 'gcc -O2 -g (DWARF 5, PIE)', compiler: 'gcc', flags: ['-O2', '-g'], debug: true },
  { name: 'gcc -O2 -gdwarf-4 -no-pie', compiler: 'gcc', flags: ['-O2', '-gdwarf-4', '-no-pie'], debug: true },
  { name: 'gcc -O2 -g -gz (compressed DWARF)', compiler: 'gcc', flags: ['-O2', '-g', '-gz'], debug: true },
  { name: 'clang -O2 -g (DWARF 5, PIE)', compiler: 'clang', flags: ['-O2', '-g', '-fPIE', '-pie'], debug: true },
  { name: 'clang -O2 -gdwarf-4 -no-pie', compiler: 'clang', flags: ['-O2', '-gdwarf-4', '-fno-pie', '-no-pie'], debug: true },
  { name: 'gcc -O2 without -g', compiler: 'gcc', flags: ['-O2'], debug: false },
  { name: 'clang -O2 without -g', compiler: 'clang', flags: ['-O2'], debug: false },
];

describe.each(['binutils', 'elfutils'] as const)(`${createSymbolizer.name} (engine %s)`, (engine) => {
  // Made in beforeAll, not at collection, so a filtered run (-t) leaves no directory behind.
  let tmp: TempDir;
  beforeAll(() => {
    tmp = new TempDir();
    symbolizer = symbolizers[engine];
  });
  afterAll(() => tmp?.remove());

  describe.each(C_VARIANTS)('C, $name', (v) => {
    let bin: string;
    beforeAll(() => {
      bin = tmp.at(`c-${C_VARIANTS.indexOf(v)}`);
      sh(v.compiler, [...v.flags, '-o', bin, join(PROGRAMS, 'prog.c')]);
    });

    it('matches binutils addr2line on every address of the known functions', async () => {
      const fns = [nmFunction(bin, (n) => n === 'firn_leaf'), nmFunction(bin, (n) => n === 'firn_caller')];
      // elfutils 0.188 finds no lines in clang's output at some addresses; binutils is the reference there.
      const frames = await expectMatchesBinutils({ debugPath: bin }, bin, bin, fns, v.compiler === 'gcc');
      const leaf = frames.slice(0, Number(fns[0].size));
      expect(leaf[0].at(-1)?.functionName).toBe('firn_leaf');
      if (v.debug) {
        expect(leaf[0][0].fileName).toBe(join(PROGRAMS, 'prog.c'));
        expect(leaf[0][0].line).toBe(10);
        // mix() is always_inline: some address of firn_leaf is inside it.
        const chain = leaf.find((f) => f.length === 2);
        expect(chain?.map((f) => [f.functionName, f.inlined])).toEqual([
          ['mix', true],
          ['firn_leaf', false],
        ]);
        expect(chain?.[1].line).toBe(11);
      } else {
        expect(leaf.every((f) => f.length === 1 && f[0].fileName === '' && f[0].line === 0)).toBe(true);
      }
    });
  });

  describe('split debug file', () => {
    let bin: string;
    let stripped: string;
    let debug: string;
    beforeAll(() => {
      bin = tmp.at('split');
      sh('gcc', ['-O2', '-g', '-o', bin, join(PROGRAMS, 'prog.c')]);
      debug = tmp.at('split.debug');
      stripped = tmp.at('split.stripped');
      sh('objcopy', ['--only-keep-debug', bin, debug]);
      sh('objcopy', ['--strip-all', `--add-gnu-debuglink=${debug}`, bin, stripped]);
    });

    it('resolves through the debug file with PT_LOADs from the stripped binary', async () => {
      const fns = [nmFunction(bin, (n) => n === 'firn_leaf'), nmFunction(bin, (n) => n === 'firn_caller')];
      const frames = await expectMatchesBinutils({ binaryPath: stripped, debugPath: debug }, stripped, bin, fns);
      expect(frames.some((f) => f.length === 2 && f[0].functionName === 'mix')).toBe(true);
    });

    it('resolves from the debug file alone, guessing the GNU ld layout', async () => {
      const fns = [nmFunction(bin, (n) => n === 'firn_leaf')];
      await expectMatchesBinutils({ debugPath: debug }, bin, bin, fns);
    });

    it('takes explicit loads over both files', async () => {
      const fn = nmFunction(bin, (n) => n === 'firn_caller');
      const loads = readelfLoads(bin).map((l) => ({ vaddr: l.vaddr, offset: l.offset, filesz: l.filesz, memsz: l.filesz, flags: l.exec ? 5 : 4 }));
      const [r] = await symbolizer.symbolize({ debugPath: debug, loads }, [vaddrToFileOffset(readelfLoads(bin), fn.address)]);
      expect(r.frames.at(-1)?.functionName).toBe('firn_caller');
    });
  });

  describe('C++', () => {
    let bin: string;
    beforeAll(() => {
      bin = tmp.at('cpp');
      sh('g++', ['-O2', '-g', '-o', bin, join(PROGRAMS, 'prog.cpp')]);
    });

    it('gives raw names of namespaces and templates (demangled like binutils -C) and the forced-inline chain like binutils', async () => {
      const fn = nmFunction(bin, (n) => n.startsWith('long firn::work<long>('), true);
      const frames = await expectMatchesBinutils({ debugPath: bin }, bin, bin, [fn]);
      expect(frames[0].at(-1)?.functionName).toBe('_ZN4firn4workIlEET_S1_');
      expect(await readable(frames[0].slice(-1))).toEqual(['long firn::work<long>(long)']);
      const chain = frames.find((f) => f.length === 2);
      expect(chain && (await readable(chain))).toEqual(['firn::detail::Accumulator<long>::mix(int) const', 'long firn::work<long>(long)']);
      expect(chain?.map((f) => f.inlined)).toEqual([true, false]);
    });
  });

  describe('Rust', () => {
    let bin: string;
    beforeAll(() => {
      bin = tmp.at('rust');
      sh('rustc', ['-g', '-C', 'opt-level=0', '-o', bin, join(PROGRAMS, 'prog.rs')], { cwd: tmp.path });
    });

    it('gives the raw legacy-mangled name (read as prog::compute, without the hash) and matches binutils', async () => {
      const fn = nmFunction(bin, (n) => /^prog::compute(::h[0-9a-f]{16})?$/.test(n), true);
      const frames = await expectMatchesBinutils({ debugPath: bin }, bin, bin, [fn], false);
      expect(frames[0]).toEqual([
        { functionName: expect.stringMatching(/^_ZN4prog7compute17h[0-9a-f]{16}E$/), fileName: join(PROGRAMS, 'prog.rs'), line: 4, inlined: false },
      ]);
      expect(await readable(frames[0])).toEqual(['prog::compute']);
    });

    it('names standard-library functions core::fmt::write (v0 or legacy mangling)', async () => {
      const fn = nmFunction(bin, (n) => /^core::fmt::write(::h[0-9a-f]{16})?$/.test(n.replace(/\[[0-9a-f]+\]/g, '')), true);
      const [frames] = await symbolizeVaddrs({ debugPath: bin }, bin, [fn.address + 4n]);
      expect(await readable(frames.slice(-1))).toEqual(['core::fmt::write']);
    });
  });

  describe('Go', () => {
    const haveGo = hasTool('go');
    let bin: string;
    let stripped: string;
    beforeAll(() => {
      if (!haveGo) {
        console.warn('go not on PATH: skipping the Go symbolization test (install golang-go)');
        return;
      }
      const dir = tmp.at('gomod');
      sh('mkdir', ['-p', dir]);
      copyFileSync(join(PROGRAMS, 'prog.go'), join(dir, 'main.go'));
      tmp.file('gomod/go.mod', 'module example.com/firnprog\n\ngo 1.19\n');
      bin = tmp.at('goprog');
      stripped = tmp.at('goprog-stripped');
      const env = {
        PATH: process.env.PATH,
        HOME: tmp.path,
        GOCACHE: tmp.at('gocache'),
        GOPATH: tmp.at('gopath'),
        GOFLAGS: '-mod=mod',
        GOPROXY: 'off',
        GOTOOLCHAIN: 'local',
        CGO_ENABLED: '0',
      };
      sh('go', ['build', '-o', bin, '.'], { cwd: dir, env });
      sh('go', ['build', '-ldflags=-s -w', '-o', stripped, '.'], { cwd: dir, env });
    }, 120_000);

    it.skipIf(!haveGo)(
      'names a stripped Go binary (-ldflags="-s -w": no DWARF, no .symtab) from .gopclntab, as go tool addr2line names the unstripped one',
      async () => {
        const fn = nmFunction(bin, (n) => n === 'main.firnHello');
        const vaddr = fn.address + 4n;
        const [frames] = await symbolizeVaddrs({ debugPath: stripped }, stripped, [vaddr]);
        const ref = sh('go', ['tool', 'addr2line', bin], {
          input: '0x' + vaddr.toString(16) + '\n',
          env: { PATH: process.env.PATH, HOME: tmp.path, GOCACHE: tmp.at('gocache') },
        }).split('\n');
        const [file, line] = [ref[1].slice(0, ref[1].lastIndexOf(':')), Number(ref[1].slice(ref[1].lastIndexOf(':') + 1))];
        expect(frames).toEqual([{ functionName: 'main.firnHello', fileName: file, line, inlined: false }]);
        // With only the executable upload as the binary and a split debug file that lost the table.
        const [again] = await symbolizeVaddrs({ binaryPath: stripped, debugPath: stripped }, stripped, [vaddr]);
        expect(again).toEqual(frames);
      },
    );

    it.skipIf(!haveGo)('gives function, file and line for a Go binary, as go tool addr2line does', async () => {
      const fn = nmFunction(bin, (n) => n === 'main.firnHello');
      const vaddr = fn.address + 4n;
      const [frames] = await symbolizeVaddrs({ debugPath: bin }, bin, [vaddr]);
      const ref = sh('go', ['tool', 'addr2line', bin], {
        input: '0x' + vaddr.toString(16) + '\n',
        env: { PATH: process.env.PATH, HOME: tmp.path, GOCACHE: tmp.at('gocache') },
      }).split('\n');
      const [file, line] = [ref[1].slice(0, ref[1].lastIndexOf(':')), Number(ref[1].slice(ref[1].lastIndexOf(':') + 1))];
      expect(frames.at(-1)).toEqual({ functionName: ref[0], fileName: file, line, inlined: false });
      expect(frames.at(-1)?.functionName).toBe('main.firnHello');
    });
  });
});

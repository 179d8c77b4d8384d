// The ELF parser against binaries compiled during the test, checked with GNU readelf/nm.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import fc from 'fast-check';
import { FirnError } from '@firn/errors';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildIdOrHash, fileOffsetToVaddr, parseElf, readElfFile, readSymbols, readSymbolsFromFile } from './read';
import { findSymbol } from './symbols';
import { SHT_NOBITS, type ElfFile } from './types';

const C_SOURCE = `
#include <stdio.h>
__attribute__((noinline)) int firn_leaf(int x) { printf("%d\\n", x); return x * 3; }
__attribute__((noinline)) static int firn_static(int x) { return firn_leaf(x) + 1; }
int main(int argc, char **argv) { (void)argv; return firn_static(argc) & 1; }
`;
const BARE_SOURCE = 'int firn_f(int x) { return x * 3 + 1; }\nint firn_g(int x) { return firn_f(x) - 2; }\n';

function sh(cmd: string, args: string[]): string {
  return execFileSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 << 20, stdio: ['ignore', 'pipe', 'pipe'] });
}

interface RefSection {
  name: string;
  nobits: boolean;
  addr: bigint;
  offset: bigint;
  size: bigint;
  compressed: boolean;
}

function readelfSections(path: string): RefSection[] {
  const out: RefSection[] = [];
  for (const line of sh('readelf', ['-SW', path]).split('\n')) {
    const m = /^\s*\[\s*(\d+)\]\s+(\S*)\s+(\S+)\s+([0-9a-f]+)\s+([0-9a-f]+)\s+([0-9a-f]+)\s+[0-9a-f]+\s+(\S*)\s+\d+\s+\d+\s+\d+$/.exec(line);
    if (m && m[1] !== '0')
      out.push({
        name: m[2],
        nobits: m[3] === 'NOBITS',
        addr: BigInt('0x' + m[4]),
        offset: BigInt('0x' + m[5]),
        size: BigInt('0x' + m[6]),
        compressed: m[7].includes('C'),
      });
  }
  return out;
}

function readelfBuildId(path: string): string {
  return /Build ID: ([0-9a-f]+)/.exec(sh('readelf', ['-n', path]))?.[1] ?? '';
}

function readelfLoads(path: string): { offset: bigint; vaddr: bigint; filesz: bigint; memsz: bigint; flags: string }[] {
  return [
    ...sh('readelf', ['-lW', path]).matchAll(/^\s*LOAD\s+(0x[0-9a-f]+)\s+(0x[0-9a-f]+)\s+0x[0-9a-f]+\s+(0x[0-9a-f]+)\s+(0x[0-9a-f]+)\s+(.+?)\s+0x[0-9a-f]+$/gm),
  ].map((m) => ({
    offset: BigInt(m[1]),
    vaddr: BigInt(m[2]),
    filesz: BigInt(m[3]),
    memsz: BigInt(m[4]),
    flags: m[5].replace(/\s/g, ''),
  }));
}

function flagString(f: number): string {
  return (f & 4 ? 'R' : '') + (f & 2 ? 'W' : '') + (f & 1 ? 'E' : '');
}

function expectSectionsMatch(elf: ElfFile, path: string): void {
  const ours = elf.sections
    .slice(1)
    .map((s) => ({ name: s.name, nobits: s.type === SHT_NOBITS, addr: s.addr, offset: s.offset, size: s.size, compressed: s.compressed }));
  expect(ours).toEqual(readelfSections(path));
}

describe(parseElf.name, () => {
  let dir = '';
  const p = (name: string): string => join(dir, name);
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'firn-elf-'));
    writeFileSync(p('prog.c'), C_SOURCE);
    writeFileSync(p('bare.c'), BARE_SOURCE);
    sh('gcc', ['-O2', '-g', '-o', p('pie'), p('prog.c')]);
    sh('gcc', ['-O2', '-g', '-no-pie', '-o', p('nopie'), p('prog.c')]);
    sh('gcc', ['-O2', '-g', '-gz', '-o', p('gz'), p('prog.c')]);
    sh('gcc', ['-O2', '-Wl,--build-id=none', '-o', p('noid'), p('prog.c')]);
    sh('objcopy', ['--only-keep-debug', p('pie'), p('pie.debug')]);
    sh('objcopy', ['--strip-all', `--add-gnu-debuglink=${p('pie.debug')}`, p('pie'), p('pie.stripped')]);
    sh('clang', ['-target', 'i386-linux-gnu', '-c', '-g', '-o', p('x86.o'), p('bare.c')]);
    sh('clang', ['-target', 'powerpc64-linux-gnu', '-c', '-o', p('ppc64be.o'), p('bare.c')]);
  });

  it.each(['pie', 'nopie', 'gz', 'noid', 'pie.debug', 'pie.stripped', 'x86.o', 'ppc64be.o'])('reads %s like readelf', async (name) => {
    const path = p(name);
    const elf = parseElf(readFileSync(path));
    expect(await readElfFile(path)).toEqual(elf);
    expect(elf.buildId).toBe(readelfBuildId(path));
    expectSectionsMatch(elf, path);
    expect(elf.loads.map((l) => ({ offset: l.offset, vaddr: l.vaddr, filesz: l.filesz, memsz: l.memsz, flags: flagString(l.flags) }))).toEqual(
      readelfLoads(path),
    );
  });

  it('reports class, endianness, type, machine and DWARF presence', () => {
    const pie = parseElf(readFileSync(p('pie')));
    expect(pie).toMatchObject({ bits: 64, littleEndian: true, type: 'DYN', machine: 62, hasDwarf: true, hasSymtab: true });
    expect(pie.buildId).toMatch(/^[0-9a-f]{40}$/);
    expect(pie.comment.some((c) => c.startsWith('GCC:'))).toBe(true);
    expect(parseElf(readFileSync(p('nopie'))).type).toBe('EXEC');
    expect(parseElf(readFileSync(p('x86.o')))).toMatchObject({ bits: 32, littleEndian: true, type: 'REL', machine: 3, hasDwarf: true, buildId: '' });
    expect(parseElf(readFileSync(p('ppc64be.o')))).toMatchObject({ bits: 64, littleEndian: false, type: 'REL', machine: 21 });
    const stripped = parseElf(readFileSync(p('pie.stripped')));
    expect(stripped).toMatchObject({ hasDwarf: false, hasSymtab: false });
    expect(stripped.buildId).toBe(pie.buildId);
  });

  it('flags compressed debug sections', () => {
    const gz = parseElf(readFileSync(p('gz')));
    expect(gz.hasDwarf).toBe(true);
    expect(gz.sections.find((s) => s.name === '.debug_info')?.compressed).toBe(true);
    expect(parseElf(readFileSync(p('pie'))).sections.find((s) => s.name === '.debug_info')?.compressed).toBe(false);
  });

  it('reads .gnu_debuglink with the CRC32 of the debug file', () => {
    const elf = parseElf(readFileSync(p('pie.stripped')));
    expect(elf.debuglink).toEqual({ file: 'pie.debug', crc: crc32(readFileSync(p('pie.debug'))) });
    expect(parseElf(readFileSync(p('pie'))).debuglink).toBeUndefined();
  });

  it('maps file offsets to virtual addresses through the executable PT_LOAD (PIE and non-PIE)', () => {
    for (const name of ['pie', 'nopie']) {
      const elf = parseElf(readFileSync(p(name)));
      const text = readelfLoads(p(name)).find((l) => l.flags.includes('E'));
      if (!text) throw new Error('no executable segment');
      const addr = BigInt('0x' + (/^([0-9a-f]+) T firn_leaf$/m.exec(sh('nm', [p(name)]))?.[1] ?? '0'));
      const offset = addr - text.vaddr + text.offset;
      expect(fileOffsetToVaddr(elf, offset)).toBe(addr);
      expect(fileOffsetToVaddr(elf, text.offset + text.filesz)).toBeUndefined();
    }
    // The first (read-only) segment holds the ELF header: not code.
    expect(fileOffsetToVaddr(parseElf(readFileSync(p('pie'))), 0n)).toBeUndefined();
  });

  it('reads only headers from a huge file', async () => {
    const big = p('sparse');
    writeFileSync(big, readFileSync(p('pie')));
    truncateSync(big, 6 * 1024 ** 3); // sparse: larger than any Buffer Node can allocate
    expect(await readElfFile(big)).toEqual(parseElf(readFileSync(p('pie'))));
    rmSync(big);
  });

  it('lists function symbols like readelf -s, sorted, and finds the containing one', async () => {
    const path = p('nopie');
    const syms = readSymbols(readFileSync(path));
    expect(await readSymbolsFromFile(path)).toEqual(syms);
    for (let i = 1; i < syms.length; i++) expect(syms[i].address > syms[i - 1].address).toBe(true);
    const ref = new Map<bigint, string[]>();
    // readelf -s prints .dynsym and .symtab with each symbol's type.
    for (const m of sh('readelf', ['-sW', path]).matchAll(/^\s*\d+:\s+([0-9a-f]+)\s+\d+\s+(?:FUNC|IFUNC)\s+\S+\s+\S+\s+(?!UND)\S+\s+(\S+?)(?:@.*)?$/gm)) {
      const a = BigInt('0x' + m[1]);
      ref.set(a, [...(ref.get(a) ?? []), m[2]]);
    }
    expect(new Set(syms.map((s) => s.address))).toEqual(new Set(ref.keys()));
    for (const s of syms) expect(ref.get(s.address)).toContain(s.name);
    const leaf = syms.find((s) => s.name === 'firn_leaf');
    expect(leaf && findSymbol(syms, leaf.address + 1n)?.name).toBe('firn_leaf');
    expect(findSymbol(syms, 0n)).toBeUndefined();
    // Static functions exist only in .symtab: gone once stripped, while .dynsym has no local code.
    expect(readSymbols(readFileSync(p('pie.stripped'))).some((s) => s.name === 'firn_static')).toBe(false);
  });

  it("names an address with several aliases by its public symbol, without the version (as glibc's __libc_start_main)", async () => {
    // A local implementation, local and weak aliases listed before the global one, and a versioned
    // definition: the shape of glibc's start routine in its debug file.
    const src = join(dir, 'alias.c');
    writeFileSync(
      src,
      'int firn_impl(int x) { return x * 7 + 1; }\n' +
        'static int firn_alias_1(int) __attribute__((alias("firn_impl"), used));\n' +
        'extern int firn_weak(int) __attribute__((weak, alias("firn_impl")));\n' +
        'extern int firn_public(int) __attribute__((alias("firn_impl")));\n' +
        '__asm__(".symver firn_public, firn_versioned@@FIRN_1");\n',
    );
    writeFileSync(join(dir, 'alias.map'), 'FIRN_1 { global: firn_versioned; local: *; };\n');
    const so = join(dir, 'alias.so');
    sh('gcc', ['-O1', '-fPIC', '-shared', `-Wl,--version-script=${join(dir, 'alias.map')}`, '-o', so, src]);
    const syms = await readSymbolsFromFile(so);
    const at = syms.find((s) => s.name.startsWith('firn_'));
    expect(at && findSymbol(syms, at.address)?.name).toBe('firn_versioned');
    expect(syms.some((s) => s.name.includes('@'))).toBe(false);
  });

  it('gives the build id, or a prefixed content hash that cannot be mistaken for one', async () => {
    expect(await buildIdOrHash(p('pie'))).toBe(readelfBuildId(p('pie')));
    const h = await buildIdOrHash(p('noid'));
    expect(h).toMatch(/^h-[0-9a-f]{64}$/);
    expect(await buildIdOrHash(p('noid'))).toBe(h);
    writeFileSync(p('noid2'), Buffer.concat([readFileSync(p('noid')), Buffer.from([0])]));
    expect(await buildIdOrHash(p('noid2'))).not.toBe(h);
    expect(await buildIdOrHash(p('prog.c'))).toMatch(/^h-[0-9a-f]{64}$/);
    await expect(buildIdOrHash(p('missing'))).rejects.toMatchObject({ code: 'not_found' });
  });

  it('rejects non-ELF and truncated input with FirnError invalid_argument', async () => {
    const bytes = readFileSync(p('pie'));
    for (const bad of [Buffer.from('hello'), bytes.subarray(0, 40), bytes.subarray(0, 3000), Buffer.alloc(0)]) {
      expect(() => parseElf(bad)).toThrow(FirnError);
      try {
        parseElf(bad);
      } catch (err) {
        expect((err as FirnError).code).toBe('invalid_argument');
      }
    }
    await expect(readElfFile(p('prog.c'))).rejects.toMatchObject({ code: 'invalid_argument' });
    await expect(readElfFile(p('missing'))).rejects.toMatchObject({ code: 'not_found' });
  });

  it('never throws anything but FirnError invalid_argument on mutated, truncated or random bytes', () => {
    const seeds = ['pie', 'x86.o', 'ppc64be.o', 'pie.stripped'].map((n) => new Uint8Array(readFileSync(p(n))));
    const probe = (bytes: Uint8Array): void => {
      for (const f of [parseElf, readSymbols]) {
        try {
          f(bytes);
        } catch (err) {
          if (!(err instanceof FirnError) || err.code !== 'invalid_argument') throw err;
        }
      }
    };
    const mutated = fc
      .tuple(
        fc.nat({ max: seeds.length - 1 }),
        // Most writes land in the headers, where a single byte changes a whole table's meaning.
        fc.array(fc.tuple(fc.oneof(fc.nat({ max: 63 }), fc.nat({ max: 1 << 16 })), fc.nat({ max: 255 })), { minLength: 1, maxLength: 12 }),
        fc.option(fc.nat(), { nil: undefined }),
      )
      .map(([i, writes, cut]) => {
        const b = seeds[i].slice();
        const dv = new DataView(b.buffer);
        const shoff = b[4] === 2 ? Number(dv.getBigUint64(0x28, b[5] === 1)) : dv.getUint32(0x20, b[5] === 1);
        for (const [pos, val] of writes) {
          const at = pos < 64 ? pos : pos % 2 === 0 && shoff > 0 && shoff < b.length ? shoff + (pos % (b.length - shoff)) : pos % b.length;
          if (at < b.length) b[at] = val;
        }
        return cut === undefined ? b : b.subarray(0, cut % (b.length + 1));
      });
    fc.assert(fc.property(mutated, probe), { numRuns: 1500 });
    const magic = Uint8Array.from([0x7f, 0x45, 0x4c, 0x46]);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 512 }), fc.boolean(), (rest, withMagic) => probe(withMagic ? Uint8Array.from([...magic, ...rest]) : rest)),
      { numRuns: 1500 },
    );
  });
});

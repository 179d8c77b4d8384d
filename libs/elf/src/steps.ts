import { FirnError } from '@firn/errors';
import { ByteView, toOffset } from './byte-view';
import { ELF_HEADER_READ, parseHeader, type ElfHeader } from './header';
import { PT_LOAD, PT_NOTE, SHF_COMPRESSED, SHT_NOBITS, SHT_NOTE, SHT_SYMTAB, type ElfLoad, type ElfSection } from './types';

/**
 * The parser is written once as a generator that asks for byte ranges (`yield`) and receives
 * them, so the same code serves an in-memory buffer (parseElf) and positioned file reads
 * (readElfFile) that never load more than the headers, notes and string tables.
 * A reply shorter than asked means end of file; the ByteView checks turn that into a FirnError.
 */
export interface ReadRequest {
  offset: number;
  length: number;
  what: string;
}
export type Steps<T> = Generator<ReadRequest, T, Uint8Array>;

/** No real file has more; caps what a malformed header can make us allocate. */
const MAX_SECTIONS = 1 << 20;
const MAX_PHDRS = 1 << 16;
const MAX_STRTAB = 64 << 20;

export interface RawSection extends ElfSection {
  link: number;
  info: number;
  entsize: bigint;
  addralign: bigint;
}

export interface ElfTables {
  header: ElfHeader;
  phdrs: { type: number; flags: number; offset: bigint; vaddr: bigint; filesz: bigint; memsz: bigint; align: bigint }[];
  sections: RawSection[];
}

function read(offset: number, length: number, what: string): ReadRequest {
  return { offset, length, what };
}

function checkTable(fileSize: number, off: number, count: number, entsize: number, what: string): void {
  if (off + count * entsize > fileSize) {
    throw FirnError.invalidArgument(`ELF truncated: ${what} (${count} × ${entsize} bytes at ${off}) extends past end of file (${fileSize} bytes)`);
  }
}

/** File header, program headers and section headers with their names. */
export function* tableSteps(fileSize: number): Steps<ElfTables> {
  const header = parseHeader(yield read(0, ELF_HEADER_READ, 'ELF header'));
  const le = header.littleEndian;
  const is64 = header.bits === 64;

  let shnum = header.shnum;
  let shstrndx = header.shstrndx;
  let phnum = header.phnum;
  if (header.shoff > 0 && (shnum === 0 || shstrndx === 0xffff || phnum === 0xffff)) {
    // Extended numbering: the real counts live in section header 0.
    const s0 = new ByteView(yield read(header.shoff, header.shentsize, 'section header 0'), le, is64, header.shoff);
    if (shnum === 0) shnum = toOffset(is64 ? s0.u64(32, 'sh_size') : BigInt(s0.u32(20, 'sh_size')), 'section count');
    if (shstrndx === 0xffff) shstrndx = s0.u32(is64 ? 40 : 24, 'sh_link');
    if (phnum === 0xffff) phnum = s0.u32(is64 ? 44 : 28, 'sh_info');
  }
  if (header.shoff === 0) shnum = 0;
  if (shnum > MAX_SECTIONS) throw FirnError.invalidArgument(`ELF malformed: ${shnum} sections`);
  if (phnum > MAX_PHDRS) throw FirnError.invalidArgument(`ELF malformed: ${phnum} program headers`);
  if (header.phoff === 0) phnum = 0;

  const phdrs: ElfTables['phdrs'] = [];
  if (phnum > 0) {
    checkTable(fileSize, header.phoff, phnum, header.phentsize, 'program header table');
    const v = new ByteView(yield read(header.phoff, phnum * header.phentsize, 'program headers'), le, is64, header.phoff);
    for (let i = 0; i < phnum; i++) {
      const o = i * header.phentsize;
      if (is64) {
        phdrs.push({
          type: v.u32(o, 'p_type'),
          flags: v.u32(o + 4, 'p_flags'),
          offset: v.u64(o + 8, 'p_offset'),
          vaddr: v.u64(o + 16, 'p_vaddr'),
          filesz: v.u64(o + 32, 'p_filesz'),
          memsz: v.u64(o + 40, 'p_memsz'),
          align: v.u64(o + 48, 'p_align'),
        });
      } else {
        phdrs.push({
          type: v.u32(o, 'p_type'),
          offset: BigInt(v.u32(o + 4, 'p_offset')),
          vaddr: BigInt(v.u32(o + 8, 'p_vaddr')),
          filesz: BigInt(v.u32(o + 16, 'p_filesz')),
          memsz: BigInt(v.u32(o + 20, 'p_memsz')),
          flags: v.u32(o + 24, 'p_flags'),
          align: BigInt(v.u32(o + 28, 'p_align')),
        });
      }
    }
  }

  const sections: RawSection[] = [];
  const nameOffsets: number[] = [];
  if (shnum > 0) {
    checkTable(fileSize, header.shoff, shnum, header.shentsize, 'section header table');
    const v = new ByteView(yield read(header.shoff, shnum * header.shentsize, 'section headers'), le, is64, header.shoff);
    for (let i = 0; i < shnum; i++) {
      const o = i * header.shentsize;
      nameOffsets.push(v.u32(o, 'sh_name'));
      const type = v.u32(o + 4, 'sh_type');
      const flags = is64 ? v.u64(o + 8, 'sh_flags') : BigInt(v.u32(o + 8, 'sh_flags'));
      const w = is64 ? 8 : 4;
      const base = 8 + w; // sh_addr
      sections.push({
        name: '',
        type,
        flags,
        addr: v.word(o + base, 'sh_addr'),
        offset: v.word(o + base + w, 'sh_offset'),
        size: v.word(o + base + 2 * w, 'sh_size'),
        link: v.u32(o + base + 3 * w, 'sh_link'),
        info: v.u32(o + base + 3 * w + 4, 'sh_info'),
        addralign: v.word(o + base + 3 * w + 8, 'sh_addralign'),
        entsize: v.word(o + base + 4 * w + 8, 'sh_entsize'),
        compressed: false,
      });
    }
  }

  const strtab = shstrndx > 0 && shstrndx < sections.length ? sections[shstrndx] : undefined;
  if (strtab && strtab.type !== SHT_NOBITS && strtab.size > 0n) {
    const off = toOffset(strtab.offset, '.shstrtab offset');
    const size = toOffset(strtab.size, '.shstrtab size');
    if (size > MAX_STRTAB) throw FirnError.invalidArgument(`ELF malformed: .shstrtab of ${size} bytes`);
    checkTable(fileSize, off, 1, size, 'section name table');
    const names = new ByteView(yield read(off, size, 'section names'), le, is64, off);
    sections.forEach((s, i) => {
      if (i === 0 && nameOffsets[i] === 0) return;
      s.name = names.cstring(nameOffsets[i], 'section name');
      s.compressed = s.type !== SHT_NOBITS && ((s.flags & SHF_COMPRESSED) !== 0n || s.name.startsWith('.zdebug_'));
    });
  }
  return { header: { ...header, shnum, shstrndx, phnum }, phdrs, sections };
}

/** Reads one whole section (bounded), or undefined if it has no bytes in the file. */
export function* sectionBytes(t: ElfTables, s: RawSection, fileSize: number, max: number): Steps<ByteView | undefined> {
  if (s.type === SHT_NOBITS || s.size === 0n) return undefined;
  const off = toOffset(s.offset, `${s.name || 'section'} offset`);
  const size = toOffset(s.size, `${s.name || 'section'} size`);
  if (size > max) return undefined;
  checkTable(fileSize, off, 1, size, `section ${s.name}`);
  return new ByteView(yield read(off, size, s.name), t.header.littleEndian, t.header.bits === 64, off);
}

export function loadsOf(t: ElfTables): ElfLoad[] {
  return t.phdrs.filter((p) => p.type === PT_LOAD).map((p) => ({ vaddr: p.vaddr, offset: p.offset, filesz: p.filesz, memsz: p.memsz, flags: p.flags }));
}

export interface NoteBlock {
  offset: bigint;
  size: bigint;
  align: bigint;
}

/** Note sections first (they survive `--only-keep-debug`), then PT_NOTE for files without sections. */
export function noteBlocks(t: ElfTables): { sections: NoteBlock[]; segments: NoteBlock[] } {
  return {
    sections: t.sections.filter((s) => s.type === SHT_NOTE).map((s) => ({ offset: s.offset, size: s.size, align: s.addralign })),
    segments: t.phdrs.filter((p) => p.type === PT_NOTE).map((p) => ({ offset: p.offset, size: p.filesz, align: p.align })),
  };
}

export function isSymtab(s: RawSection): boolean {
  return s.type === SHT_SYMTAB && s.size > 0n;
}

import { FirnError } from '@firn/errors';
import { ByteView, toOffset } from './byte-view';
import type { ElfType } from './types';

/** Enough bytes for the ELF64 file header (ELF32's is 52). */
export const ELF_HEADER_READ = 64;

export interface ElfHeader {
  bits: 32 | 64;
  littleEndian: boolean;
  type: ElfType;
  machine: number;
  entry: bigint;
  phoff: number;
  phentsize: number;
  phnum: number;
  shoff: number;
  shentsize: number;
  /** 0 means "read the count from section 0" (more than 0xff00 sections). */
  shnum: number;
  shstrndx: number;
}

const TYPES: Record<number, ElfType> = { 1: 'REL', 2: 'EXEC', 3: 'DYN', 4: 'CORE' };

export function parseHeader(bytes: Uint8Array): ElfHeader {
  if (bytes.length < 16 || bytes[0] !== 0x7f || bytes[1] !== 0x45 || bytes[2] !== 0x4c || bytes[3] !== 0x46) {
    throw FirnError.invalidArgument('not an ELF file: bad magic');
  }
  const cls = bytes[4];
  const data = bytes[5];
  if (cls !== 1 && cls !== 2) throw FirnError.invalidArgument(`ELF malformed: unknown class ${cls}`);
  if (data !== 1 && data !== 2) throw FirnError.invalidArgument(`ELF malformed: unknown data encoding ${data}`);
  const is64 = cls === 2;
  const v = new ByteView(bytes, data === 1, is64);
  const type = v.u16(16, 'e_type');
  const machine = v.u16(18, 'e_machine');
  const entry = v.word(24, 'e_entry');
  const o = is64 ? 32 : 28;
  const w = is64 ? 8 : 4;
  const phoff = toOffset(v.word(o, 'e_phoff'), 'e_phoff');
  const shoff = toOffset(v.word(o + w, 'e_shoff'), 'e_shoff');
  const p = o + 2 * w + 4; // after e_flags
  const ehsize = v.u16(p, 'e_ehsize');
  const phentsize = v.u16(p + 2, 'e_phentsize');
  const phnum = v.u16(p + 4, 'e_phnum');
  const shentsize = v.u16(p + 6, 'e_shentsize');
  const shnum = v.u16(p + 8, 'e_shnum');
  const shstrndx = v.u16(p + 10, 'e_shstrndx');
  if (ehsize > 0 && ehsize < p + 12) throw FirnError.invalidArgument(`ELF malformed: e_ehsize ${ehsize} too small`);
  const minPh = is64 ? 56 : 32;
  const minSh = is64 ? 64 : 40;
  if (phnum > 0 && phentsize < minPh) throw FirnError.invalidArgument(`ELF malformed: e_phentsize ${phentsize} < ${minPh}`);
  if (shoff > 0 && shentsize < minSh) throw FirnError.invalidArgument(`ELF malformed: e_shentsize ${shentsize} < ${minSh}`);
  return {
    bits: is64 ? 64 : 32,
    littleEndian: data === 1,
    type: TYPES[type] ?? 'OTHER',
    machine,
    entry,
    phoff,
    phentsize,
    phnum,
    shoff,
    shentsize,
    shnum,
    shstrndx,
  };
}

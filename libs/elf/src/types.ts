/** A PT_LOAD program header. */
export interface ElfLoad {
  vaddr: bigint;
  offset: bigint;
  filesz: bigint;
  memsz: bigint;
  /** PF_X=1, PF_W=2, PF_R=4. */
  flags: number;
}

export interface ElfSection {
  name: string;
  type: number;
  flags: bigint;
  addr: bigint;
  offset: bigint;
  size: bigint;
  /** SHF_COMPRESSED, or the legacy `.zdebug_*` naming (Go ≤ 1.19 still writes those). */
  compressed: boolean;
}

export type ElfType = 'EXEC' | 'DYN' | 'REL' | 'CORE' | 'OTHER';

export interface ElfFile {
  bits: 32 | 64;
  littleEndian: boolean;
  type: ElfType;
  machine: number;
  /** GNU build id (NT_GNU_BUILD_ID), lowercase hex; '' if the file has none. */
  buildId: string;
  /** Go's own build id (`.note.go.buildid`), as written by the Go linker; absent if none. */
  goBuildId?: string;
  loads: ElfLoad[];
  sections: ElfSection[];
  debuglink?: { file: string; crc: number };
  /** `.debug_info` (or `.zdebug_info`) present with contents. */
  hasDwarf: boolean;
  /** A non-empty `.symtab`. */
  hasSymtab: boolean;
  /** Producer strings of `.comment` ("GCC: (Debian 12.2.0-14) 12.2.0", "rustc version 1.95.0 …"). */
  comment: string[];
}

/** A function symbol from `.symtab` or `.dynsym`, as stored (not demangled). */
export interface ElfSymbol {
  name: string;
  address: bigint;
  /** 0 when the producer did not record a size. */
  size: bigint;
}

export const PF_X = 1;
export const PF_W = 2;
export const PF_R = 4;

export const SHT_SYMTAB = 2;
export const SHT_NOTE = 7;
export const SHT_NOBITS = 8;
export const SHT_DYNSYM = 11;

export const SHF_COMPRESSED = 0x800n;

export const PT_LOAD = 1;
export const PT_NOTE = 4;

export const EM_X86_64 = 62;
export const EM_AARCH64 = 183;

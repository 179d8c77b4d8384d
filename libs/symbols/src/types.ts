import type { ElfLoad } from '@firn/elf';

/** One source location; a symbolized address has one per inlining level. */
export interface SymbolFrame {
  /** The raw linker name (mangled for C++/Rust; demangled at query time by @firn/demangle); '' if unknown. */
  functionName: string;
  /** As the debug info records it (absolute when the compile dir is known); '' if unknown. */
  fileName: string;
  /** 0 if unknown. */
  line: number;
  /** True for every frame but the last (the real, outermost function). */
  inlined: boolean;
}

export interface SymbolizedAddress {
  /** The input file offset. */
  address: bigint;
  /** Leaf (innermost inline) first; empty if nothing is known. */
  frames: SymbolFrame[];
  /** What named it: Go's `.gopclntab`, DWARF (a source line), or `.symtab`/`.dynsym` only. */
  source?: NameSource;
  /** Why `frames` is empty. */
  unnamed?: UnnamedReason;
}

export type NameSource = 'gopclntab' | 'dwarf' | 'symtab';
/**
 * `outside_code`: the offset is in no executable segment; `no_symbol`: no debug info or symbol
 * covers it; `unsupported_go_table`: a Go binary whose `.gopclntab` layout is not read (Go ≤ 1.15).
 */
export type UnnamedReason = 'outside_code' | 'no_symbol' | 'unsupported_go_table';

export interface SymbolizeFiles {
  /** The executable as mapped by the process; its PT_LOADs turn file offsets into addresses. */
  binaryPath?: string;
  /** File with the DWARF (split debug file or the unstripped binary itself). */
  debugPath: string;
  /**
   * PT_LOADs of the mapped binary when only its debug file is at hand (e.g. kept from the
   * upload). Takes precedence over both files' program headers.
   */
  loads?: ElfLoad[];
}

export interface SymbolizeOptions {
  signal?: AbortSignal;
  /** Whole-call deadline, including waiting for a free process slot. */
  timeoutMs?: number;
}

export interface Symbolizer {
  symbolize(files: SymbolizeFiles, fileOffsets: bigint[], opts?: SymbolizeOptions): Promise<SymbolizedAddress[]>;
}

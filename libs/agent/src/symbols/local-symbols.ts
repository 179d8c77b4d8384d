import { fileOffsetToVaddr, FileSource, findSymbol, openGoSymbols, type ElfFile, type ElfLoad, type ElfSymbol, type GoSymbolTable } from '@firn/elf';
import type { Frame } from '@firn/profiles';

/**
 * What a sampled frame is, for the naming-coverage metric: which way it could be named, and
 * whether it was. Bounded label values.
 */
export type FrameKind =
  /** Kernel text, named from /proc/kallsyms. */
  | 'kernel'
  /** JIT code named (or not) from a perf map. */
  | 'jit'
  /** Go code, named from `.gopclntab`. */
  | 'go'
  /** Native code of a file with `.symtab`/`.dynsym` symbols read on the node. */
  | 'native_symbols'
  /** Native code of a stripped file named from its debug file installed on the node (`*-dbgsym`). */
  | 'native_debuginfo'
  /** Native code of a file without usable symbols here: the server names it from debuginfo. */
  | 'native_stripped'
  /** CPython interpreter frames, named from the code object in the process's memory. */
  | 'python'
  /** Anonymous memory without a perf map, or outside every mapping. */
  | 'unmapped';

/** Why a frame left the node without a name (label `reason` of the coverage metric). */
export type UnnamedReason =
  | 'no_symbols'
  | 'not_in_symbols'
  | 'unsupported_go_table'
  | 'no_perf_map_entry'
  | 'no_mapping'
  | 'kallsyms_restricted'
  | 'left_to_server'
  | 'code_object_unreadable';

/** `.symtab`/`.dynsym` symbols and, for Go binaries, the Go table, read once per file. */
export interface LocalSymbols {
  loads: ElfLoad[];
  symbols: ElfSymbol[];
  /** The node's debug file the symbols were read from, when the file itself has no `.symtab`. */
  debugFile?: string;
  go?: GoSymbolTable;
  /** Set when the file has a Go table this agent cannot read (e.g. Go ≤ 1.15). */
  goUnsupported?: string;
}

/** Files kept open for Go lookups close when their LocalSymbols is collected. */
const closeOnCollect = new FinalizationRegistry<FileSource>((src) => src.close());

/**
 * Opens the Go table of a Go binary (none for other files). The file stays open (a bounded block
 * cache, not the whole table, is in memory) so a table reached through one process's
 * `/proc/<pid>/map_files` keeps working after that process exits.
 */
export function openLocalGo(path: string, elf: ElfFile, holder: object): Pick<LocalSymbols, 'go' | 'goUnsupported'> {
  if (elf.goBuildId === undefined && !elf.sections.some((s) => s.name.endsWith('.gopclntab'))) return {};
  let src: FileSource | undefined;
  try {
    src = FileSource.open(path, { maxBlocks: 32 });
    const r = openGoSymbols(elf, src);
    if (r.kind === 'table') {
      closeOnCollect.register(holder, src);
      return { go: r.table };
    }
    src.close();
    return r.kind === 'unsupported' ? { goUnsupported: r.reason } : {};
  } catch {
    src?.close();
    return {};
  }
}

/** Frame → how it was (or could not be) named; kept beside frames, not in them (they go on the wire). */
const frameKinds = new WeakMap<Frame, { kind: FrameKind; reason?: UnnamedReason }>();

export function classifyFrame(f: Frame, kind: FrameKind, reason?: UnnamedReason): Frame {
  frameKinds.set(f, reason === undefined ? { kind } : { kind, reason });
  return f;
}

/** The kind recorded when the frame was made; frames made elsewhere are classified by their mapping. */
export function frameKindOf(f: Frame): { kind: FrameKind; reason?: UnnamedReason } {
  const k = frameKinds.get(f);
  if (k) return k;
  if (f.mappingFile === '[kernel.kallsyms]') return { kind: 'kernel', reason: f.functionName ? undefined : 'kallsyms_restricted' };
  if (f.mappingFile === '[jit]') return { kind: 'jit' };
  if (f.mappingFile === '' || f.mappingFile === '[anon]' || f.mappingFile.startsWith('['))
    return { kind: 'unmapped', reason: f.functionName ? undefined : 'no_mapping' };
  return { kind: 'native_stripped', reason: f.functionName ? undefined : 'left_to_server' };
}

/**
 * The frames of a file-backed address named on the node: the Go table's inline chain (leaf
 * first, one Frame per level, all with the same address) for Go code, else the ELF symbol.
 */
export function localFrames(sym: LocalSymbols | undefined, buildId: string, mappingFile: string, offset: bigint): Frame | Frame[] {
  const make = (functionName: string, fileName = '', line = 0, inlined = false): Frame => ({
    buildId,
    mappingFile,
    address: offset,
    functionName,
    fileName,
    line,
    inlined,
  });
  if (!sym) return classifyFrame(make(''), 'native_stripped', 'left_to_server');
  const vaddr = fileOffsetToVaddr(sym, offset);
  if (vaddr === undefined) return classifyFrame(make(''), 'unmapped', 'no_mapping');
  if (sym.go) {
    let chain: ReturnType<GoSymbolTable['lookup']> = [];
    try {
      chain = sym.go.lookup(vaddr);
    } catch {
      chain = []; // a malformed table names nothing here; the symbol table may still
    }
    if (chain.length > 0) return chain.map((g) => classifyFrame(make(g.functionName, g.fileName, g.line, g.inlined), 'go'));
  }
  const native: FrameKind = sym.debugFile ? 'native_debuginfo' : 'native_symbols';
  const s = findSymbol(sym.symbols, vaddr)?.name ?? '';
  if (s) return classifyFrame(make(s), sym.go ? 'go' : native);
  if (sym.goUnsupported) return classifyFrame(make(''), 'go', 'unsupported_go_table');
  if (sym.go) return classifyFrame(make(''), 'go', 'not_in_symbols');
  return classifyFrame(make(''), sym.symbols.length > 0 ? native : 'native_stripped', sym.symbols.length > 0 ? 'not_in_symbols' : 'no_symbols');
}

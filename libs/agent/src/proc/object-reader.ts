import { buildIdOrHash, readElfFile, readSymbolsFromFile, type ElfFile, type ElfSymbol } from '@firn/elf';
import { findDebugFile } from '../symbols/debug-files';
import { openLocalGo, type LocalSymbols } from '../symbols/local-symbols';
import type { ObjectReader } from './process-table';

export interface ElfObjectReaderOptions {
  localSymbols: boolean;
  /**
   * Directories with a `.build-id/<xx>/<rest>.debug` tree (installed `*-dbgsym` packages): a file
   * without `.symtab` is named from its debug file's `.symtab` when one is there. Default none.
   */
  debugDirs?: readonly string[];
}

/**
 * Reads mapped files with @firn/elf. With `localSymbols`, also reads `.symtab`/`.dynsym` and Go's
 * `.gopclntab`, so unstripped binaries and every Go binary (stripped or not) get function names
 * on the node, and stripped files whose debug file is installed on the node get them from it
 * (the server symbolizes everything else).
 */
export function elfObjectReader(opts: ElfObjectReaderOptions): ObjectReader {
  const debugDirs = opts.debugDirs ?? [];
  return async (path) => {
    if (!opts.localSymbols) return { buildId: await buildIdOrHash(path) };
    // Parse the headers once: buildIdOrHash would parse them again only to find the build id.
    let elf: ElfFile;
    try {
      elf = await readElfFile(path);
    } catch {
      return { buildId: await buildIdOrHash(path) }; // not ELF (e.g. a mapped data file), or gone (throws)
    }
    const buildId = elf.buildId || (await buildIdOrHash(path));
    try {
      const symbols: LocalSymbols = { loads: elf.loads, symbols: await readSymbolsFromFile(path) };
      if (!elf.hasSymtab && elf.buildId && debugDirs.length > 0) {
        const debugFile = await findDebugFile(elf.buildId, debugDirs);
        const full = debugFile ? await readSymbolsFromFile(debugFile).catch(() => []) : [];
        if (debugFile && full.length > 0) {
          symbols.symbols = mergeSymbols(full, symbols.symbols);
          symbols.debugFile = debugFile;
        }
      }
      Object.assign(symbols, openLocalGo(path, elf, symbols));
      return { buildId, symbols };
    } catch {
      return { buildId };
    }
  };
}

/** The debug file's symbols, plus the file's own `.dynsym` entries at addresses it lacks; sorted. */
function mergeSymbols(primary: readonly ElfSymbol[], extra: readonly ElfSymbol[]): ElfSymbol[] {
  const byAddr = new Map<bigint, ElfSymbol>();
  for (const s of primary) byAddr.set(s.address, s);
  for (const s of extra) if (!byAddr.has(s.address)) byAddr.set(s.address, s);
  return [...byAddr.values()].sort((a, b) => (a.address < b.address ? -1 : a.address > b.address ? 1 : 0));
}

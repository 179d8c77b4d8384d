import { buildIdOrHash, readElfFile, readSymbolsFromFile, type ElfFile } from '@firn/elf';
import { openLocalGo, type LocalSymbols } from '../symbols/local-symbols';
import type { ObjectReader } from './process-table';

/**
 * Reads mapped files with @firn/elf. With `localSymbols`, also reads `.symtab`/`.dynsym` and Go's
 * `.gopclntab`, so unstripped binaries and every Go binary (stripped or not) get function names
 * on the node (the server symbolizes everything else).
 */
export function elfObjectReader(opts: { localSymbols: boolean }): ObjectReader {
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
      Object.assign(symbols, openLocalGo(path, elf, symbols));
      return { buildId, symbols };
    } catch {
      return { buildId };
    }
  };
}

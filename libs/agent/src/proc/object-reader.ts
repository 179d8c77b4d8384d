import { buildIdOrHash, readElfFile, readSymbolsFromFile } from '@firn/elf';
import type { ObjectReader } from './process-table';

/**
 * Reads mapped files with @firn/elf. With `localSymbols`, also reads `.symtab`/`.dynsym`, so
 * unstripped binaries get function names on the node (the server symbolizes everything else).
 */
export function elfObjectReader(opts: { localSymbols: boolean }): ObjectReader {
  return async (path) => {
    const buildId = await buildIdOrHash(path);
    if (!opts.localSymbols) return { buildId };
    try {
      const [elf, symbols] = await Promise.all([readElfFile(path), readSymbolsFromFile(path)]);
      return { buildId, symbols: { loads: elf.loads, symbols } };
    } catch {
      return { buildId }; // not ELF (e.g. a mapped data file): id only
    }
  };
}

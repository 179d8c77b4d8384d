import type { SymbolReader } from '@firn/debuginfo';
import { createSymbolizer } from '@firn/symbols';

/** @firn/symbols (elfutils addr2line over the debug file) as the worker's symbol reader. */
export function symbolsReader(): SymbolReader {
  const symbolizer = createSymbolizer();
  return { symbolize: (files, fileOffsets) => symbolizer.symbolize(files, fileOffsets) };
}

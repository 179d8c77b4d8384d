export * from './types';
export {
  parseElf,
  readElfFile,
  readSymbols,
  readSymbolsFromFile,
  fileOffsetToVaddr,
  buildIdOrHash,
  CONTENT_HASH_PREFIX,
  HASH_EDGE_BYTES,
} from './read';
export { findSymbol } from './symbols';
export { parseKallsyms, lookupKernel, type KernelSymbol, type KernelSymbolTable, type KernelFrame } from './kallsyms';

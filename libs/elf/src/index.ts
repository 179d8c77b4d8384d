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
export { bufferSource, FileSource, type ByteSource, type FileSourceOptions } from './byte-source';
export { openGoSymbols, GoSymbolTable, type GoFrame, type GoPclntabFormat, type GoSymbolsResult } from './gopclntab';

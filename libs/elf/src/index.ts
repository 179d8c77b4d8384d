export { type ElfLoad, type ElfFile, type ElfSymbol, PF_X, SHT_NOBITS, EM_X86_64, EM_AARCH64 } from './types';
export {
  parseElf,
  readElfFile,
  readSymbolsFromFile,
  fileOffsetToVaddr,
  guessMappedLoads,
  mappableWithoutBinary,
  buildIdOrHash,
  CONTENT_HASH_PREFIX,
} from './read';
export { findSymbol } from './symbols';
export { parseKallsyms, lookupKernel, type KernelSymbolTable } from './kallsyms';
export { FileSource } from './byte-source';
export { openGoSymbols, GoSymbolTable } from './gopclntab';

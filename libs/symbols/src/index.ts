export type { SymbolFrame, SymbolizedAddress, SymbolizeFiles, SymbolizeOptions, Symbolizer, NameSource, UnnamedReason } from './types';
export { createSymbolizer, guessMappedLoads, type SymbolizerOptions, type Addr2lineEngine } from './symbolizer';
export { parseAddr2lineOutput, cleanFunctionName, type Addr2lineFlavor } from './addr2line-output';
// Kernel symbols are parsed in @firn/elf so the agent (which may not import server libs) can
// use them too; re-exported here for the server side.
export { parseKallsyms, lookupKernel, type KernelSymbol, type KernelSymbolTable, type KernelFrame } from '@firn/elf';
export { LlvmSymbolizer, parseLlvmSymbolizerJson, type LlvmSymbolizerOptions, type SourceLocation } from './llvm-symbolizer';

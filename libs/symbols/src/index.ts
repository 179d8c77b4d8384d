export { createSymbolizer } from './symbolizer';
export { LlvmSymbolizer, type SourceLocation } from './llvm-symbolizer';

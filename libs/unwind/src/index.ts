export { ARCH_REGISTERS, archOfMachine, type Arch, type ArchRegisters } from './arch';
export { forEachFde, EhFrameWalker, type Cie, type Fde, type EhFrameSection, type EhFrameCounts } from './eh-frame';
export { parseEhFrameHdr, type EhFrameHdr } from './eh-frame-hdr';
export { CfaInterpreter, runCfaProgram, RegRule, type CfaState, type TrackedRegisters } from './cfa-program';
export { CfaKind, FpKind, RaKind, CFA_KIND_NAMES, END_RULE, NO_FDE_RULE, classifyRow, ruleKey, type UnwindRule } from './rules';
export { buildUnwindRows, buildUnwindRowsAsync, lookupRow, RuleSet, type BuiltRows, type UnwindRows, type UnwindTableStats } from './table';
export {
  encodeKernelTable,
  lookupKernelTable,
  kernelRuleSet,
  writeKernelRule,
  KERNEL_PAGE_BITS,
  KERNEL_PAGE_SIZE,
  KERNEL_RULE_SIZE,
  KERNEL_SEARCH_STEPS,
  KERNEL_TABLE_HEADER,
  MAX_KERNEL_RULES,
  RULE_ID_END,
  RULE_ID_NO_FDE,
} from './kernel-table';
export { readFileUnwindTable, type FileUnwindTable, type NoTableReason } from './elf-unwind';
export { DW_EH_PE, Reader } from './reader';
export { listElfFiles, surveyUnwindTables, type CoverageReport } from './survey';

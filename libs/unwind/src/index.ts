export { type UnwindRule } from './rules';
export { encodeKernelTable, lookupKernelTable, kernelRuleSet, writeKernelRule, KERNEL_RULE_SIZE, RULE_ID_NO_FDE } from './kernel-table';
export { readFileUnwindTable, type FileUnwindTable, type NoTableReason } from './elf-unwind';
export { listElfFiles, surveyUnwindTables } from './survey';

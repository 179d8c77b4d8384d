import { EM_AARCH64, EM_X86_64 } from '@firn/elf';

/** Architectures whose unwind rules the table format can express. */
export type Arch = 'x86_64' | 'aarch64';

/** DWARF register numbers an unwinder needs per architecture (psABI register mappings). */
export interface ArchRegisters {
  /** Stack pointer (rsp 7 / sp 31). */
  sp: number;
  /** Frame pointer (rbp 6 / x29). */
  fp: number;
  /** Column holding the return address (the x86-64 pseudo-register 16 / the link register x30). */
  ra: number;
  /** Size of a saved return address / stack slot. */
  wordSize: 8;
}

export const ARCH_REGISTERS: Readonly<Record<Arch, ArchRegisters>> = {
  x86_64: { sp: 7, fp: 6, ra: 16, wordSize: 8 },
  aarch64: { sp: 31, fp: 29, ra: 30, wordSize: 8 },
};

/** The Arch of an ELF e_machine, or undefined for machines the unwinder does not handle. */
export function archOfMachine(machine: number): Arch | undefined {
  if (machine === EM_X86_64) return 'x86_64';
  if (machine === EM_AARCH64) return 'aarch64';
  return undefined;
}

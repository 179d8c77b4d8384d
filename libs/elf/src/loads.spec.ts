import { describe, expect, it } from 'vitest';
import { guessMappedLoads, mappableWithoutBinary } from './read';
import { PF_X, type ElfLoad } from './types';

const R = 4;
const load = (offset: number, vaddr: number, filesz: number, flags: number): ElfLoad => ({
  offset: BigInt(offset),
  vaddr: BigInt(vaddr),
  filesz: BigInt(filesz),
  memsz: BigInt(filesz),
  flags,
});
/** What `objcopy --only-keep-debug` leaves of the loads (readelf -lW): the first keeps offset 0, the others lose their file bytes. */
const debugOf = (loads: ElfLoad[]): ElfLoad[] => loads.map((l, i) => (i === 0 ? { ...l, filesz: 0x340n } : { ...l, offset: l.offset & 0xfffn, filesz: 0n }));

describe(mappableWithoutBinary.name, () => {
  // readelf -lW of real builds: g++ -O2 (GNU ld) and rustc 1.95 release (rust-lld).
  const gnuLd = [load(0, 0, 0x5e0, R), load(0x1000, 0x1000, 0x195, R | PF_X), load(0x2000, 0x2000, 0xf4, R)];
  const lld = [load(0, 0, 0x12800, R), load(0x12800, 0x13800, 0x3c9b0, R | PF_X), load(0x4f1b0, 0x511b0, 0x2628, R | 2)];

  it("is true when a debug file's guessed loads put the code where the binary has it (GNU ld)", () => {
    expect(mappableWithoutBinary(gnuLd, debugOf(gnuLd))).toBe(true);
    expect(guessMappedLoads(debugOf(gnuLd))[1]).toMatchObject({ offset: 0x1000n, vaddr: 0x1000n });
  });

  it("is false for lld's packed layout, where offsets and vaddrs of the code differ from the first segment's", () => {
    expect(mappableWithoutBinary(lld, debugOf(lld))).toBe(false);
  });

  it('is true when the debug file is the binary itself (its loads have file bytes)', () => {
    expect(mappableWithoutBinary(lld, lld)).toBe(true);
  });
});

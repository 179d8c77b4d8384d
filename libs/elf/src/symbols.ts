import { sectionBytes, tableSteps, type Steps } from './steps';
import { SHT_DYNSYM, SHT_SYMTAB, type ElfSymbol } from './types';

const STT_FUNC = 2;
const STT_GNU_IFUNC = 10;
const SHN_UNDEF = 0;
const MAX_SYMTAB = 1 << 30;
/** STB_LOCAL 0, STB_GLOBAL 1, STB_WEAK 2 → preference when symbols share an address. */
const BINDING_RANK: Record<number, number> = { 0: 0, 1: 2, 2: 1 };

/**
 * Function symbols from `.symtab`, plus `.dynsym` entries at addresses `.symtab` does not cover
 * (a stripped binary keeps only `.dynsym`). Sorted by address, one symbol per address.
 */
export function* symbolSteps(fileSize: number): Steps<ElfSymbol[]> {
  const t = yield* tableSteps(fileSize);
  const is64 = t.header.bits === 64;
  const entSize = is64 ? 24 : 16;
  const byAddr = new Map<bigint, ElfSymbol>();
  /** Binding rank of the symbol kept per address: aliases resolve to the public name, as perf does. */
  const rankOf = new Map<bigint, number>();
  for (const type of [SHT_SYMTAB, SHT_DYNSYM]) {
    for (const s of t.sections.filter((x) => x.type === type)) {
      const strSec = t.sections[s.link];
      if (!strSec || s.link === 0) continue;
      const syms = yield* sectionBytes(t, s, fileSize, MAX_SYMTAB);
      const strs = syms && (yield* sectionBytes(t, strSec, fileSize, MAX_SYMTAB));
      if (!syms || !strs) continue;
      const count = Math.floor(syms.length / entSize);
      for (let i = 1; i < count; i++) {
        const o = i * entSize;
        const nameOff = syms.u32(o, 'st_name');
        const info = is64 ? syms.u8(o + 4, 'st_info') : syms.u8(o + 12, 'st_info');
        const shndx = is64 ? syms.u16(o + 6, 'st_shndx') : syms.u16(o + 14, 'st_shndx');
        const kind = info & 0xf;
        if ((kind !== STT_FUNC && kind !== STT_GNU_IFUNC) || shndx === SHN_UNDEF || nameOff === 0) continue;
        const address = is64 ? syms.u64(o + 8, 'st_value') : BigInt(syms.u32(o + 4, 'st_value'));
        const size = is64 ? syms.u64(o + 16, 'st_size') : BigInt(syms.u32(o + 8, 'st_size'));
        // Among aliases at one address (glibc: `__libc_start_main`, `__libc_start_main_impl`,
        // `__libc_start_main_alias_1`, …; a full .symtab lists locals first): a sized symbol over
        // an unsized one, then global over weak over local.
        const rank = BINDING_RANK[info >> 4] ?? 0;
        const prev = byAddr.get(address);
        if (prev !== undefined) {
          const prevRank = rankOf.get(address) ?? 0;
          const better = prev.size === 0n ? size > 0n || rank > prevRank : size > 0n && rank > prevRank;
          if (!better) continue;
        }
        // A .symtab names versioned definitions with their version (`__libc_start_main@@GLIBC_2.34`).
        const name = strs.cstring(nameOff, 'symbol name').replace(/@.*$/, '');
        if (!name) continue;
        byAddr.set(address, { name, address, size });
        rankOf.set(address, rank);
      }
    }
  }
  return [...byAddr.values()].sort((a, b) => (a.address < b.address ? -1 : a.address > b.address ? 1 : 0));
}

/**
 * The function containing `address` in a sorted symbol list: the nearest symbol at or below it,
 * if `address` lies within its size (size 0: up to the next symbol).
 */
export function findSymbol(symbols: readonly ElfSymbol[], address: bigint): ElfSymbol | undefined {
  let lo = 0;
  let hi = symbols.length - 1;
  let best = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (symbols[mid].address <= address) {
      best = mid;
      lo = mid + 1;
    } else {
      hi = mid - 1;
    }
  }
  if (best < 0) return undefined;
  const s = symbols[best];
  if (s.size > 0n) return address < s.address + s.size ? s : undefined;
  const next = symbols[best + 1];
  return next === undefined || address < next.address ? s : undefined;
}

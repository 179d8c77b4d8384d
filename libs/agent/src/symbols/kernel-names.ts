import type { KernelSymbolTable } from '@firn/elf';

/** No kernel function is this long; bounds the match past the last symbol (as lookupKernel does). */
const MAX_LAST_SYMBOL_SPAN = 1n << 20n;

/**
 * Kernel function names for the agent's lifetime, packed: ~120 k kallsyms entries as objects
 * with BigInt addresses cost ~17 MiB of heap; as one address array and one string of names they
 * cost ~4 MiB, which matters for a per-node daemon that aims at ≤ 100 MB RSS.
 */
export class KernelNames {
  private constructor(
    private readonly addrs: BigUint64Array,
    /** names.slice(offsets[i], offsets[i + 1]) is the name of addrs[i]. */
    private readonly offsets: Uint32Array,
    private readonly names: string,
  ) {}

  /** Packs a parsed table (symbols sorted by address, as `parseKallsyms` returns them). */
  static fromTable(table: KernelSymbolTable): KernelNames {
    const n = table.restricted ? 0 : table.symbols.length;
    const addrs = new BigUint64Array(n);
    const offsets = new Uint32Array(n + 1);
    const parts: string[] = [];
    let at = 0;
    for (let i = 0; i < n; i++) {
      const s = table.symbols[i];
      addrs[i] = s.address;
      offsets[i] = at;
      parts.push(s.name);
      at += s.name.length;
    }
    offsets[n] = at;
    return new KernelNames(addrs, offsets, parts.join(''));
  }

  get size(): number {
    return this.addrs.length;
  }

  /** The function containing `addr` (nearest symbol at or below it), or ''. */
  lookup(addr: bigint): string {
    const a = this.addrs;
    let lo = 0;
    let hi = a.length - 1;
    let best = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (a[mid] <= addr) {
        best = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    if (best < 0) return '';
    if (best === a.length - 1 && addr - a[best] >= MAX_LAST_SYMBOL_SPAN) return '';
    return this.names.slice(this.offsets[best], this.offsets[best + 1]);
  }
}

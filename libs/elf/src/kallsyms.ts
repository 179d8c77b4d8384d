export interface KernelSymbol {
  address: bigint;
  name: string;
  /** Loadable module the symbol lives in (`[ext4]` column); absent for the core kernel. */
  module?: string;
}

export interface KernelSymbolTable {
  /** Text symbols, sorted by address, one per address. */
  symbols: KernelSymbol[];
  /**
   * Every address read as 0: kptr_restrict hides them from this reader (not root, or
   * kptr_restrict=2). Lookups then find nothing rather than one wrong name for everything.
   */
  restricted: boolean;
}

/** No kernel function is this long; bounds the match past the last known symbol. */
const MAX_LAST_SYMBOL_SPAN = 1n << 20n;

/**
 * Parses `/proc/kallsyms` text (`<hex address> <type> <name>[\t[module]]`), keeping text
 * symbols (types t/T) only: kernel stack frames point into code.
 */
export function parseKallsyms(text: string): KernelSymbolTable {
  const byAddr = new Map<bigint, KernelSymbol>();
  let lines = 0;
  let zero = 0;
  for (const line of text.split('\n')) {
    const m = /^([0-9a-fA-F]{1,16})\s+([A-Za-z])\s+(\S+)(?:\s+\[([^\]]+)\])?/.exec(line);
    if (!m) continue;
    lines++;
    const address = BigInt('0x' + m[1]);
    if (address === 0n) {
      zero++;
      continue;
    }
    if (m[2] !== 't' && m[2] !== 'T') continue;
    if (byAddr.has(address)) continue;
    const sym: KernelSymbol = { address, name: m[3] };
    if (m[4] !== undefined) sym.module = m[4];
    byAddr.set(address, sym);
  }
  const symbols = [...byAddr.values()].sort((a, b) => (a.address < b.address ? -1 : a.address > b.address ? 1 : 0));
  return { symbols, restricted: lines > 0 && zero === lines };
}

export interface KernelFrame {
  name: string;
  module?: string;
  /** Distance from the symbol's start. */
  offset: bigint;
}

/** The kernel function containing `address` (nearest symbol at or below it), if any. */
export function lookupKernel(table: KernelSymbolTable, address: bigint): KernelFrame | undefined {
  const s = table.symbols;
  let lo = 0;
  let hi = s.length - 1;
  let best = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (s[mid].address <= address) {
      best = mid;
      lo = mid + 1;
    } else {
      hi = mid - 1;
    }
  }
  if (best < 0) return undefined;
  const sym = s[best];
  const offset = address - sym.address;
  if (best === s.length - 1 && offset >= MAX_LAST_SYMBOL_SPAN) return undefined;
  const out: KernelFrame = { name: sym.name, offset };
  if (sym.module !== undefined) out.module = sym.module;
  return out;
}

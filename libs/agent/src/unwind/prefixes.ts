/** One aligned power-of-two block of addresses: [addr, addr + 2^(64 − bits)). */
export interface AddressPrefix {
  addr: bigint;
  /** Prefix length over the 64-bit address. */
  bits: number;
}

/**
 * Splits [start, end) into the fewest aligned power-of-two blocks (each block an LPM-trie
 * prefix): at most ~2·log2(size / page) of them, ~8-20 for a typical code mapping.
 */
export function addressPrefixes(start: bigint, end: bigint): AddressPrefix[] {
  const out: AddressPrefix[] = [];
  let at = start;
  while (at < end) {
    // Largest block aligned at `at` (lowest set bit) that still fits.
    let size = at === 0n ? 1n << 63n : at & -at;
    while (at + size > end) size >>= 1n;
    let log = 0;
    for (let s = size; s > 1n; s >>= 1n) log++;
    out.push({ addr: at, bits: 64 - log });
    at += size;
  }
  return out;
}

/** Size of `struct mapping_key` in profiler.bpf.c. */
export const MAPPING_KEY_SIZE = 16;
/** Size of `struct mapping`. */
export const MAPPING_VALUE_SIZE = 16;
/** `MAPPING_PENDING`: the file's table is still being built. */
export const MAPPING_PENDING = 1;

/** The LPM key for (pid, prefix): prefixlen in host order, pid and address big endian. */
export function mappingKey(pid: number, p: AddressPrefix): Buffer {
  const b = Buffer.alloc(MAPPING_KEY_SIZE);
  b.writeUInt32LE(32 + p.bits, 0);
  b.writeUInt32BE(pid, 4);
  b.writeBigUInt64BE(p.addr, 8);
  return b;
}

/** `struct mapping { u32 table_id; u32 flags; u64 bias; }`. */
export function mappingValue(tableId: number, flags: number, bias: bigint): Buffer {
  const b = Buffer.alloc(MAPPING_VALUE_SIZE);
  b.writeUInt32LE(tableId, 0);
  b.writeUInt32LE(flags, 4);
  b.writeBigUInt64LE(BigInt.asUintN(64, bias), 8);
  return b;
}

/**
 * A JIT's symbol map, /tmp/perf-<pid>.map (`START SIZE name`, hex), as written by
 * `node --perf-basic-prof` and other JITs for perf(1).
 */
export class PerfMap {
  private constructor(
    private readonly starts: BigUint64Array,
    private readonly ends: BigUint64Array,
    private readonly names: string[],
  ) {}

  static parse(text: string): PerfMap {
    const rows: Array<[bigint, bigint, string]> = [];
    for (const line of text.split('\n')) {
      const m = /^(?:0x)?([0-9a-fA-F]+)\s+(?:0x)?([0-9a-fA-F]+)\s+(.+)$/.exec(line);
      if (!m) continue;
      const start = BigInt(`0x${m[1]}`);
      rows.push([start, start + BigInt(`0x${m[2]}`), m[3].trim()]);
    }
    // Later entries win for the same start (code is re-JITted at reused addresses).
    rows.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    return new PerfMap(
      BigUint64Array.from(rows.map((r) => r[0])),
      BigUint64Array.from(rows.map((r) => r[1])),
      rows.map((r) => r[2]),
    );
  }

  get size(): number {
    return this.names.length;
  }

  lookup(addr: bigint): string {
    let lo = 0;
    let hi = this.starts.length - 1;
    let best = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (this.starts[mid] <= addr) {
        best = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    // Walk back over overlapping older entries: the nearest one that covers addr wins.
    for (let i = best; i >= 0 && i > best - 8; i--) if (addr < this.ends[i]) return this.names[i];
    return '';
  }
}

/** One line of /proc/<pid>/maps. */
export interface ProcMapping {
  start: bigint;
  end: bigint;
  perms: string;
  offset: bigint;
  dev: string;
  inode: number;
  /** File path, `[vdso]`-style pseudo name, or '' for anonymous memory. */
  path: string;
}

/**
 * Parses /proc/<pid>/maps; lines that do not parse are skipped (the file can change as we read).
 * `executableOnly` keeps code mappings only (where sampled instruction pointers can be): a Node
 * process has ~1000 mappings, mostly heap, and skipping them before the regex is most of the cost.
 */
export function parseProcMaps(text: string, opts: { executableOnly?: boolean } = {}): ProcMapping[] {
  const out: ProcMapping[] = [];
  for (const line of text.split('\n')) {
    // perms ("r-xp") follow the first space; [2] is the x bit.
    if (opts.executableOnly && line.charCodeAt(line.indexOf(' ') + 3) !== 120 /* x */) continue;
    const m = /^([0-9a-f]+)-([0-9a-f]+)\s+(\S+)\s+([0-9a-f]+)\s+(\S+)\s+(\d+)\s*(.*)$/.exec(line);
    if (!m) continue;
    out.push({
      start: BigInt(`0x${m[1]}`),
      end: BigInt(`0x${m[2]}`),
      perms: m[3],
      offset: BigInt(`0x${m[4]}`),
      dev: m[5],
      inode: Number(m[6]),
      path: m[7].trim(),
    });
  }
  return out;
}

/** The mapping containing `addr` (mappings are sorted by start, as the kernel prints them). */
export function findMapping(maps: readonly ProcMapping[], addr: bigint): ProcMapping | undefined {
  let lo = 0;
  let hi = maps.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const m = maps[mid];
    if (addr < m.start) hi = mid - 1;
    else if (addr >= m.end) lo = mid + 1;
    else return m;
  }
  return undefined;
}

/** A mapping backed by a regular file (not anonymous memory, `[vdso]`, `[stack]`, ...). */
export function isFileMapping(m: ProcMapping): boolean {
  return m.inode !== 0 && m.path.startsWith('/');
}

/** Field 22 of /proc/<pid>/stat: start time in clock ticks; changes when a pid is reused. */
export function parseStartTime(stat: string): string {
  // comm (field 2) may contain spaces and parentheses: fields after it start past the last ')'.
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return rest[19] ?? '';
}

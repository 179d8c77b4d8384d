import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { readElfFile } from '@firn/elf';

/**
 * Where the node keeps separate debug files: the `.build-id/<xx>/<rest>.debug` tree that Debian's
 * `*-dbgsym` / `-dbg` packages, Fedora's `debuginfo` packages and `debuginfod-find` fill (the
 * layout GDB, perf and elfutils read). A stripped library keeps only `.dynsym`, which names its
 * exported functions and nothing else; its debug file has the full `.symtab` (and DWARF).
 */
export const DEFAULT_DEBUG_DIRS: readonly string[] = ['/usr/lib/debug'];

/** The path of the debug file of `buildId` under a debug directory (GNU build ids only). */
export function buildIdDebugPath(dir: string, buildId: string): string | undefined {
  if (!/^[0-9a-f]{4,}$/.test(buildId)) return undefined;
  return join(dir, '.build-id', buildId.slice(0, 2), `${buildId.slice(2)}.debug`);
}

/**
 * The first debug file for `buildId` in `dirs` whose own build id matches (a stale file left by
 * an upgraded package must not name another build's addresses), or undefined.
 */
export async function findDebugFile(buildId: string, dirs: readonly string[]): Promise<string | undefined> {
  for (const dir of dirs) {
    const path = buildIdDebugPath(dir, buildId);
    if (!path) return undefined;
    const st = await stat(path).catch(() => undefined);
    if (!st?.isFile()) continue;
    const elf = await readElfFile(path).catch(() => undefined);
    if (elf?.buildId === buildId) return path;
  }
  return undefined;
}

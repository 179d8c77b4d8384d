import { createHash } from 'node:crypto';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { FirnError } from '@firn/errors';

const run = promisify(execFile);

/** libs/agent/bpf: the BPF C sources (shipped with the agent, compiled on the node). */
export const BPF_SOURCE_DIR = resolve(__dirname, '..', '..', 'bpf');

export const CLANG_FLAGS = ['-O2', '-g', '-target', 'bpf', '-D__TARGET_ARCH_x86', '-I/usr/include/x86_64-linux-gnu'];

/** node_modules/.cache/firn-agent under the repository (gitignored with node_modules). */
export function defaultBpfCacheDir(): string {
  let dir = resolve(__dirname);
  for (;;) {
    if (existsSync(join(dir, 'node_modules'))) return join(dir, 'node_modules', '.cache', 'firn-agent');
    const up = resolve(dir, '..');
    if (up === dir) return join(resolve(__dirname), '.firn-agent-cache');
    dir = up;
  }
}

export interface CompileOptions {
  /** Source file name inside `sourceDir`. */
  name?: string;
  sourceDir?: string;
  cacheDir?: string;
  clang?: string;
  /** Extra `-D` definitions (e.g. map sizes); part of the cache key. */
  defines?: Record<string, string | number>;
}

/**
 * Compiles the BPF program unless an object for the same source and flags is cached, so a fresh
 * checkout needs no manual build step. The cache key is a hash of the source and the flags.
 */
export async function compileBpf(opts: CompileOptions = {}): Promise<string> {
  const name = opts.name ?? 'profiler.bpf.c';
  const src = join(opts.sourceDir ?? BPF_SOURCE_DIR, name);
  const cacheDir = opts.cacheDir ?? defaultBpfCacheDir();
  const defines = Object.entries(opts.defines ?? {})
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([k, v]) => `-D${k}=${v}`);
  const flags = [...CLANG_FLAGS, ...defines];
  const source = await readFile(src);
  const hash = createHash('sha256').update(source).update('\0').update(flags.join(' ')).digest('hex').slice(0, 16);
  const out = join(cacheDir, `${name.replace(/\.c$/, '')}-${hash}.o`);
  if (existsSync(out)) return out;
  await mkdir(cacheDir, { recursive: true });
  const tmp = `${out}.${process.pid}.tmp`;
  try {
    await run(opts.clang ?? 'clang', [...flags, '-c', src, '-o', tmp], { maxBuffer: 16 << 20 });
    await rename(tmp, out);
  } catch (err) {
    await rm(tmp, { force: true });
    const e = err as { code?: string; stderr?: string; message: string };
    if (e.code === 'ENOENT') throw FirnError.unavailable('clang not found: the agent compiles its BPF program on start (install clang and libbpf-dev)');
    throw FirnError.internal(`compiling ${src} failed: ${e.stderr?.trim() || e.message}`);
  }
  return out;
}

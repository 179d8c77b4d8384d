import { createHash } from 'node:crypto';
import { open, type FileHandle } from 'node:fs/promises';
import { FirnError, isFirnError } from '@firn/errors';
import { elfFileSteps } from './elf-file';
import type { Steps } from './steps';
import { symbolSteps } from './symbols';
import { PF_X, type ElfFile, type ElfLoad, type ElfSymbol } from './types';

function runSync<T>(steps: Steps<T>, bytes: Uint8Array): T {
  let r = steps.next();
  while (!r.done) {
    const { offset, length } = r.value;
    r = steps.next(bytes.subarray(offset, offset + length));
  }
  return r.value;
}

async function readAt(fh: FileHandle, offset: number, length: number): Promise<Uint8Array> {
  const buf = Buffer.alloc(length);
  let got = 0;
  while (got < length) {
    const { bytesRead } = await fh.read(buf, got, length - got, offset + got);
    if (bytesRead === 0) break;
    got += bytesRead;
  }
  return buf.subarray(0, got);
}

async function runFile<T>(path: string, make: (fileSize: number) => Steps<T>): Promise<T> {
  let fh: FileHandle;
  try {
    fh = await open(path, 'r');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw FirnError.notFound(`ELF file not found: ${path}`);
    throw new FirnError('invalid_argument', `cannot open ELF file ${path}: ${code ?? String(err)}`, { cause: err });
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw FirnError.invalidArgument(`not a regular file: ${path}`);
    const size = st.size;
    const steps = make(size);
    let r = steps.next();
    while (!r.done) {
      const { offset, length } = r.value;
      const n = Math.max(0, Math.min(length, size - offset));
      r = steps.next(await readAt(fh, offset, n));
    }
    return r.value;
  } finally {
    await fh.close();
  }
}

/** Parses an ELF image held in memory. Throws FirnError invalid_argument on malformed input. */
export function parseElf(bytes: Uint8Array): ElfFile {
  return runSync(elfFileSteps(bytes.length), bytes);
}

/**
 * Like parseElf, reading only the file header, program and section headers, section names,
 * notes and `.gnu_debuglink` with positioned reads (a multi-GB debug file costs a few KiB).
 */
export function readElfFile(path: string): Promise<ElfFile> {
  return runFile(path, elfFileSteps);
}

/** Function symbols of `.symtab`/`.dynsym`, sorted by address (see findSymbol). */
export function readSymbols(bytes: Uint8Array): ElfSymbol[] {
  return runSync(symbolSteps(bytes.length), bytes);
}

/** readSymbols for a file, reading only the headers and the symbol/string tables. */
export function readSymbolsFromFile(path: string): Promise<ElfSymbol[]> {
  return runFile(path, symbolSteps);
}

/**
 * Maps an offset in the file (what a profiler sees: address − mapping start + mapping offset)
 * to the ELF virtual address the debug info uses, through the executable PT_LOAD holding it.
 * Works for PIE and non-PIE alike since both record vaddr and offset per segment.
 */
export function fileOffsetToVaddr(elf: Pick<ElfFile, 'loads'>, fileOffset: bigint): bigint | undefined {
  for (const l of elf.loads) {
    if ((l.flags & PF_X) === 0) continue;
    if (fileOffset >= l.offset && fileOffset < l.offset + l.filesz) return l.vaddr + (fileOffset - l.offset);
  }
  return undefined;
}

/**
 * `objcopy --only-keep-debug` keeps each PT_LOAD's vaddr but zeroes its file size and moves its
 * offset, so a debug file alone cannot map file offsets. Without the binary we assume the
 * usual linker layout where file offsets grow with vaddr from the first segment (GNU ld with or
 * without PIE, Go's linker); lld-style layouts that pack offsets tighter than vaddrs need
 * the binary (see mappableWithoutBinary).
 */
export function guessMappedLoads(loads: ElfLoad[]): ElfLoad[] {
  const exec = loads.filter((l) => (l.flags & PF_X) !== 0);
  // A real executable segment holds all its bytes in the file (filesz = memsz). In a debug file
  // it holds none, or only the ELF headers when they share the segment (Go's linker: 0x1000 of
  // 0x60000 bytes), so every segment's offset is rebuilt, not just the empty ones.
  if (exec.length === 0 || exec.some((l) => l.filesz >= l.memsz)) return loads;
  const first = loads.reduce((a, b) => (b.vaddr < a.vaddr ? b : a));
  const bias = first.vaddr - first.offset;
  return loads.map((l) => ({ ...l, offset: l.vaddr - bias, filesz: l.memsz }));
}

/**
 * Whether a debug file alone (`--only-keep-debug`, or a `*-dbgsym` package's file) can map this
 * binary's file offsets: true when guessMappedLoads of the debug file's loads puts every
 * executable segment of the binary at its real offset. False for lld's packed layouts (Rust ≥
 * 1.90 links with rust-lld by default), whose code must be symbolized with the binary itself.
 */
export function mappableWithoutBinary(binary: readonly ElfLoad[], debug: ElfLoad[]): boolean {
  const guessed = guessMappedLoads(debug);
  return binary.filter((l) => (l.flags & PF_X) !== 0).every((l) => guessed.some((g) => (g.flags & PF_X) !== 0 && g.vaddr === l.vaddr && g.offset === l.offset));
}

/** Bytes hashed from each end of a file without a build id. */
export const HASH_EDGE_BYTES = 4096;
/** Prefix of content-hash ids. Not hex, so it can never equal a real (hex) GNU build id. */
export const CONTENT_HASH_PREFIX = 'h-';

/**
 * The file's GNU build id, else `h-` + sha256(first 4 KiB ‖ last 4 KiB ‖ decimal file size):
 * cheap on huge binaries, stable across hosts for the same file, and distinct from any build id.
 * Files that are not ELF at all get the content hash too.
 */
export async function buildIdOrHash(path: string): Promise<string> {
  try {
    const elf = await readElfFile(path);
    if (elf.buildId) return elf.buildId;
  } catch (err) {
    if (!isFirnError(err, 'invalid_argument')) throw err;
  }
  let fh: FileHandle;
  try {
    fh = await open(path, 'r');
  } catch (err) {
    throw FirnError.notFound(`cannot open ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  try {
    const size = (await fh.stat()).size;
    const head = await readAt(fh, 0, Math.min(HASH_EDGE_BYTES, size));
    const tailStart = Math.max(0, size - HASH_EDGE_BYTES);
    const tail = await readAt(fh, tailStart, size - tailStart);
    const h = createHash('sha256').update(head).update(tail).update(String(size));
    return CONTENT_HASH_PREFIX + h.digest('hex');
  } finally {
    await fh.close();
  }
}

import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { FirnError } from '@firn/errors';

/**
 * Synchronous random access to a file's bytes. Table readers that answer many small lookups
 * (`.gopclntab`) use it instead of the generator steps: a lookup touches a dozen scattered
 * ranges, and a promise per range would cost more than the read.
 */
export interface ByteSource {
  readonly size: number;
  /** Exactly `length` bytes at `offset`, or FirnError invalid_argument if out of range. */
  read(offset: number, length: number, what: string): Uint8Array;
  close(): void;
}

function outOfRange(offset: number, length: number, size: number, what: string): FirnError {
  return FirnError.invalidArgument(`ELF truncated: ${what} at file offset ${offset} needs ${length} bytes (file has ${size})`);
}

function inRange(offset: number, length: number, size: number): boolean {
  return Number.isSafeInteger(offset) && Number.isSafeInteger(length) && offset >= 0 && length >= 0 && offset + length <= size;
}

/** A source over bytes already in memory. */
export function bufferSource(bytes: Uint8Array): ByteSource {
  return {
    size: bytes.length,
    read(offset, length, what) {
      if (!inRange(offset, length, bytes.length)) throw outOfRange(offset, length, bytes.length, what);
      return bytes.subarray(offset, offset + length);
    },
    close() {},
  };
}

export interface FileSourceOptions {
  /** Bytes per cached block. Default 16 KiB. */
  blockSize?: number;
  /** Blocks kept (least recently used go first). Default 64 (1 MiB). */
  maxBlocks?: number;
}

/**
 * A file read with positioned `readSync` calls through a small LRU block cache, so memory stays
 * bounded however large the file (a kubelet's `.gopclntab` is tens of MB) while repeated lookups
 * in the same area hit memory. Keeps the file descriptor open until `close()`: a file reached
 * through `/proc/<pid>/map_files` stays readable after that process exits.
 */
export class FileSource implements ByteSource {
  private readonly blocks = new Map<number, Uint8Array>();
  private readonly blockSize: number;
  private readonly maxBlocks: number;
  private fd: number | undefined;

  private constructor(
    fd: number,
    readonly size: number,
    opts: FileSourceOptions,
  ) {
    this.fd = fd;
    this.blockSize = Math.max(512, opts.blockSize ?? 16 << 10);
    this.maxBlocks = Math.max(2, opts.maxBlocks ?? 64);
  }

  /** Opens a regular file; `not_found` if missing, `invalid_argument` if unreadable. */
  static open(path: string, opts: FileSourceOptions = {}): FileSource {
    let fd: number;
    try {
      fd = openSync(path, 'r');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') throw FirnError.notFound(`file not found: ${path}`);
      throw new FirnError('invalid_argument', `cannot open ${path}: ${code ?? String(err)}`, { cause: err });
    }
    try {
      const st = fstatSync(fd);
      if (!st.isFile()) throw FirnError.invalidArgument(`not a regular file: ${path}`);
      return new FileSource(fd, st.size, opts);
    } catch (err) {
      closeSync(fd);
      throw err;
    }
  }

  get open(): boolean {
    return this.fd !== undefined;
  }

  read(offset: number, length: number, what: string): Uint8Array {
    if (!inRange(offset, length, this.size)) throw outOfRange(offset, length, this.size, what);
    const bs = this.blockSize;
    const first = Math.floor(offset / bs);
    const last = Math.floor((offset + Math.max(length, 1) - 1) / bs);
    if (first === last) {
      const b = this.block(first);
      const at = offset - first * bs;
      return b.subarray(at, at + length);
    }
    const out = new Uint8Array(length);
    let done = 0;
    for (let i = first; i <= last; i++) {
      const b = this.block(i);
      const from = i === first ? offset - first * bs : 0;
      const n = Math.min(b.length - from, length - done);
      out.set(b.subarray(from, from + n), done);
      done += n;
    }
    return out;
  }

  close(): void {
    if (this.fd === undefined) return;
    const fd = this.fd;
    this.fd = undefined;
    this.blocks.clear();
    closeSync(fd);
  }

  private block(i: number): Uint8Array {
    const hit = this.blocks.get(i);
    if (hit) {
      // Map iteration order is insertion order: re-inserting keeps the LRU at the front.
      this.blocks.delete(i);
      this.blocks.set(i, hit);
      return hit;
    }
    if (this.fd === undefined) throw FirnError.invalidArgument('file source is closed');
    const start = i * this.blockSize;
    const len = Math.min(this.blockSize, this.size - start);
    const buf = new Uint8Array(len);
    let got = 0;
    while (got < len) {
      const n = readSync(this.fd, buf, got, len - got, start + got);
      if (n === 0) break;
      got += n;
    }
    // The file shrank under us: what is missing is out of range.
    if (got < len) throw outOfRange(start, len, start + got, 'block');
    if (this.blocks.size >= this.maxBlocks) {
      const oldest = this.blocks.keys().next().value;
      if (oldest !== undefined) this.blocks.delete(oldest);
    }
    this.blocks.set(i, buf);
    return buf;
  }
}

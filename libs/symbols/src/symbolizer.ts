import {
  fileOffsetToVaddr,
  FileSource,
  findSymbol,
  guessMappedLoads,
  openGoSymbols,
  readElfFile,
  readSymbolsFromFile,
  type ElfFile,
  type ElfSymbol,
} from '@firn/elf';
import { ErrorCode, FirnError } from '@firn/errors';
import { cleanFunctionName, parseAddr2lineOutput, type Addr2lineFlavor } from './addr2line-output';
import { Limiter } from './limiter';
import { runTool } from './run-tool';
import type { NameSource, SymbolFrame, SymbolizedAddress, SymbolizeFiles, SymbolizeOptions, Symbolizer } from './types';

export type Addr2lineEngine = Addr2lineFlavor;

export interface SymbolizerOptions {
  /**
   * The addr2line that answers first. Default `binutils`: GNU addr2line resolves inline chains
   * about 100× faster than elfutils 0.188 on large compile units (elfutils re-walks the unit's
   * DIE tree for every address with `-i`: ~20 ms/address on a 3 MB unit), reads DWARF 4/5,
   * compressed sections and Go ≤ 1.19 line tables.
   */
  engine?: Addr2lineEngine;
  /** The primary engine's binary. Default `addr2line` (binutils) or `eu-addr2line` (elfutils), on `env.PATH`. */
  addr2linePath?: string;
  /**
   * The other engine's binary, asked again for addresses the first one leaves without a source
   * line or with a Rust v0 (`_R…`) name still mangled; also used alone if the primary is not
   * installed. `false` turns it off. Default `eu-addr2line` (or `addr2line` when engine is
   * elfutils); skipped silently if it is not installed.
   */
  secondaryAddr2linePath?: string | false;
  /** Addresses per tool process. Default 5000. */
  maxBatch?: number;
  /** Tool processes running at once across all calls. Default 2. */
  concurrency?: number;
  /** Deadline of a call without its own timeoutMs. Default 60 s. */
  defaultTimeoutMs?: number;
  /**
   * Environment of the tool processes. Default: a fixed PATH and LC_ALL=C, nothing inherited,
   * so DEBUGINFOD_URLS can never make elfutils go to the network mid-request.
   */
  env?: Record<string, string>;
  /** Per-process output cap. Default 256 MiB. */
  maxOutputBytes?: number;
}

const DEFAULT_TOOL: Record<Addr2lineEngine, string> = { binutils: 'addr2line', elfutils: 'eu-addr2line' };
const OTHER: Record<Addr2lineEngine, Addr2lineEngine> = { binutils: 'elfutils', elfutils: 'binutils' };
const DEFAULT_ENV = { PATH: '/usr/local/bin:/usr/bin:/bin', LC_ALL: 'C' };
/**
 * No `-C`: names stay raw (linkage names), as every other producer stores them; the queriers
 * demangle all of them in one place (@firn/demangle) and answer both `name` and `system_name`.
 */
const ENGINE_ARGS = ['-a', '-f', '-i'];

function hex(v: bigint): string {
  return '0x' + v.toString(16);
}

interface Engine {
  tool: string;
  flavor: Addr2lineFlavor;
}

/**
 * elfutils 0.188 drops the inline frames of Rust code and finds no lines in Go ≤ 1.19
 * binaries; binutils gets both right, so it goes first for files those toolchains produced
 * even when elfutils is the configured engine.
 */
function binutilsFirst(elf: ElfFile): boolean {
  return elf.goBuildId !== undefined || elf.sections.some((s) => s.name === '.gopclntab') || elf.comment.some((c) => c.startsWith('rustc version'));
}

/** No source line at all. */
function needsSecondOpinion(frames: SymbolFrame[]): boolean {
  return !frames.some((f) => f.fileName !== '');
}

async function elfOrThrow(path: string, role: string): Promise<ElfFile> {
  try {
    return await readElfFile(path);
  } catch (err) {
    if (err instanceof FirnError) throw new FirnError(err.code, `${role} ${path}: ${err.message}`, { cause: err });
    throw err;
  }
}

class ElfutilsSymbolizer implements Symbolizer {
  private readonly limiter: Limiter;
  private readonly primary: Engine;
  private readonly secondary: Engine | undefined;
  private readonly maxBatch: number;
  private readonly timeoutMs: number;
  private readonly env: Record<string, string>;
  private readonly maxOutputBytes: number;

  constructor(opts: SymbolizerOptions) {
    const engine = opts.engine ?? 'binutils';
    this.primary = { tool: opts.addr2linePath ?? DEFAULT_TOOL[engine], flavor: engine };
    const other = OTHER[engine];
    const secondary = opts.secondaryAddr2linePath ?? DEFAULT_TOOL[other];
    this.secondary = secondary === false ? undefined : { tool: secondary, flavor: other };
    this.maxBatch = Math.max(1, opts.maxBatch ?? 5000);
    this.limiter = new Limiter(Math.max(1, opts.concurrency ?? 2));
    this.timeoutMs = opts.defaultTimeoutMs ?? 60_000;
    this.env = opts.env ?? DEFAULT_ENV;
    this.maxOutputBytes = opts.maxOutputBytes ?? 256 << 20;
  }

  async symbolize(files: SymbolizeFiles, fileOffsets: bigint[], opts: SymbolizeOptions = {}): Promise<SymbolizedAddress[]> {
    if (fileOffsets.length === 0) return [];
    const ctl = new AbortController();
    const timeoutMs = opts.timeoutMs ?? this.timeoutMs;
    const timer = setTimeout(
      () => ctl.abort(new FirnError(ErrorCode.DeadlineExceeded, `symbolizing ${files.debugPath} took longer than ${timeoutMs} ms`)),
      timeoutMs,
    );
    const onAbort = (): void => ctl.abort(opts.signal?.reason);
    if (opts.signal?.aborted) onAbort();
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      return await this.run(files, fileOffsets, ctl.signal);
    } finally {
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
    }
  }

  private async run(files: SymbolizeFiles, fileOffsets: bigint[], signal: AbortSignal): Promise<SymbolizedAddress[]> {
    const debugElf = await elfOrThrow(files.debugPath, 'debug file');
    const binaryElf = files.binaryPath ? await elfOrThrow(files.binaryPath, 'binary') : undefined;
    const loads = files.loads ?? (binaryElf ? binaryElf.loads : guessMappedLoads(debugElf.loads));
    const vaddrs = fileOffsets.map((o) => fileOffsetToVaddr({ loads }, o));
    const go = this.goFrames(files, binaryElf, debugElf, vaddrs);
    const frames = go.frames;
    const sources = new Map<bigint, NameSource>();
    for (const v of frames.keys()) sources.set(v, 'gopclntab');
    // Go code named by the Go table needs no addr2line process.
    const unique = [...new Set(vaddrs.filter((v): v is bigint => v !== undefined && !frames.has(v)))];

    // elfutils misses Rust inline frames and Go line tables: let binutils lead for those files.
    const swap = this.primary.flavor === 'elfutils' && this.secondary !== undefined && binutilsFirst(debugElf);
    let [first, second] = swap && this.secondary ? [this.secondary, this.primary] : [this.primary, this.secondary];
    let results: SymbolFrame[][] = [];
    if (unique.length > 0) {
      try {
        results = await this.batched(first, true, files.debugPath, unique, signal);
      } catch (err) {
        if (!(second && err instanceof FirnError && err.code === ErrorCode.Unavailable)) throw err;
        [first, second] = [second, undefined];
        results = await this.batched(first, true, files.debugPath, unique, signal);
      }
    }
    unique.forEach((v, i) => {
      frames.set(v, results[i]);
      if (results[i].length > 0) sources.set(v, results[i].some((f) => f.fileName !== '') ? 'dwarf' : 'symtab');
    });

    const retry = unique.filter((v) => needsSecondOpinion(frames.get(v) ?? []));
    if (second && debugElf.hasDwarf && retry.length > 0) {
      const again = await this.batched(second, false, files.debugPath, retry, signal);
      retry.forEach((v, i) => {
        if (again[i].some((f) => f.fileName !== '') && !needsSecondOpinion(again[i])) {
          frames.set(v, again[i]);
          sources.set(v, 'dwarf');
        }
      });
    }

    const noName = unique.filter((v) => (frames.get(v) ?? []).length === 0);
    if (noName.length > 0) {
      const symbols = await this.symbolsFor(files);
      for (const v of noName) {
        const s = findSymbol(symbols, v);
        if (s) {
          frames.set(v, [{ functionName: cleanFunctionName(s.name), fileName: '', line: 0, inlined: false }]);
          sources.set(v, 'symtab');
        }
      }
    }
    return fileOffsets.map((address, i): SymbolizedAddress => {
      const v = vaddrs[i];
      if (v === undefined) return { address, frames: [], unnamed: 'outside_code' };
      const f = frames.get(v) ?? [];
      const source = sources.get(v);
      if (f.length > 0 && source) return { address, frames: f, source };
      return { address, frames: f, unnamed: go.unsupported ? 'unsupported_go_table' : 'no_symbol' };
    });
  }

  /**
   * Go functions named from `.gopclntab` (the binary's, else the debug file's: a split debug
   * file keeps the section as NOBITS), as the Go runtime names them, inlined calls included.
   * Works on stripped Go binaries, which have neither DWARF nor `.symtab`. Addresses outside Go
   * code (cgo's C, an unreadable table) are left to addr2line.
   */
  private goFrames(
    files: SymbolizeFiles,
    binaryElf: ElfFile | undefined,
    debugElf: ElfFile,
    vaddrs: ReadonlyArray<bigint | undefined>,
  ): { frames: Map<bigint, SymbolFrame[]>; unsupported: boolean } {
    const out = new Map<bigint, SymbolFrame[]>();
    let unsupported = false;
    const candidates: Array<[string, ElfFile]> = [];
    if (files.binaryPath && binaryElf) candidates.push([files.binaryPath, binaryElf]);
    candidates.push([files.debugPath, debugElf]);
    for (const [path, elf] of candidates) {
      if (elf.goBuildId === undefined && !elf.sections.some((s) => s.name.endsWith('.gopclntab'))) continue;
      let src: FileSource | undefined;
      try {
        src = FileSource.open(path);
        const r = openGoSymbols(elf, src);
        if (r.kind === 'unsupported') unsupported = true;
        if (r.kind !== 'table') continue;
        for (const v of vaddrs) {
          if (v === undefined || out.has(v)) continue;
          try {
            const got = r.table.lookup(v);
            if (got.length > 0)
              out.set(
                v,
                got.map(({ functionName, fileName, line, inlined }) => ({ functionName, fileName, line, inlined })),
              );
          } catch (err) {
            if (!(err instanceof FirnError)) throw err;
          }
        }
        return { frames: out, unsupported };
      } catch (err) {
        if (!(err instanceof FirnError)) throw err;
      } finally {
        src?.close();
      }
    }
    return { frames: out, unsupported };
  }

  /** `.symtab`/`.dynsym` of the binary, else of the debug file; none if unreadable. */
  private async symbolsFor(files: SymbolizeFiles): Promise<ElfSymbol[]> {
    for (const path of [files.binaryPath, files.debugPath]) {
      if (!path) continue;
      try {
        const syms = await readSymbolsFromFile(path);
        if (syms.length > 0) return syms;
      } catch (err) {
        if (!(err instanceof FirnError)) throw err;
      }
    }
    return [];
  }

  private async batched(engine: Engine, primary: boolean, file: string, vaddrs: bigint[], signal: AbortSignal): Promise<SymbolFrame[][]> {
    const batches: bigint[][] = [];
    for (let i = 0; i < vaddrs.length; i += this.maxBatch) batches.push(vaddrs.slice(i, i + this.maxBatch));
    const out = await Promise.all(batches.map((b) => this.limiter.run(signal, () => this.runBatch(engine, primary, file, b, signal))));
    return out.flat();
  }

  private async runBatch({ tool, flavor }: Engine, primary: boolean, file: string, vaddrs: bigint[], signal: AbortSignal): Promise<SymbolFrame[][]> {
    let res;
    try {
      res = await runTool(tool, ['-e', file, ...ENGINE_ARGS], {
        stdin: vaddrs.map(hex).join('\n') + '\n',
        env: this.env,
        signal,
        maxOutputBytes: this.maxOutputBytes,
      });
    } catch (err) {
      // A missing second opinion only costs the few addresses it would have improved.
      if (!primary && err instanceof FirnError && err.code === ErrorCode.Unavailable) return vaddrs.map(() => []);
      throw err;
    }
    // elfutils exits 1 whenever some address is unknown, so only "no output at all" is a failure.
    if (res.stdout === '' && res.code !== 0) {
      if (!primary) return vaddrs.map(() => []);
      const why = res.stderr.split('\n')[0]?.trim() || `exit code ${res.code}`;
      throw FirnError.invalidArgument(`${tool} cannot read ${file}: ${why}`);
    }
    return parseAddr2lineOutput(res.stdout, vaddrs, flavor);
  }
}

export function createSymbolizer(opts: SymbolizerOptions = {}): Symbolizer {
  return new ElfutilsSymbolizer(opts);
}

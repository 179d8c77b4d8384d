import { fileOffsetToVaddr, guessMappedLoads, readElfFile, readSymbolsFromFile, type ElfLoad, type ElfSymbol } from '@firn/elf';
import { ErrorCode, FirnError } from '@firn/errors';
import { Limiter } from './limiter';
import { runTool } from './run-tool';
import type { SymbolizeFiles, SymbolizeOptions } from './types';

/**
 * One source location as a compiler's profile reader sees it: the function's LINKAGE name
 * (mangled for C++; what `clang -fprofile-sample-use` and Go's PGO match on), the line, the raw
 * DWARF discriminator, and the line the function starts at (`DW_AT_decl_line` of its
 * subprogram, else the line of its entry instruction), which profile formats count line offsets
 * from.
 */
export interface SourceLocation {
  /** Linkage (mangled) name; '' if unknown. */
  functionName: string;
  fileName: string;
  /** 0 = no line (compiler-generated code). */
  line: number;
  column: number;
  /** Raw DWARF discriminator (LLVM's encoding packs base discriminator and duplication factor). */
  discriminator: number;
  /** DW_AT_decl_line of the function, else the line of its entry instruction; 0 if unknown. */
  startLine: number;
}

export interface LlvmSymbolizerOptions {
  /** The tool. Default `llvm-symbolizer` on `env.PATH` (Debian package `llvm`). */
  path?: string;
  /** Addresses per process. Default 20 000. */
  maxBatch?: number;
  /** Processes at once across all calls. Default 1 (exports are rare and large). */
  concurrency?: number;
  /** Deadline of a call without its own timeoutMs. Default 120 s. */
  defaultTimeoutMs?: number;
  env?: Record<string, string>;
  maxOutputBytes?: number;
}

const DEFAULT_ENV = { PATH: '/usr/local/bin:/usr/bin:/bin', LC_ALL: 'C' };
// JSON carries the discriminator and the function's start line, which addr2line's text drops;
// --no-demangle with linkage names gives the names compilers match profiles against.
const ARGS = ['--inlining', '--functions=linkage', '--no-demangle', '--output-style=JSON'];

/**
 * `llvm-symbolizer` (LLVM's own DWARF reader) over one binary or debug file. Unlike binutils
 * 2.40 addr2line it reads clang 14's DWARF 5 inline chains, and its JSON output has what
 * profile-guided optimization needs beyond addr2line: discriminators and `StartLine`.
 */
export class LlvmSymbolizer {
  private readonly tool: string;
  private readonly maxBatch: number;
  private readonly limiter: Limiter;
  private readonly timeoutMs: number;
  private readonly env: Record<string, string>;
  private readonly maxOutputBytes: number;

  constructor(opts: LlvmSymbolizerOptions = {}) {
    this.tool = opts.path ?? 'llvm-symbolizer';
    this.maxBatch = Math.max(1, opts.maxBatch ?? 20_000);
    this.limiter = new Limiter(Math.max(1, opts.concurrency ?? 1));
    this.timeoutMs = opts.defaultTimeoutMs ?? 120_000;
    this.env = opts.env ?? DEFAULT_ENV;
    this.maxOutputBytes = opts.maxOutputBytes ?? 512 << 20;
  }

  /**
   * Resolves file offsets (as the agent reports them) in `files`: per offset, its inline chain,
   * innermost inlined function first and the function really holding the code last ([] =
   * unknown). `returnAddresses` are looked up one byte earlier, inside the call instruction,
   * so a caller's line is the call's line.
   */
  async resolve(
    files: SymbolizeFiles,
    fileOffsets: readonly bigint[],
    returnAddresses: readonly bigint[] = [],
    opts: SymbolizeOptions = {},
  ): Promise<{ at: Map<bigint, SourceLocation[]>; returns: Map<bigint, SourceLocation[]> }> {
    const ctl = new AbortController();
    const timeoutMs = opts.timeoutMs ?? this.timeoutMs;
    const timer = setTimeout(
      () => ctl.abort(new FirnError(ErrorCode.DeadlineExceeded, `llvm-symbolizer on ${files.debugPath} took longer than ${timeoutMs} ms`)),
      timeoutMs,
    );
    const onAbort = (): void => ctl.abort(opts.signal?.reason);
    if (opts.signal?.aborted) onAbort();
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      const loads = await this.loadsOf(files);
      const toVaddr = (o: bigint, back: bigint): bigint | undefined => {
        const v = fileOffsetToVaddr({ loads }, o);
        return v === undefined ? undefined : v - back;
      };
      const want = new Set<bigint>();
      const at = fileOffsets.map((o) => toVaddr(o, 0n));
      const ret = returnAddresses.map((o) => toVaddr(o, 1n));
      for (const v of [...at, ...ret]) if (v !== undefined) want.add(v);
      const vaddrs = [...want];
      const resolved = new Map<bigint, SourceLocation[]>();
      for (let i = 0; i < vaddrs.length; i += this.maxBatch) {
        const batch = vaddrs.slice(i, i + this.maxBatch);
        const out = await this.limiter.run(ctl.signal, () => this.runBatch(files.debugPath, batch, ctl.signal));
        batch.forEach((v, j) => resolved.set(v, out[j]));
      }
      await this.fillStartLines(files, resolved, ctl.signal);
      const pick = (offsets: readonly bigint[], v: Array<bigint | undefined>): Map<bigint, SourceLocation[]> =>
        new Map(offsets.map((o, i) => [o, v[i] === undefined ? [] : (resolved.get(v[i] as bigint) ?? [])]));
      return { at: pick(fileOffsets, at), returns: pick(returnAddresses, ret) };
    } finally {
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
    }
  }

  /**
   * Functions whose debug info has no DW_AT_decl_line (Go up to at least 1.19 emits none) get
   * the line of their entry instruction instead, found through the symbol table: Go attributes
   * a function's prologue to its `func` line, so for Go this is the start line its PGO wants.
   */
  private async fillStartLines(files: SymbolizeFiles, resolved: Map<bigint, SourceLocation[]>, signal: AbortSignal): Promise<void> {
    const missing = new Set<string>();
    for (const chain of resolved.values()) for (const l of chain) if (l.startLine === 0 && l.functionName !== '') missing.add(l.functionName);
    if (missing.size === 0) return;
    let symbols: ElfSymbol[] = [];
    for (const path of [files.binaryPath, files.debugPath]) {
      if (!path || symbols.length > 0) continue;
      try {
        symbols = await readSymbolsFromFile(path);
      } catch (err) {
        if (!(err instanceof FirnError)) throw err;
      }
    }
    const entry = new Map<string, bigint>();
    for (const sym of symbols) if (missing.has(sym.name) && !entry.has(sym.name) && sym.address > 0n) entry.set(sym.name, sym.address);
    if (entry.size === 0) return;
    const names = [...entry.keys()];
    const chains = await this.limiter.run(signal, () =>
      this.runBatch(
        files.debugPath,
        names.map((n) => entry.get(n) as bigint),
        signal,
      ),
    );
    const startOf = new Map<string, number>();
    names.forEach((name, i) => {
      const outer = chains[i].at(-1);
      if (outer && outer.functionName === name && outer.line > 0) startOf.set(name, outer.line);
    });
    for (const chain of resolved.values()) {
      for (const l of chain) if (l.startLine === 0) l.startLine = startOf.get(l.functionName) ?? 0;
    }
  }

  private async loadsOf(files: SymbolizeFiles): Promise<ElfLoad[]> {
    if (files.loads) return files.loads;
    const read = async (path: string, role: string) => {
      try {
        return await readElfFile(path);
      } catch (err) {
        if (err instanceof FirnError) throw new FirnError(err.code, `${role} ${path}: ${err.message}`, { cause: err });
        throw err;
      }
    };
    if (files.binaryPath) return (await read(files.binaryPath, 'binary')).loads;
    return guessMappedLoads((await read(files.debugPath, 'debug file')).loads);
  }

  private async runBatch(file: string, vaddrs: bigint[], signal: AbortSignal): Promise<SourceLocation[][]> {
    let res;
    try {
      res = await runTool(this.tool, [`--obj=${file}`, ...ARGS], {
        stdin: vaddrs.map((v) => `0x${v.toString(16)}`).join('\n') + '\n',
        env: this.env,
        signal,
        maxOutputBytes: this.maxOutputBytes,
      });
    } catch (err) {
      if (err instanceof FirnError && err.code === ErrorCode.Unavailable) {
        throw new FirnError(
          ErrorCode.FailedPrecondition,
          `${this.tool} is not installed on this querier (Debian package llvm; scripts/install-system-deps.sh)`,
          { cause: err },
        );
      }
      throw err;
    }
    if (res.code !== 0 && res.stdout.trim() === '') {
      throw FirnError.invalidArgument(`${this.tool} cannot read ${file}: ${res.stderr.split('\n')[0]?.trim() || `exit code ${res.code}`}`);
    }
    return parseLlvmSymbolizerJson(res.stdout, vaddrs.length);
  }
}

interface JsonFrame {
  FunctionName?: unknown;
  FileName?: unknown;
  Line?: unknown;
  Column?: unknown;
  Discriminator?: unknown;
  StartLine?: unknown;
}

const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) && v >= 0 ? Math.floor(v) : 0);
const str = (v: unknown): string => (typeof v === 'string' && v !== '??' ? v : '');

/**
 * llvm-symbolizer's `--output-style=JSON` answer for stdin addresses: one JSON array per input
 * line (LLVM 14 prints one line each), each `{Address, ModuleName, Symbol: [frames]}`. Frames
 * without a function name are unknown; an entry with an `Error` has no frames.
 */
export function parseLlvmSymbolizerJson(stdout: string, expected: number): SourceLocation[][] {
  const entries: unknown[] = [];
  for (const line of stdout.split('\n')) {
    const t = line.trim();
    if (t === '') continue;
    let parsed: unknown;
    try {
      parsed = JSON.parse(t);
    } catch {
      throw FirnError.invalidArgument('llvm-symbolizer wrote a line that is not JSON');
    }
    if (Array.isArray(parsed)) entries.push(...parsed);
    else entries.push(parsed);
  }
  if (entries.length !== expected) throw FirnError.invalidArgument(`llvm-symbolizer answered ${entries.length} addresses, expected ${expected}`);
  // A file it cannot open gives every address an Error entry (and exit code 0).
  const errors = entries.map((e) => (e as { Error?: { Message?: unknown } }).Error);
  if (entries.length > 0 && errors.every((e) => e !== undefined)) {
    throw FirnError.invalidArgument(`llvm-symbolizer cannot read the file: ${String(errors[0]?.Message ?? 'unknown error')}`);
  }
  return entries.map((e) => {
    const frames = (e as { Symbol?: unknown }).Symbol;
    if (!Array.isArray(frames)) return [];
    const out = frames.map((f: JsonFrame) => ({
      functionName: str(f.FunctionName),
      fileName: str(f.FileName),
      line: num(f.Line),
      column: num(f.Column),
      discriminator: num(f.Discriminator),
      startLine: num(f.StartLine),
    }));
    return out.every((f) => f.functionName === '') ? [] : out;
  });
}

import { FirnError } from '@firn/errors';
import type { ByteSource } from './byte-source';
import { ByteView } from './byte-view';
import { PF_W, PF_X, SHT_NOBITS, type ElfFile, type ElfLoad } from './types';

/**
 * Go's own symbol table, `.gopclntab`: function names, file:line and inline trees for every Go
 * function, kept by the runtime for tracebacks and therefore present in stripped binaries
 * (`-ldflags=-s -w` removes `.symtab` and DWARF, not this). Layouts follow the Go runtime
 * (`runtime/symtab.go`, `runtime/symtabinl.go`) and linker (`cmd/link/internal/ld/pcln.go`):
 *
 * | magic        | Go        | functab entry              | `_func`                      | inline tree                                 |
 * |--------------|-----------|----------------------------|------------------------------|---------------------------------------------|
 * | `0xfffffffa` | 1.16-1.17 | `{entry, funcoff}` uintptr | entry uintptr + 8×u32 + 4 B  | funcdata = absolute pointers; 20-byte entries |
 * | `0xfffffff0` | 1.18-1.19 | `{entryoff, funcoff}` u32  | entryoff u32 + 8×u32 + 4 B   | funcdata = u32 offsets from moduledata.gofunc |
 * | `0xfffffff1` | 1.20+     | same                       | + startLine                  | 16-byte entries (name, parentPc, startLine) |
 *
 * Go 1.2-1.15 (`0xfffffffb`) is recognised and reported as unsupported.
 */
export type GoPclntabFormat = 'go1.16' | 'go1.18' | 'go1.20';

/** One source position; an address has one per inlining level, leaf first. */
export interface GoFrame {
  functionName: string;
  /** '' if unknown. */
  fileName: string;
  /** 0 if unknown. */
  line: number;
  /** True for every frame but the last (the physical function). */
  inlined: boolean;
}

export type GoSymbolsResult =
  | { kind: 'table'; table: GoSymbolTable }
  /** No Go symbol table in this file. */
  | { kind: 'none' }
  /** A Go symbol table in a layout this reader does not know (Go ≤ 1.15, or newer than known). */
  | { kind: 'unsupported'; reason: string };

const MAGIC_GO12 = 0xfffffffb;
const MAGICS: ReadonlyMap<number, GoPclntabFormat> = new Map([
  [0xfffffffa, 'go1.16'],
  [0xfffffff0, 'go1.18'],
  [0xfffffff1, 'go1.20'],
]);

const PCDATA_INL_TREE_INDEX = 2;
const FUNCDATA_INL_TREE = 3;
/** No real binary has more; bounds what a hostile header can make us walk. */
const MAX_FUNCS = 1 << 24;
const MAX_NAME = 64 << 10;
const MAX_INLINE_DEPTH = 100;
const MAX_PC_STEPS = 1 << 20;
const SCAN_CHUNK = 1 << 20;
/** Cached `_func` records per table. */
const MAX_CACHED_FUNCS = 4096;

interface Header {
  format: GoPclntabFormat;
  littleEndian: boolean;
  quantum: number;
  ptrSize: 4 | 8;
  nfunc: number;
  textStart: bigint;
  funcnameOffset: number;
  cuOffset: number;
  filetabOffset: number;
  pctabOffset: number;
  pclnOffset: number;
}

interface FuncInfo {
  entry: bigint;
  end: bigint;
  name: string;
  pcfile: number;
  pcln: number;
  cuOffset: number;
  /** pctab offset of the PCDATA_InlTreeIndex table, 0 if none. */
  inlIndex: number;
  /** File offset of the inline tree, undefined if none or unreadable. */
  inlTree: number | undefined;
}

type Location = { offset: number; size: number; vaddr: bigint };

function isMagic(v: number): boolean {
  return v === MAGIC_GO12 || MAGICS.has(v);
}

/** vaddr → file offset through any PT_LOAD with file bytes at that address. */
function vaddrToOffset(loads: readonly ElfLoad[], vaddr: bigint): number | undefined {
  for (const l of loads) {
    if (vaddr >= l.vaddr && vaddr < l.vaddr + l.filesz) {
      const off = l.offset + (vaddr - l.vaddr);
      return off <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(off) : undefined;
    }
  }
  return undefined;
}

function num(v: bigint, what: string): number {
  if (v < 0n || v > BigInt(Number.MAX_SAFE_INTEGER)) throw FirnError.invalidArgument(`gopclntab malformed: ${what} ${v} is out of range`);
  return Number(v);
}

/**
 * Parses the pcHeader at `view` (the table's first bytes); `size` is how many bytes the table may
 * span. Returns undefined when the bytes are not a pcHeader at all.
 */
function parseHeader(view: ByteView, size: number): Header | { unsupported: string } | undefined {
  if (view.length < 8) return undefined;
  const le = view.u32(0) === 0xfffffffa || view.u32(0) === 0xfffffff0 || view.u32(0) === 0xfffffff1 || view.u32(0) === MAGIC_GO12;
  const v = le ? view : new ByteView(view.bytes, !view.littleEndian, view.is64, view.base);
  const magic = v.u32(0, 'pclntab magic');
  if (!isMagic(magic) || v.u8(4) !== 0 || v.u8(5) !== 0) return undefined;
  const quantum = v.u8(6);
  const ptrSize = v.u8(7);
  if (![1, 2, 4].includes(quantum) || (ptrSize !== 4 && ptrSize !== 8)) return undefined;
  if (magic === MAGIC_GO12) return { unsupported: 'Go 1.2-1.15 .gopclntab layout (magic 0xfffffffb)' };
  const format = MAGICS.get(magic) as GoPclntabFormat;
  const w = new ByteView(v.bytes, v.littleEndian, ptrSize === 8, v.base);
  const word = (i: number, what: string): number => num(w.word(8 + i * ptrSize, what), what);
  const nfunc = word(0, 'nfunc');
  const fields = format === 'go1.16' ? 2 : 3; // 1.18+ has textStart before the offsets
  const h: Header = {
    format,
    littleEndian: v.littleEndian,
    quantum,
    ptrSize,
    nfunc,
    textStart: format === 'go1.16' ? 0n : w.word(8 + 2 * ptrSize, 'textStart'),
    funcnameOffset: word(fields, 'funcnameOffset'),
    cuOffset: word(fields + 1, 'cuOffset'),
    filetabOffset: word(fields + 2, 'filetabOffset'),
    pctabOffset: word(fields + 3, 'pctabOffset'),
    pclnOffset: word(fields + 4, 'pclnOffset'),
  };
  const fieldSize = format === 'go1.16' ? ptrSize : 4;
  if (nfunc === 0 || nfunc > MAX_FUNCS) return undefined;
  for (const off of [h.funcnameOffset, h.cuOffset, h.filetabOffset, h.pctabOffset, h.pclnOffset]) if (off >= size || off < 8) return undefined;
  if (h.pclnOffset + (nfunc * 2 + 1) * fieldSize > size) return undefined;
  return h;
}

/** Where the table is: its section, else a scan of the read-only segments for a valid header. */
function locate(elf: ElfFile, src: ByteSource): Location | undefined {
  const sec = elf.sections.find((s) => (s.name === '.gopclntab' || s.name === '.data.rel.ro.gopclntab') && s.type !== SHT_NOBITS && s.size > 0n);
  if (sec)
    return {
      offset: num(sec.offset, '.gopclntab offset'),
      size: Math.min(num(sec.size, '.gopclntab size'), src.size - num(sec.offset, '.gopclntab offset')),
      vaddr: sec.addr,
    };
  // Only files that may be Go and have no section telling us: do not scan every C library.
  if (elf.sections.length > 0 && elf.goBuildId === undefined) return undefined;
  for (const l of elf.loads) {
    if ((l.flags & PF_X) !== 0 || l.filesz === 0n) continue;
    const start = num(l.offset, 'segment offset');
    const end = Math.min(src.size, start + num(l.filesz, 'segment size'));
    for (let at = start; at < end; at += SCAN_CHUNK) {
      const len = Math.min(SCAN_CHUNK + 64, end - at);
      const chunk = src.read(at, len, 'segment');
      const dv = new DataView(chunk.buffer, chunk.byteOffset, chunk.byteLength);
      // The linker aligns the table to at least 8 bytes (32 in practice), and segments keep
      // file offset ≡ vaddr modulo the page size, so 8-aligned file offsets suffice.
      for (let i = (8 - (at % 8)) % 8; i + 8 <= Math.min(len, SCAN_CHUNK + 8); i += 8) {
        const m = dv.getUint32(i, elf.littleEndian);
        if (!isMagic(m)) continue;
        const off = at + i;
        const size = end - off;
        const head = new ByteView(src.read(off, Math.min(size, 8 + 8 * 8), 'pclntab header'), elf.littleEndian, elf.bits === 64, off);
        let h;
        try {
          h = parseHeader(head, size);
        } catch {
          continue;
        }
        if (h) return { offset: off, size, vaddr: l.vaddr + BigInt(off - start) };
      }
    }
  }
  return undefined;
}

/** Reads the table of a Go binary, or says why there is none. Malformed tables throw FirnError invalid_argument. */
export function openGoSymbols(elf: ElfFile, src: ByteSource): GoSymbolsResult {
  const loc = locate(elf, src);
  if (!loc) return { kind: 'none' };
  const head = new ByteView(src.read(loc.offset, Math.min(loc.size, 8 + 8 * 8), 'pclntab header'), elf.littleEndian, elf.bits === 64, loc.offset);
  const h = parseHeader(head, loc.size);
  if (h === undefined) throw FirnError.invalidArgument(`gopclntab malformed: bad header at file offset ${loc.offset}`);
  if ('unsupported' in h) return { kind: 'unsupported', reason: h.unsupported };
  return { kind: 'table', table: new GoSymbolTable(src, elf, loc, h) };
}

/**
 * Lookups in one Go binary's table: `lookup(vaddr)` gives the inline chain at an ELF virtual
 * address, leaf first, as the Go runtime's own traceback would name it. Every read is bounded to
 * the table (or, for inline trees, to the file) and throws FirnError invalid_argument when a
 * hostile table points elsewhere.
 */
export class GoSymbolTable {
  readonly format: GoPclntabFormat;
  readonly ptrSize: 4 | 8;
  readonly funcCount: number;
  /**
   * Whether inlined calls can be named: Go 1.18+ keeps inline trees relative to
   * `moduledata.gofunc`, found by scanning the data segments for the moduledata that points at
   * this table. Without it, lookups still name the physical function with the leaf's file:line
   * (what `go tool addr2line` prints).
   */
  readonly hasInlineTrees: boolean;
  private readonly h: Header;
  private readonly base: number;
  private readonly end: number;
  private readonly loads: readonly ElfLoad[];
  private readonly gofunc: bigint | undefined;
  private readonly funcs = new Map<number, FuncInfo>();
  /**
   * The functab, read once on the first lookup: entries as offsets from `entryBase` and the
   * `_func` offsets (8 bytes per function: 0.8 MB for a 100 000-function kubelet), so the binary
   * search costs no reads.
   */
  private ftab: { entryBase: bigint; entries: Float64Array; funcoffs: Float64Array } | undefined;

  constructor(
    private readonly src: ByteSource,
    elf: Pick<ElfFile, 'loads' | 'sections'>,
    private readonly loc: Location,
    header: Header,
  ) {
    this.h = header;
    this.format = header.format;
    this.ptrSize = header.ptrSize;
    this.funcCount = header.nfunc;
    this.base = loc.offset;
    this.end = loc.offset + loc.size;
    this.loads = elf.loads.filter((l) => l.filesz > 0n);
    this.gofunc = header.format === 'go1.16' ? undefined : this.findGofunc(elf);
    this.hasInlineTrees = header.format === 'go1.16' || this.gofunc !== undefined;
  }

  /** The physical Go function range covered: [first entry, end of the last function). */
  get textRange(): { start: bigint; end: bigint } {
    const t = this.functab();
    return { start: t.entryBase + BigInt(t.entries[0]), end: t.entryBase + BigInt(t.entries[this.h.nfunc]) };
  }

  private functab(): NonNullable<GoSymbolTable['ftab']> {
    if (this.ftab) return this.ftab;
    const n = this.h.nfunc;
    const fs = this.fieldSize();
    const v = this.view(this.h.pclnOffset, (n * 2 + 1) * fs, 'functab');
    const entries = new Float64Array(n + 1);
    const funcoffs = new Float64Array(n);
    let entryBase: bigint;
    if (this.h.format === 'go1.16') {
      entryBase = v.word(0);
      for (let i = 0; i <= n; i++) {
        const e = v.word(i * 2 * fs) - entryBase;
        entries[i] = e < 0n || e > BigInt(Number.MAX_SAFE_INTEGER) ? -1 : Number(e);
        if (i < n) funcoffs[i] = num(v.word((i * 2 + 1) * fs), 'funcoff');
      }
    } else {
      entryBase = this.h.textStart;
      for (let i = 0; i <= n; i++) {
        entries[i] = v.u32(i * 8);
        if (i < n) funcoffs[i] = v.u32(i * 8 + 4);
      }
    }
    this.ftab = { entryBase, entries, funcoffs };
    return this.ftab;
  }

  /** The frames at `vaddr`, leaf first; [] if it is not inside a Go function. */
  lookup(vaddr: bigint): GoFrame[] {
    const { start, end } = this.textRange;
    if (vaddr < start || vaddr >= end) return [];
    const f = this.funcFor(vaddr);
    if (!f) return [];
    const frames: GoFrame[] = [];
    let pc = vaddr;
    let ix = f.inlIndex !== 0 && f.inlTree !== undefined ? this.pcvalue(f.inlIndex, f.entry, pc) : -1;
    const entrySize = this.h.format === 'go1.20' ? 16 : 20;
    for (let depth = 0; ix >= 0 && f.inlTree !== undefined && depth < MAX_INLINE_DEPTH; depth++) {
      const rec = this.view(f.inlTree + ix * entrySize, entrySize, 'inlinedCall', false);
      const nameOff = this.h.format === 'go1.20' ? rec.i32(4) : rec.i32(12);
      const parentPc = this.h.format === 'go1.20' ? rec.i32(8) : rec.i32(16);
      frames.push({ functionName: this.funcName(nameOff), ...this.fileLine(f, pc), inlined: true });
      if (parentPc < 0) break;
      pc = f.entry + BigInt(parentPc);
      if (pc >= f.end) break;
      ix = this.pcvalue(f.inlIndex, f.entry, pc);
    }
    frames.push({ functionName: f.name, ...this.fileLine(f, pc), inlined: false });
    return frames;
  }

  private fileLine(f: FuncInfo, pc: bigint): { fileName: string; line: number } {
    const fileno = this.pcvalue(f.pcfile, f.entry, pc);
    const line = this.pcvalue(f.pcln, f.entry, pc);
    return { fileName: fileno < 0 ? '' : this.fileName(f.cuOffset, fileno), line: line < 0 ? 0 : line };
  }

  /** Reads within the table (default) or anywhere in the file (inline trees live in .rodata). */
  private view(rel: number, len: number, what: string, inTable = true): ByteView {
    const abs = inTable ? this.base + rel : rel;
    if (inTable && (rel < 0 || abs + len > this.end))
      throw FirnError.invalidArgument(`gopclntab malformed: ${what} at table offset ${rel} is outside the table`);
    return new ByteView(this.src.read(abs, len, what), this.h.littleEndian, this.h.ptrSize === 8, abs);
  }

  private fieldSize(): number {
    return this.h.format === 'go1.16' ? this.h.ptrSize : 4;
  }

  private funcFor(vaddr: bigint): FuncInfo | undefined {
    const t = this.functab();
    const d = vaddr - t.entryBase;
    if (d < 0n || d > BigInt(Number.MAX_SAFE_INTEGER)) return undefined;
    const rel = Number(d);
    // Largest i with entry(i) <= vaddr among the nfunc real entries (the last is the end marker).
    let lo = 0;
    let hi = this.h.nfunc - 1;
    let best = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (t.entries[mid] <= rel) {
        best = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    if (best < 0 || t.entries[best] < 0) return undefined;
    const funcoff = t.funcoffs[best];
    const cached = this.funcs.get(funcoff);
    if (cached) return cached;
    const f = this.readFunc(funcoff, t.entryBase + BigInt(t.entries[best]), t.entryBase + BigInt(Math.max(t.entries[best], t.entries[best + 1])));
    if (this.funcs.size >= MAX_CACHED_FUNCS) this.funcs.clear();
    this.funcs.set(funcoff, f);
    return f;
  }

  private readFunc(funcoff: number, entry: bigint, end: bigint): FuncInfo {
    const at = this.h.pclnOffset + funcoff;
    const hdr = this.h.format === 'go1.16' ? this.h.ptrSize : 4;
    const fixed = hdr + 32 + (this.h.format === 'go1.20' ? 4 : 0) + 4;
    const v = this.view(at, fixed, '_func');
    const nameOff = v.i32(hdr);
    const pcfile = v.u32(hdr + 16);
    const pcln = v.u32(hdr + 20);
    const npcdata = v.u32(hdr + 24);
    const cuOffset = v.u32(hdr + 28);
    const nfuncdata = v.u8(fixed - 1);
    let inlIndex = 0;
    let inlTree: number | undefined;
    if (npcdata > PCDATA_INL_TREE_INDEX && nfuncdata > FUNCDATA_INL_TREE && npcdata < 1 << 16) {
      inlIndex = this.view(at + fixed + PCDATA_INL_TREE_INDEX * 4, 4, 'pcdata').u32(0);
      let fd = at + fixed + npcdata * 4;
      if (this.h.format === 'go1.16') {
        // Pointer-aligned by address; a segment keeps file offset ≡ vaddr (mod page size).
        if (this.h.ptrSize === 8 && (this.loc.vaddr + BigInt(fd)) % 8n !== 0n) fd += 4;
        const p = this.view(fd + FUNCDATA_INL_TREE * this.h.ptrSize, this.h.ptrSize, 'funcdata').word(0);
        inlTree = p === 0n ? undefined : vaddrToOffset(this.loads, p);
      } else {
        const off = this.view(fd + FUNCDATA_INL_TREE * 4, 4, 'funcdata').u32(0);
        inlTree = off === 0xffffffff || this.gofunc === undefined ? undefined : vaddrToOffset(this.loads, this.gofunc + BigInt(off));
      }
    }
    return { entry, end, name: this.funcName(nameOff), pcfile, pcln, cuOffset, inlIndex, inlTree };
  }

  private funcName(nameOff: number): string {
    if (nameOff < 0) return '';
    return this.cstring(this.h.funcnameOffset + nameOff, 'function name');
  }

  private fileName(cuOffset: number, fileno: number): string {
    const idx = this.h.cuOffset + (cuOffset + fileno) * 4;
    if (idx + 4 > this.h.filetabOffset && this.h.filetabOffset > this.h.cuOffset) return '';
    const off = this.view(idx, 4, 'cutab entry').u32(0);
    if (off === 0xffffffff) return '';
    return this.cstring(this.h.filetabOffset + off, 'file name');
  }

  private cstring(rel: number, what: string): string {
    const max = Math.min(MAX_NAME, this.end - (this.base + rel));
    if (rel < 0 || max <= 0) throw FirnError.invalidArgument(`gopclntab malformed: ${what} at table offset ${rel} is outside the table`);
    // Most names are short: read a little first, more only if no NUL is there yet.
    for (let len = Math.min(256, max); ; len = Math.min(len * 4, max)) {
      const v = this.view(rel, len, what);
      const nul = v.bytes.indexOf(0);
      if (nul >= 0) return utf8.decode(v.bytes.subarray(0, nul));
      if (len === max) throw FirnError.invalidArgument(`gopclntab malformed: unterminated ${what} at table offset ${rel}`);
    }
  }

  /**
   * The value a pc-value table gives at `target` (the runtime's `pcvalue`): rows of (zig-zag
   * value delta, pc delta × quantum) varints starting at value -1, pc = entry; -1 if not covered.
   */
  private pcvalue(tableOff: number, entry: bigint, target: bigint): number {
    if (tableOff === 0) return -1;
    const r = new VarintReader(this, this.h.pctabOffset + tableOff);
    let val = -1;
    let pc = entry;
    const q = BigInt(this.h.quantum);
    // A real table needs at most one row per instruction before `target`; a hostile one with
    // zero pc deltas must not make every lookup walk a million rows.
    const span = target > entry ? (target - entry) / q : 0n;
    const maxSteps = span < BigInt(MAX_PC_STEPS) ? Number(span) * 2 + 64 : MAX_PC_STEPS;
    for (let step = 0; step < maxSteps; step++) {
      const uv = r.next();
      if (uv === 0 && step > 0) return -1;
      const delta = uv & 1 ? ~(uv >>> 1) : uv >>> 1;
      val = (val + delta) | 0;
      pc += BigInt(r.next()) * q;
      if (target < pc) return val;
    }
    throw FirnError.invalidArgument(`gopclntab malformed: pc-value table at ${tableOff} does not end`);
  }

  /** @internal for VarintReader */
  chunk(rel: number): Uint8Array {
    const len = Math.min(256, this.end - (this.base + rel));
    if (len <= 0) throw FirnError.invalidArgument(`gopclntab malformed: pc-value table runs past the table end`);
    return this.view(rel, len, 'pc-value table').bytes;
  }

  /**
   * `moduledata.gofunc` (Go 1.18+): the moduledata is the only structure holding it, and it
   * starts with a pointer to this table's header. Candidates are checked against the header's
   * own offsets, so a stray equal word cannot be taken for it.
   */
  private findGofunc(elf: Pick<ElfFile, 'loads' | 'sections'>): bigint | undefined {
    const ps = this.h.ptrSize;
    const gofuncIndex = this.h.format === 'go1.18' ? 38 : 40;
    const words = gofuncIndex + 1;
    const regions: Array<{ offset: number; size: number }> = [];
    const noptr = elf.sections.find((s) => s.name === '.noptrdata' && s.type !== SHT_NOBITS);
    if (noptr) regions.push({ offset: num(noptr.offset, '.noptrdata offset'), size: num(noptr.size, '.noptrdata size') });
    for (const l of elf.loads)
      if ((l.flags & PF_W) !== 0 && l.filesz > 0n) regions.push({ offset: num(l.offset, 'segment offset'), size: num(l.filesz, 'segment size') });
    const t = this.loc.vaddr;
    for (const r of regions) {
      const end = Math.min(this.src.size, r.offset + r.size);
      for (let at = r.offset; at < end; at += SCAN_CHUNK) {
        const len = Math.min(SCAN_CHUNK, end - at);
        const v = new ByteView(this.src.read(at, len, 'data segment'), this.h.littleEndian, ps === 8, at);
        for (let i = (ps - (at % ps)) % ps; i + ps <= len; i += ps) {
          if (v.word(i) !== t) continue;
          const md = at + i;
          if (md + words * ps > this.src.size) continue;
          const m = new ByteView(this.src.read(md, words * ps, 'moduledata'), this.h.littleEndian, ps === 8, md);
          const w = (k: number): bigint => m.word(k * ps);
          const h = this.h;
          // pcHeader, then the slices funcnametab, cutab, filetab, pctab, pclntable, ftab ({ptr, len, cap} each).
          const ok =
            w(1) === t + BigInt(h.funcnameOffset) &&
            w(4) === t + BigInt(h.cuOffset) &&
            w(7) === t + BigInt(h.filetabOffset) &&
            w(10) === t + BigInt(h.pctabOffset) &&
            w(13) === t + BigInt(h.pclnOffset) &&
            w(16) === t + BigInt(h.pclnOffset) &&
            w(22) === h.textStart; // text
          if (!ok) continue;
          const gofunc = w(gofuncIndex);
          const rodata = w(gofuncIndex - 1);
          if (gofunc >= rodata && vaddrToOffset(this.loads, gofunc) !== undefined) return gofunc;
        }
      }
    }
    return undefined;
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: false });

/** Unsigned LEB128 (Go's `readvarint`, ≤ 5 bytes for a uint32) over the table, chunk by chunk. */
class VarintReader {
  private buf: Uint8Array;
  private pos = 0;

  constructor(
    private readonly table: GoSymbolTable,
    private rel: number,
  ) {
    this.buf = table.chunk(rel);
  }

  private byte(): number {
    if (this.pos >= this.buf.length) {
      this.rel += this.buf.length;
      this.buf = this.table.chunk(this.rel);
      this.pos = 0;
    }
    return this.buf[this.pos++];
  }

  next(): number {
    let v = 0;
    for (let shift = 0; shift < 35; shift += 7) {
      const b = this.byte();
      v += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) return v >>> 0;
    }
    throw FirnError.invalidArgument('gopclntab malformed: varint longer than 5 bytes');
  }
}

// Test support: writes synthetic Go symbol tables in each layout the reader knows, laid out like
// the Go linker does (pcHeader, funcnametab, cutab, filetab, pctab, functab + _func records;
// inline trees in a read-only area addressed through moduledata.gofunc or absolute pointers).
// Go 1.16-1.17 binaries cannot be built here (Debian ships 1.19 and backports 1.21+), so this is
// what that layout is verified against.
import type { ElfFile, ElfLoad, ElfSection } from '../types';
import type { GoPclntabFormat } from '../gopclntab';

export interface SynthInline {
  name: string;
  /** Index of the enclosing inline entry, or -1 for the physical function (1.16-1.19 `parent`). */
  parent: number;
  /** Offset from the function entry of an instruction at the call site. */
  parentPc: number;
}

export interface SynthRow {
  /** Rows cover [previous end, end) from the function entry. */
  end: number;
  file: number;
  line: number;
  /** Index into the function's `inlines`, -1 when in the function itself. */
  inl: number;
}

export interface SynthFunc {
  name: string;
  size: number;
  rows: SynthRow[];
  inlines?: SynthInline[];
}

export interface SynthOptions {
  format: GoPclntabFormat | 'go1.2';
  ptrSize?: 4 | 8;
  littleEndian?: boolean;
  files: string[];
  funcs: SynthFunc[];
  /** Keep section headers (else only PT_LOADs, as after section stripping). Default true. */
  sections?: boolean;
  /** Write a moduledata (Go 1.18+ needs it for inline trees). Default true. */
  moduledata?: boolean;
}

export interface SynthImage {
  bytes: Uint8Array;
  elf: Pick<ElfFile, 'loads' | 'sections' | 'goBuildId' | 'littleEndian' | 'bits'> & ElfFile;
  /** vaddr of each function's entry. */
  entries: bigint[];
  textStart: bigint;
}

const BASE = 0x400000n;
const TEXT_AT = 0x1000;
const MAGIC = { 'go1.2': 0xfffffffb, 'go1.16': 0xfffffffa, 'go1.18': 0xfffffff0, 'go1.20': 0xfffffff1 } as const;

class Out {
  bytes: number[] = [];
  constructor(
    readonly le: boolean,
    readonly ps: 4 | 8,
  ) {}
  get length(): number {
    return this.bytes.length;
  }
  u8(v: number): void {
    this.bytes.push(v & 0xff);
  }
  u16(v: number): void {
    const b = [v & 0xff, (v >>> 8) & 0xff];
    this.bytes.push(...(this.le ? b : b.reverse()));
  }
  u32(v: number): void {
    const b = [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];
    this.bytes.push(...(this.le ? b : b.reverse()));
  }
  word(v: bigint): void {
    const b: number[] = [];
    for (let i = 0; i < this.ps; i++) b.push(Number((v >> BigInt(8 * i)) & 0xffn));
    this.bytes.push(...(this.le ? b : b.reverse()));
  }
  str(s: string): void {
    this.bytes.push(...Buffer.from(s + '\0', 'utf8'));
  }
  align(n: number): void {
    while (this.bytes.length % n !== 0) this.bytes.push(0);
  }
  varint(v: number): void {
    let x = v >>> 0;
    while (x >= 0x80) {
      this.bytes.push((x & 0x7f) | 0x80);
      x >>>= 7;
    }
    this.bytes.push(x);
  }
}

function zigzag(v: number): number {
  return v < 0 ? ((~v << 1) | 1) >>> 0 : (v << 1) >>> 0;
}

/** Lays out text, then rodata (pclntab, inline trees), then data (moduledata) in one file. */
export function writeSynthGoBinary(o: SynthOptions): SynthImage {
  const ps = o.ptrSize ?? 8;
  const le = o.littleEndian ?? true;
  const fmt = o.format;
  const old = fmt === 'go1.16' || fmt === 'go1.2';

  // Text: functions back to back, 16-aligned.
  const entries: bigint[] = [];
  let textLen = 0;
  for (const f of o.funcs) {
    entries.push(BASE + BigInt(TEXT_AT + textLen));
    textLen += Math.ceil(f.size / 16) * 16;
  }
  const textStart = BASE + BigInt(TEXT_AT);
  const rodataAt = TEXT_AT + Math.ceil((textLen + 1) / 4096) * 4096;

  // Inline trees first (in rodata, before the table), so the table can point at them.
  const ro = new Out(le, ps);
  const names = new Out(le, ps);
  const nameOff = new Map<string, number>();
  const nameOf = (s: string): number => {
    let off = nameOff.get(s);
    if (off === undefined) {
      off = names.length;
      nameOff.set(s, off);
      names.str(s);
    }
    return off;
  };
  o.funcs.forEach((f) => nameOf(f.name));
  const gofuncStart = 0; // gofunc = rodata start
  const inlTreeOff: Array<number | undefined> = [];
  for (const f of o.funcs) {
    if (!f.inlines || f.inlines.length === 0) {
      inlTreeOff.push(undefined);
      continue;
    }
    ro.align(4);
    inlTreeOff.push(ro.length);
    for (const inl of f.inlines) {
      if (fmt === 'go1.20') {
        ro.u8(0);
        ro.u8(0);
        ro.u8(0);
        ro.u8(0);
        ro.u32(nameOf(inl.name));
        ro.u32(inl.parentPc);
        ro.u32(1);
      } else {
        ro.u16(inl.parent & 0xffff);
        ro.u8(0);
        ro.u8(0);
        ro.u32(0); // file (unused by the reader: the pc tables give it)
        ro.u32(0); // line
        ro.u32(nameOf(inl.name));
        ro.u32(inl.parentPc);
      }
    }
  }
  ro.align(32);
  const pclntabRel = ro.length; // within rodata
  const pclntabVaddr = BASE + BigInt(rodataAt + pclntabRel);

  // pctab: offset 0 means "no table", so start with a pad byte.
  const pctab = new Out(le, ps);
  pctab.u8(0);
  const program = (rows: SynthRow[], value: (r: SynthRow) => number): number => {
    // Consecutive rows with one value are one row: a zero value delta ends a table.
    const merged: Array<{ end: number; v: number }> = [];
    for (const r of rows) {
      const v = value(r);
      const last = merged[merged.length - 1];
      if (last && last.v === v) last.end = r.end;
      else merged.push({ end: r.end, v });
    }
    const at = pctab.length;
    let val = -1;
    let pc = 0;
    for (const r of merged) {
      pctab.varint(zigzag(r.v - val));
      pctab.varint(r.end - pc);
      val = r.v;
      pc = r.end;
    }
    pctab.u8(0);
    return at;
  };
  const tables = o.funcs.map((f) => ({
    pcfile: program(f.rows, (r) => r.file),
    pcln: program(f.rows, (r) => r.line),
    inl: f.inlines && f.inlines.length > 0 ? program(f.rows, (r) => r.inl) : 0,
  }));

  const cutab = new Out(le, ps);
  const filetab = new Out(le, ps);
  for (const file of o.files) {
    cutab.u32(filetab.length);
    filetab.str(file);
  }

  // functab + _func records ("pclntable").
  const fieldSize = old ? ps : 4;
  const nfunc = o.funcs.length;
  const functabLen = (nfunc * 2 + 1) * fieldSize;
  const headerLen = 8 + (old ? 7 : 8) * ps;
  const funcnameOffset = headerLen;
  const cuOffset = funcnameOffset + names.length;
  const filetabOffset = cuOffset + cutab.length;
  const pctabOffset = filetabOffset + filetab.length;
  let pclnOffset = pctabOffset + pctab.length;
  pclnOffset += (8 - (pclnOffset % 8)) % 8;

  const recs = new Out(le, ps);
  const funcoffs: number[] = [];
  let recAt = functabLen;
  recAt += (8 - (recAt % 8)) % 8;
  const recPad = recAt - functabLen;
  o.funcs.forEach((f, i) => {
    recs.align(8);
    funcoffs.push(recAt + recs.length);
    const start = recs.length;
    const hasInl = inlTreeOff[i] !== undefined;
    const npcdata = hasInl ? 3 : 0;
    const nfuncdata = hasInl ? 4 : 0;
    if (old) recs.word(entries[i]);
    else recs.u32(Number(entries[i] - textStart));
    recs.u32(nameOf(f.name));
    recs.u32(0); // args
    recs.u32(0); // deferreturn
    recs.u32(0); // pcsp
    recs.u32(tables[i].pcfile);
    recs.u32(tables[i].pcln);
    recs.u32(npcdata);
    recs.u32(0); // cuOffset
    if (fmt === 'go1.20') recs.u32(1); // startLine
    recs.u8(0); // funcID
    recs.u8(0);
    recs.u8(0);
    recs.u8(nfuncdata);
    for (let k = 0; k < npcdata; k++) recs.u32(k === 2 ? tables[i].inl : 0);
    if (hasInl) {
      const treeRel = inlTreeOff[i] as number;
      if (old) {
        // Pointer-aligned by address: the record starts 8-aligned, so align within it.
        while ((recs.length - start) % ps !== 0) recs.u8(0);
        for (let k = 0; k < nfuncdata; k++) recs.word(k === 3 ? BASE + BigInt(rodataAt + treeRel) : 0n);
      } else {
        for (let k = 0; k < nfuncdata; k++) recs.u32(k === 3 ? treeRel - gofuncStart : 0xffffffff);
      }
    }
  });
  const functab = new Out(le, ps);
  const entryField = (v: bigint): void => (old ? functab.word(v) : functab.u32(Number(v - textStart)));
  o.funcs.forEach((f, i) => {
    entryField(entries[i]);
    if (old) functab.word(BigInt(funcoffs[i]));
    else functab.u32(funcoffs[i]);
  });
  entryField(entries[nfunc - 1] + BigInt(Math.ceil(o.funcs[nfunc - 1].size / 16) * 16));

  const tab = new Out(le, ps);
  tab.u32(MAGIC[fmt]);
  tab.u8(0);
  tab.u8(0);
  tab.u8(1); // quantum
  tab.u8(ps);
  tab.word(BigInt(nfunc));
  tab.word(BigInt(o.files.length));
  if (!old) tab.word(textStart);
  for (const off of [funcnameOffset, cuOffset, filetabOffset, pctabOffset, pclnOffset]) tab.word(BigInt(off));
  tab.bytes.push(...names.bytes, ...cutab.bytes, ...filetab.bytes, ...pctab.bytes);
  while (tab.length < pclnOffset) tab.u8(0);
  tab.bytes.push(...functab.bytes);
  for (let k = 0; k < recPad; k++) tab.u8(0);
  tab.bytes.push(...recs.bytes);
  const pclntabSize = tab.length;
  ro.bytes.push(...tab.bytes);

  // Data: a moduledata pointing at the table.
  const dataAt = rodataAt + Math.ceil((ro.length + 1) / 4096) * 4096;
  const data = new Out(le, ps);
  for (let k = 0; k < 5; k++) data.word(0n); // unrelated words before it
  if (o.moduledata ?? true) {
    const t = pclntabVaddr;
    const slice = (ptr: bigint, len: number): void => {
      data.word(ptr);
      data.word(BigInt(len));
      data.word(BigInt(len));
    };
    data.word(t);
    slice(t + BigInt(funcnameOffset), names.length);
    slice(t + BigInt(cuOffset), o.files.length);
    slice(t + BigInt(filetabOffset), filetab.length);
    slice(t + BigInt(pctabOffset), pctab.length);
    slice(t + BigInt(pclnOffset), pclntabSize - pclnOffset);
    slice(t + BigInt(pclnOffset), nfunc + 1);
    data.word(0n); // findfunctab
    data.word(entries[0]); // minpc
    data.word(textStart + BigInt(textLen)); // maxpc
    data.word(textStart); // text
    data.word(textStart + BigInt(textLen)); // etext
    const rest = fmt === 'go1.20' ? 15 : 13; // noptrdata .. etypes (+ covctrs on 1.20)
    for (let k = 0; k < rest; k++) data.word(BASE + BigInt(dataAt));
    data.word(BASE + BigInt(rodataAt)); // rodata
    data.word(BASE + BigInt(rodataAt + gofuncStart)); // gofunc
    for (let k = 0; k < 8; k++) data.word(0n);
  }

  const size = dataAt + data.length;
  const bytes = new Uint8Array(size);
  bytes.set(ro.bytes, rodataAt);
  bytes.set(data.bytes, dataAt);
  for (let i = 0; i < textLen; i++) bytes[TEXT_AT + i] = 0xcc;
  const loads: ElfLoad[] = [
    { vaddr: BASE + BigInt(TEXT_AT), offset: BigInt(TEXT_AT), filesz: BigInt(textLen), memsz: BigInt(textLen), flags: 5 },
    { vaddr: BASE + BigInt(rodataAt), offset: BigInt(rodataAt), filesz: BigInt(ro.length), memsz: BigInt(ro.length), flags: 4 },
    { vaddr: BASE + BigInt(dataAt), offset: BigInt(dataAt), filesz: BigInt(data.length), memsz: BigInt(data.length), flags: 6 },
  ];
  const sec = (name: string, at: number, len: number, flags: bigint): ElfSection => ({
    name,
    type: 1,
    flags,
    addr: BASE + BigInt(at),
    offset: BigInt(at),
    size: BigInt(len),
    compressed: false,
  });
  const sections: ElfSection[] =
    (o.sections ?? true)
      ? [
          sec('.text', TEXT_AT, textLen, 6n),
          sec('.rodata', rodataAt, pclntabRel, 2n),
          sec('.gopclntab', rodataAt + pclntabRel, pclntabSize, 2n),
          sec('.noptrdata', dataAt, data.length, 3n),
        ]
      : [];
  const elf: ElfFile = {
    bits: ps === 8 ? 64 : 32,
    littleEndian: le,
    type: 'EXEC',
    machine: 62,
    buildId: '',
    goBuildId: 'synthetic',
    loads,
    sections,
    hasDwarf: false,
    hasSymtab: false,
    comment: [],
  };
  return { bytes, elf, entries, textStart };
}

/** A small program: two functions, one with a two-level inline chain. */
export function sampleFuncs(): { files: string[]; funcs: SynthFunc[] } {
  return {
    files: ['/src/main.go', '/src/util.go'],
    funcs: [
      {
        name: 'main.hot',
        size: 0x40,
        inlines: [
          { name: 'main.middle', parent: -1, parentPc: 0x08 },
          { name: 'main.inner', parent: 0, parentPc: 0x10 },
        ],
        rows: [
          { end: 0x10, file: 0, line: 10, inl: -1 },
          { end: 0x18, file: 0, line: 20, inl: 0 },
          { end: 0x20, file: 1, line: 5, inl: 1 },
          { end: 0x40, file: 0, line: 12, inl: -1 },
        ],
      },
      {
        name: 'main.cold',
        size: 0x20,
        rows: [
          { end: 0x10, file: 0, line: 30, inl: -1 },
          { end: 0x20, file: 0, line: 31, inl: -1 },
        ],
      },
      { name: 'main.main', size: 0x10, rows: [{ end: 0x10, file: 0, line: 40, inl: -1 }] },
    ],
  };
}

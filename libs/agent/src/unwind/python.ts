import { closeSync, openSync, readSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { SHT_NOBITS, type ElfFile } from '@firn/elf';

/**
 * CPython 3.11 interpreter frames. The BPF program reads the interpreter's own structures
 * (`_PyRuntime.gilstate.tstate_current` → PyThreadState → `cframe->current_frame` → the chain of
 * `_PyInterpreterFrame`s) and puts each frame's code object address, tagged with bit 63, in the
 * user stack just leafward of the `_PyEval_EvalFrameDefault` native frame that runs it; user space
 * reads the code object's names from the process's memory. Only 3.11 (the layouts change in every
 * minor version; these are checked against the installed headers by python.int-spec.ts).
 */
export const PYTHON_FRAME_TAG = 1n << 63n;

/** Offsets in CPython 3.11 (x86-64, release build; identical from 3.11.0 to 3.11.x). */
export const PY311 = {
  runtimeTstateCurrent: 576, // offsetof(_PyRuntimeState, gilstate.tstate_current)
  tstateCframe: 56, // offsetof(PyThreadState, cframe)
  tstateNativeThreadId: 160, // offsetof(PyThreadState, native_thread_id)
  cframeCurrentFrame: 8, // offsetof(_PyCFrame, current_frame)
  frameCode: 32, // offsetof(_PyInterpreterFrame, f_code)
  framePrevious: 48, // offsetof(_PyInterpreterFrame, previous)
  frameIsEntry: 68, // offsetof(_PyInterpreterFrame, is_entry)
  codeFilename: 112, // offsetof(PyCodeObject, co_filename)
  codeName: 120, // offsetof(PyCodeObject, co_name)
  codeQualname: 128, // offsetof(PyCodeObject, co_qualname)
  codeFirstLineno: 72, // offsetof(PyCodeObject, co_firstlineno)
  unicodeLength: 16, // offsetof(PyASCIIObject, length)
  unicodeState: 32, // offsetof(PyASCIIObject, state)
  asciiData: 48, // sizeof(PyASCIIObject): compact ASCII data follows
  compactData: 72, // sizeof(PyCompactUnicodeObject): compact non-ASCII data follows
} as const;

/** What the BPF program needs to walk one process's interpreter frames. */
export interface PythonProcess {
  /** Address of `_PyRuntime.gilstate.tstate_current` in the process. */
  tstateAddress: bigint;
  /** `_PyEval_EvalFrameDefault` in the process: [start, end). */
  evalStart: bigint;
  evalEnd: bigint;
}

/** The interpreter symbols of a CPython ELF file (vaddrs), or undefined when it is not CPython 3.11. */
export interface PythonSymbols {
  version: number;
  runtime: bigint;
  evalStart: bigint;
  evalSize: bigint;
}

const STT_OBJECT = 1;
const STT_FUNC = 2;
const WANTED = new Set(['_PyRuntime', '_PyEval_EvalFrameDefault', 'Py_Version']);

async function readAt(path: string, offset: bigint, length: number): Promise<Buffer> {
  const fh = await open(path, 'r');
  try {
    const buf = Buffer.alloc(length);
    const { bytesRead } = await fh.read(buf, 0, length, Number(offset));
    return buf.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
}

/**
 * Finds `_PyRuntime`, `_PyEval_EvalFrameDefault` and `Py_Version` in `.dynsym` (CPython exports
 * them from both `python3.11` and `libpython3.11.so`) and reads the version. Only files named like
 * a Python 3.11 interpreter are opened; anything else, or another version, gives undefined.
 */
export async function pythonSymbols(path: string, elf: ElfFile, name = path): Promise<PythonSymbols | undefined> {
  if (!/(^|\/)(python3\.11[^/]*|libpython3\.11[^/]*\.so[^/]*)$/.test(name.replace(/ \(deleted\)$/, ''))) return undefined;
  const dynsym = elf.sections.find((s) => s.name === '.dynsym' && s.type !== SHT_NOBITS);
  const dynstr = elf.sections.find((s) => s.name === '.dynstr' && s.type !== SHT_NOBITS);
  if (!dynsym || !dynstr || elf.bits !== 64 || !elf.littleEndian || dynsym.size > 64n << 20n || dynstr.size > 64n << 20n) return undefined;
  const syms = await readAt(path, dynsym.offset, Number(dynsym.size));
  const strs = await readAt(path, dynstr.offset, Number(dynstr.size));
  const found = new Map<string, { value: bigint; size: bigint; type: number }>();
  for (let off = 0; off + 24 <= syms.length && found.size < WANTED.size; off += 24) {
    const nameOff = syms.readUInt32LE(off);
    const type = syms[off + 4] & 0xf;
    if (type !== STT_OBJECT && type !== STT_FUNC) continue;
    const end = strs.indexOf(0, nameOff);
    if (nameOff >= strs.length || end < 0) continue;
    const sym = strs.toString('latin1', nameOff, end);
    if (WANTED.has(sym)) found.set(sym, { value: syms.readBigUInt64LE(off + 8), size: syms.readBigUInt64LE(off + 16), type });
  }
  const runtime = found.get('_PyRuntime');
  const evalFn = found.get('_PyEval_EvalFrameDefault');
  const version = found.get('Py_Version');
  if (!runtime || !evalFn || !version || evalFn.size === 0n) return undefined;
  // Py_Version is a const unsigned long in a read-only PT_LOAD: read it from the file.
  const load = elf.loads.find((l) => version.value >= l.vaddr && version.value + 4n <= l.vaddr + l.filesz);
  if (!load) return undefined;
  const v = await readAt(path, load.offset + (version.value - load.vaddr), 4);
  if (v.length < 4) return undefined;
  const hex = v.readUInt32LE(0);
  if (hex >>> 16 !== 0x030b) return undefined; // 3.11 only
  return { version: hex, runtime: runtime.value, evalStart: evalFn.value, evalSize: evalFn.size };
}

/** The process's view: symbol addresses moved by the file's load bias (address − bias = vaddr). */
export function pythonProcess(syms: PythonSymbols, bias: bigint): PythonProcess {
  return {
    tstateAddress: syms.runtime + bias + BigInt(PY311.runtimeTstateCurrent),
    evalStart: syms.evalStart + bias,
    evalEnd: syms.evalStart + syms.evalSize + bias,
  };
}

/** Size of `struct python_proc` in profiler.bpf.c. */
export const PYTHON_PROC_SIZE = 40;

/** `struct python_proc { u64 tstate_addr, eval_start, eval_end; u16 offsets[8]; }`. */
export function pythonProcValue(p: PythonProcess): Buffer {
  const b = Buffer.alloc(PYTHON_PROC_SIZE);
  b.writeBigUInt64LE(p.tstateAddress, 0);
  b.writeBigUInt64LE(p.evalStart, 8);
  b.writeBigUInt64LE(p.evalEnd, 16);
  const offs = [PY311.tstateCframe, PY311.tstateNativeThreadId, PY311.cframeCurrentFrame, PY311.frameCode, PY311.framePrevious, PY311.frameIsEntry];
  offs.forEach((o, i) => b.writeUInt16LE(o, 24 + 2 * i));
  return b;
}

/** A Python function as user space names it. */
export interface PythonFunction {
  name: string;
  file: string;
  line: number;
}

const MAX_STRING = 1024;

/**
 * Reads a code object's qualified name, file name and first line from /proc/<pid>/mem. Undefined
 * when the memory is gone or does not look like a 3.11 code object (strings are checked: compact,
 * sane length).
 */
export function readPythonFunction(procRoot: string, pid: number, code: bigint): PythonFunction | undefined {
  let fd: number;
  try {
    fd = openSync(`${procRoot}/${pid}/mem`, 'r');
  } catch {
    return undefined;
  }
  try {
    const read = (addr: bigint, len: number): Buffer | undefined => {
      if (addr <= 0n || addr >= 1n << 47n) return undefined;
      const b = Buffer.alloc(len);
      try {
        return readSync(fd, b, 0, len, addr) === len ? b : undefined;
      } catch {
        return undefined;
      }
    };
    const head = read(code, PY311.codeQualname + 8);
    if (!head) return undefined;
    const str = (ptr: bigint): string | undefined => {
      const h = read(ptr, PY311.compactData);
      if (!h) return undefined;
      const length = Number(h.readBigInt64LE(PY311.unicodeLength));
      const state = h.readUInt32LE(PY311.unicodeState);
      const kind = (state >> 2) & 7;
      const compact = (state >> 5) & 1;
      const ascii = (state >> 6) & 1;
      if (!compact || length < 0 || length > MAX_STRING || ![1, 2, 4].includes(kind)) return undefined;
      const data = read(ptr + BigInt(ascii ? PY311.asciiData : PY311.compactData), length * kind);
      if (!data) return undefined;
      if (kind === 1) return data.toString('latin1');
      let s = '';
      for (let i = 0; i < length; i++) s += String.fromCodePoint(kind === 2 ? data.readUInt16LE(2 * i) : data.readUInt32LE(4 * i));
      return s;
    };
    const name = str(head.readBigUInt64LE(PY311.codeQualname)) ?? str(head.readBigUInt64LE(PY311.codeName));
    if (name === undefined) return undefined;
    return { name, file: str(head.readBigUInt64LE(PY311.codeFilename)) ?? '', line: head.readInt32LE(PY311.codeFirstLineno) };
  } finally {
    closeSync(fd);
  }
}

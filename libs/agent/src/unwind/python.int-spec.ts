// CPython 3.11 support against the real interpreter: the structure offsets the BPF program uses
// checked with offsetof() against the installed headers, the symbols found in the binary, and
// code objects read from a live process's memory.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readElfFile } from '@firn/elf';
import { ProcessTable } from '../proc/process-table';
import { frameKindOf } from '../symbols/local-symbols';
import { PY311, PYTHON_FRAME_TAG, pythonProcess, pythonProcValue, pythonSymbols, readPythonFunction } from './python';

const PYTHON = '/usr/bin/python3.11';
const HEADERS = '/usr/include/python3.11';
const dir = mkdtempSync(join(tmpdir(), 'firn-py-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const OFFSETS_C = `
#define Py_BUILD_CORE 1
#include <Python.h>
#include <internal/pycore_frame.h>
#include <internal/pycore_runtime.h>
#include <stddef.h>
#include <stdio.h>
int main(void) {
  printf("{\\"runtimeTstateCurrent\\": %zu, \\"tstateCframe\\": %zu, \\"tstateNativeThreadId\\": %zu, \\"cframeCurrentFrame\\": %zu, ",
    offsetof(_PyRuntimeState, gilstate.tstate_current), offsetof(PyThreadState, cframe), offsetof(PyThreadState, native_thread_id), offsetof(_PyCFrame, current_frame));
  printf("\\"frameCode\\": %zu, \\"framePrevious\\": %zu, \\"frameIsEntry\\": %zu, ",
    offsetof(_PyInterpreterFrame, f_code), offsetof(_PyInterpreterFrame, previous), offsetof(_PyInterpreterFrame, is_entry));
  printf("\\"codeFilename\\": %zu, \\"codeName\\": %zu, \\"codeQualname\\": %zu, \\"codeFirstLineno\\": %zu, ",
    offsetof(PyCodeObject, co_filename), offsetof(PyCodeObject, co_name), offsetof(PyCodeObject, co_qualname), offsetof(PyCodeObject, co_firstlineno));
  printf("\\"unicodeLength\\": %zu, \\"unicodeState\\": %zu, \\"asciiData\\": %zu, \\"compactData\\": %zu}\\n",
    offsetof(PyASCIIObject, length), offsetof(PyASCIIObject, state), sizeof(PyASCIIObject), sizeof(PyCompactUnicodeObject));
  return 0;
}
`;

describe.skipIf(!existsSync(PYTHON))('CPython 3.11 frames', () => {
  it.skipIf(!existsSync(`${HEADERS}/internal/pycore_frame.h`))('uses the structure offsets of the installed CPython 3.11 headers', () => {
    writeFileSync(join(dir, 'offsets.c'), OFFSETS_C);
    execFileSync('gcc', [`-I${HEADERS}`, '-o', join(dir, 'offsets'), join(dir, 'offsets.c')]);
    expect(JSON.parse(execFileSync(join(dir, 'offsets'), { encoding: 'utf8' }))).toEqual({ ...PY311 });
  });

  it('finds _PyRuntime, _PyEval_EvalFrameDefault and the version in the interpreter binary', async () => {
    const syms = await pythonSymbols(PYTHON, await readElfFile(PYTHON));
    expect(syms).toBeDefined();
    const nm = spawnSync('nm', ['-D', '-S', PYTHON], { encoding: 'utf8' }).stdout;
    const addr = (name: string) => BigInt(`0x${new RegExp(`^([0-9a-f]+) ([0-9a-f]+) \\w ${name}$`, 'm').exec(nm)?.[1] ?? '0'}`);
    expect(syms?.runtime).toBe(addr('_PyRuntime'));
    expect(syms?.evalStart).toBe(addr('_PyEval_EvalFrameDefault'));
    expect(syms!.version >>> 16).toBe(0x030b);
    const v = pythonProcValue(pythonProcess(syms!, 0x1000n));
    expect(v.readBigUInt64LE(0)).toBe(syms!.runtime + 0x1000n + BigInt(PY311.runtimeTstateCurrent));
    // Another file, or a name that is not an interpreter's, is not taken for one.
    expect(await pythonSymbols('/bin/ls', await readElfFile('/bin/ls'))).toBeUndefined();
  });

  it("reads a code object's qualified name, file and first line from a live process, and the process table names tagged frames with them", async () => {
    const script = join(dir, 'prog.py');
    writeFileSync(
      script,
      'import sys, time\nclass Outer:\n    def firn_méthode(self):\n        return 1\nprint(id(Outer.firn_méthode.__code__), flush=True)\ntime.sleep(60)\n',
    );
    const py = spawn(PYTHON, [script], { stdio: ['ignore', 'pipe', 'ignore'] });
    try {
      const line = await new Promise<string>((resolve) => py.stdout.once('data', (d: Buffer) => resolve(d.toString())));
      const fn = readPythonFunction('/proc', py.pid as number, BigInt(line.trim()));
      expect(fn).toEqual({ name: 'Outer.firn_méthode', file: script, line: 3 });
      expect(readPythonFunction('/proc', py.pid as number, 0x10n)).toBeUndefined();

      // The drain's path: a tagged address from the BPF program becomes a named, classified frame.
      const table = new ProcessTable({ readObject: () => Promise.reject(new Error('no object file is read for an interpreter frame')) });
      table.refresh([py.pid as number]);
      const [named, unreadable] = await table.userFrames(py.pid as number, [PYTHON_FRAME_TAG | BigInt(line.trim()), PYTHON_FRAME_TAG | 0x10n]);
      expect(named).toMatchObject({ mappingFile: '[python]', buildId: '', functionName: 'Outer.firn_méthode', fileName: script, line: 3 });
      expect(frameKindOf(named)).toEqual({ kind: 'python' });
      expect(unreadable).toMatchObject({ mappingFile: '[python]', functionName: '' });
      expect(frameKindOf(unreadable)).toEqual({ kind: 'python', reason: 'code_object_unreadable' });
    } finally {
      py.kill('SIGKILL');
    }
  });
});

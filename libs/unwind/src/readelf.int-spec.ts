// Unwind tables checked row by row against GNU readelf's own interpretation of .eh_frame
// (`readelf -wF`), for binaries compiled here (C -O2 without frame pointers, C with a realigned
// stack, C++ with exceptions) and the system's libc and libstdc++.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileUnwindTable, type FileUnwindTable } from './elf-unwind';
import { CfaKind, FpKind, type UnwindRule } from './rules';
import { lookupRow } from './table';

const C_SRC = `
#include <stdlib.h>
#include <string.h>
volatile int sink;
__attribute__((noinline)) int leaf(int x) { return x * 7 + sink; }
__attribute__((noinline)) int vla(int n) { char buf[n]; memset(buf, n, n); return leaf(buf[n / 2]); }
__attribute__((noinline, force_align_arg_pointer)) int realigned(int n) { double d[8] __attribute__((aligned(32))); for (int i = 0; i < 8; i++) d[i] = n + i; return leaf((int)d[n & 7]); }
static int cmp(const void *a, const void *b) { return *(const int *)a - *(const int *)b; }
int main(int argc, char **argv) { int v[4] = {3, 1, 2, argc}; qsort(v, 4, sizeof(int), cmp); (void)argv; return vla(argc + 8) + realigned(argc) + v[0]; }
`;
const CXX_SRC = `
#include <stdexcept>
#include <vector>
#include <string>
__attribute__((noinline)) int thrower(int n) { if (n > 3) throw std::runtime_error("big"); return n; }
__attribute__((noinline)) int catcher(int n) { try { std::vector<std::string> v(n, "x"); return thrower(n) + (int)v.size(); } catch (const std::exception &) { return -1; } }
int main(int argc, char **) { return catcher(argc); }
`;

interface ReadelfRow {
  fde: string;
  loc: number;
  cfa: string;
  rbp: string | undefined;
  ra: string | undefined;
}

/** Every row of `readelf -wF` with its CFA, rbp and ra columns. */
function readelfRows(path: string): { rows: ReadelfRow[]; fdes: Array<[number, number]> } {
  // readelf exits 1 when it also follows a debuglink to nothing; its stdout is complete.
  const text = spawnSync('readelf', ['-wF', path], { encoding: 'utf8', maxBuffer: 1 << 30, stdio: ['ignore', 'pipe', 'ignore'] }).stdout;
  const rows: ReadelfRow[] = [];
  const fdes: Array<[number, number]> = [];
  let fde = '';
  let cols: string[] = [];
  for (const line of text.split('\n')) {
    const f = /FDE cie=[0-9a-f]+ pc=([0-9a-f]+)\.\.([0-9a-f]+)/.exec(line);
    if (f) {
      fde = line.trim();
      fdes.push([parseInt(f[1], 16), parseInt(f[2], 16)]);
      cols = [];
      continue;
    }
    if (/ CIE | ZERO terminator/.test(line)) {
      fde = ''; // a CIE's own rows start at LOC 0
      continue;
    }
    // A register rule prints as "r10 (r10)": keep one token per column.
    const parts = line
      .trim()
      .replace(/ \([a-z0-9]+\)/g, '')
      .split(/\s+/);
    if (parts[0] === 'LOC' && parts[1] === 'CFA') {
      cols = parts;
      continue;
    }
    if (!fde || cols.length === 0 || !/^[0-9a-f]{16}$/.test(parts[0])) continue;
    const at = (name: string) => {
      const i = cols.indexOf(name);
      return i < 0 ? undefined : parts[i];
    };
    rows.push({ fde, loc: parseInt(parts[0], 16), cfa: parts[1], rbp: at('rbp'), ra: at('ra') });
  }
  return { rows, fdes };
}

/** Whether our compact rule says what readelf's row says (for the columns we track). */
function agrees(r: ReadelfRow, rule: UnwindRule): string | undefined {
  if (r.ra === 'u') return rule.cfa === CfaKind.End ? undefined : 'ra undefined but not END';
  if (rule.cfa === CfaKind.End) return 'END without an undefined ra';
  if (r.ra !== 'c-8') return rule.cfa === CfaKind.Unsupported ? undefined : `ra ${r.ra} should be unsupported`;
  const m = /^(rsp|rbp|[a-z0-9]+)\+(\d+)$/.exec(r.cfa);
  if (m) {
    const want = m[1] === 'rsp' ? CfaKind.SpOffset : m[1] === 'rbp' ? CfaKind.FpOffset : CfaKind.Unsupported;
    if (rule.cfa !== want) return `cfa kind ${rule.cfa}, want ${want}`;
    if (want !== CfaKind.Unsupported && rule.cfaOffset !== Number(m[2])) return `cfa offset ${rule.cfaOffset}, want ${m[2]}`;
  } else if (r.cfa === 'exp') {
    if (![CfaKind.Plt, CfaKind.DerefFp, CfaKind.Unsupported].includes(rule.cfa)) return `cfa kind ${rule.cfa} for an expression`;
  } else return `unknown CFA ${r.cfa}`;
  if (rule.cfa === CfaKind.Unsupported) return undefined;
  const rbp = r.rbp ?? 'u';
  if (rbp === 'u' || rbp === 's') return rule.fp === FpKind.Unchanged || rule.fp === FpKind.Lost ? undefined : `rbp ${rbp} but fp kind ${rule.fp}`;
  const c = /^c([+-]\d+)$/.exec(rbp);
  if (c) return rule.fp === FpKind.AtCfa && rule.fpOffset === Number(c[1]) ? undefined : `rbp ${rbp} but fp ${rule.fp}/${rule.fpOffset}`;
  if (rbp === 'exp') return rule.fp === FpKind.AtFp || rule.fp === FpKind.Lost ? undefined : `rbp exp but fp ${rule.fp}`;
  return rule.fp === FpKind.Lost ? undefined : `rbp ${rbp} should be lost`;
}

function compare(path: string, t: FileUnwindTable): { rows: number; kinds: Set<CfaKind> } {
  const ref = readelfRows(path);
  const kinds = new Set<CfaKind>();
  const problems: string[] = [];
  for (const r of ref.rows) {
    const rule = lookupRow(t.rows, r.loc);
    kinds.add(rule.cfa);
    const why = agrees(r, rule);
    if (why && problems.length < 10) problems.push(`${r.fde} @0x${r.loc.toString(16)} ${r.cfa} rbp=${r.rbp} ra=${r.ra}: ${why}`);
  }
  // readelf prints no rows for an FDE without instructions (e.g. _start: all in its CIE).
  for (const [begin] of ref.fdes) {
    const rule = lookupRow(t.rows, begin);
    kinds.add(rule.cfa);
    if (rule.cfa === CfaKind.NoFde && problems.length < 10) problems.push(`no rule at the start of the FDE at 0x${begin.toString(16)}`);
  }
  expect(problems, path).toEqual([]);
  expect(t.stats.fdes).toBe(ref.fdes.length);
  return { rows: ref.rows.length, kinds };
}

describe('unwind tables against readelf -wF', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'firn-unwind-'));
    writeFileSync(join(dir, 'prog.c'), C_SRC);
    writeFileSync(join(dir, 'prog.cc'), CXX_SRC);
    execFileSync('gcc', ['-O2', '-fomit-frame-pointer', '-g0', '-o', join(dir, 'c-o2'), join(dir, 'prog.c')]);
    execFileSync('gcc', ['-O0', '-fno-omit-frame-pointer', '-o', join(dir, 'c-o0'), join(dir, 'prog.c')]);
    execFileSync('g++', ['-O2', '-fomit-frame-pointer', '-o', join(dir, 'cxx-o2'), join(dir, 'prog.cc')]);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('agrees on every row of C -O2 without frame pointers (incl. VLA, realigned stack, PLT)', async () => {
    const t = await readFileUnwindTable(join(dir, 'c-o2'));
    if ('reason' in t) throw new Error(t.detail);
    const { kinds } = compare(join(dir, 'c-o2'), t);
    expect(kinds).toContain(CfaKind.SpOffset);
    expect(kinds).toContain(CfaKind.FpOffset); // the VLA frame
    expect(kinds).toContain(CfaKind.Plt);
    expect(kinds).toContain(CfaKind.End); // _start
  });

  it('agrees on every row of C -O0 with frame pointers and C++ -O2 with exceptions', async () => {
    for (const name of ['c-o0', 'cxx-o2']) {
      const t = await readFileUnwindTable(join(dir, name));
      if ('reason' in t) throw new Error(t.detail);
      compare(join(dir, name), t);
    }
  });

  it('agrees on every row of the system libc and libstdc++', async () => {
    for (const path of ['/lib/x86_64-linux-gnu/libc.so.6', '/usr/lib/x86_64-linux-gnu/libstdc++.so.6']) {
      if (!existsSync(path)) continue;
      const t = await readFileUnwindTable(path);
      if ('reason' in t) throw new Error(t.detail);
      const { rows } = compare(path, t);
      expect(rows).toBeGreaterThan(1000);
    }
  }, 120_000);
});

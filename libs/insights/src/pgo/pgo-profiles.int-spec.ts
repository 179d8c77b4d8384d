import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PF_X, readElfFile, readSymbolsFromFile, type ElfFile } from '@firn/elf';
import type { Frame } from '@firn/profiles';
import { LlvmSymbolizer } from '@firn/symbols';
import { requireBinary } from '@firn/testing';
import type { PeriodGroup } from '../cost/cost-report';
import { addressesOf, binarySamples, chooseBuildId } from './binary-samples';
import { buildGoPgoProfile } from './go-pgo';
import { baseDiscriminator, buildLlvmSampleProfile } from './llvm-sample-profile';

const CPU = 'parca_agent:samples:count:cpu:nanoseconds:delta';
const PERIOD = 52_631_579n;

/** A hot loop calling through a function pointer, an inlined helper, a cold function. */
const SOURCE = `#include <stdlib.h>
typedef unsigned (*handler)(unsigned, unsigned char);
static inline unsigned mix(unsigned s, unsigned c) {
  return (s << 5) ^ (s >> 2) ^ c;
}
__attribute__((noinline)) unsigned on_text(unsigned s, unsigned char c) {
  if (c >= 'a' && c <= 'z') return mix(s, c);
  if (c == ' ') return s ^ (s >> 3);
  return s + 1;
}
__attribute__((noinline)) unsigned on_rare(unsigned s, unsigned char c) {
  for (int i = 0; i < 4; i++) s = mix(s, c + i);
  return s;
}
handler table[2] = {on_text, on_rare};
__attribute__((noinline)) unsigned tokenize(const unsigned char *b, const unsigned char *m, long n) {
  unsigned s = 0;
  for (long i = 0; i < n; i++) s = table[m[i]](s, b[i]);
  return s;
}
int main(int argc, char **argv) {
  unsigned char b[64] = "hello world", m[64] = {0};
  return (int)tokenize(b, m, argc > 1 ? atol(argv[1]) : 64) & 1;
}
`;

interface Fn {
  start: bigint;
  size: bigint;
}

/**
 * File offsets of every instruction of a function (objdump's view of the text), and of the
 * instructions right after its calls (the return addresses a stack walk finds).
 */
function instructions(elf: ElfFile, fn: Fn, bin: string): { all: bigint[]; afterCall: bigint[] } {
  const out = execFileSync(
    'objdump',
    ['-d', '--no-show-raw-insn', `--start-address=0x${fn.start.toString(16)}`, `--stop-address=0x${(fn.start + fn.size).toString(16)}`, bin],
    { encoding: 'utf8' },
  );
  const load = elf.loads.find((l) => (l.flags & PF_X) !== 0 && fn.start >= l.vaddr && fn.start < l.vaddr + l.filesz);
  if (!load) throw new Error('no executable load');
  const insns = [...out.matchAll(/^\s+([0-9a-f]+):\s+(\S+)/gm)].map((m) => ({ off: BigInt(`0x${m[1]}`) - load.vaddr + load.offset, op: m[2] }));
  return { all: insns.map((i) => i.off), afterCall: insns.filter((_, k) => k > 0 && insns[k - 1].op.startsWith('call')).map((i) => i.off) };
}

function frame(buildId: string, file: string, address: bigint): Frame {
  return { buildId, mappingFile: file, address, functionName: '', fileName: '', line: 0, inlined: false };
}

describe('PGO profiles from a real binary', () => {
  let dir: string;
  let bin: string;
  let elf: ElfFile;
  let cells: PeriodGroup[];

  beforeAll(async () => {
    for (const b of ['clang', 'llvm-symbolizer', 'llvm-profdata', 'objdump', 'go']) requireBinary(b);
    dir = mkdtempSync(join(tmpdir(), 'firn-pgo-'));
    writeFileSync(join(dir, 'tok.c'), SOURCE);
    bin = join(dir, 'tok');
    execFileSync('clang', ['-O2', '-g', '-fdebug-info-for-profiling', '-fno-omit-frame-pointer', '-Wl,--build-id', '-o', bin, join(dir, 'tok.c')]);
    elf = await readElfFile(bin);
    const syms = await readSymbolsFromFile(bin);
    const fn = (name: string): Fn => {
      const s = syms.find((x) => x.name === name);
      if (!s) throw new Error(`no symbol ${name}`);
      return { start: s.address, size: s.size };
    };
    const text = instructions(elf, fn('on_text'), bin).all;
    const rare = instructions(elf, fn('on_rare'), bin).all;
    const tokenize = instructions(elf, fn('tokenize'), bin);
    const tok = tokenize.all;
    // Stacks as the agent sends them: leaf first, return addresses of the callers after it
    // (the instruction after the indirect call in tokenize, and after main's call), a kernel
    // frame on top of some.
    const callRet = tokenize.afterCall[0];
    const mainRet = instructions(elf, fn('main'), bin).afterCall.at(-1) as bigint;
    const f = (a: bigint) => frame(elf.buildId, bin, a);
    const kernel: Frame = {
      buildId: '',
      mappingFile: '[kernel.kallsyms]',
      address: 0xffffffff81000000n,
      functionName: 'asm_sysvec_apic_timer_interrupt',
      fileName: '',
      line: 0,
      inlined: false,
    };
    const libc: Frame = { buildId: 'aaaa', mappingFile: '/usr/lib/libc.so.6', address: 0x1234n, functionName: '', fileName: '', line: 0, inlined: false };
    const stacks: Frame[][] = [];
    const values: number[] = [];
    text.forEach((a, i) => {
      stacks.push([...(i % 3 === 0 ? [kernel] : []), f(a), f(callRet), f(mainRet)]);
      values.push(100 + i);
    });
    rare.forEach((a) => {
      stacks.push([f(a), f(callRet), f(mainRet)]);
      values.push(3);
    });
    // The loop of tokenize itself (its own instructions as the leaf).
    tok.forEach((a) => {
      stacks.push([f(a), f(mainRet)]);
      values.push(20);
    });
    // A sample in libc called from tokenize: no leaf of the binary, and a gap in the stack.
    stacks.push([libc, f(callRet), f(mainRet)]);
    values.push(50);
    cells = [
      { values: [], periodNs: PERIOD, profile: { profileType: CPU, stacks, values: Float64Array.from(values), total: values.reduce((a, b) => a + b, 0) } },
    ];
  }, 120_000);

  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  async function resolved() {
    const b = binarySamples(cells, chooseBuildId(cells, { executable: 'tok' }), 'count');
    const { leaves, returns } = addressesOf(b);
    return { b, r: await new LlvmSymbolizer().resolve({ debugPath: bin, binaryPath: bin }, leaves, returns) };
  }

  it('writes an LLVM sample profile that llvm-profdata reads back and clang accepts', async () => {
    const { b, r } = await resolved();
    expect(b.buildId).toBe(elf.buildId);
    const { text, stats } = buildLlvmSampleProfile(b, r);
    expect(stats.functions).toBeGreaterThanOrEqual(2);
    const file = join(dir, 'tok.prof');
    writeFileSync(file, text);
    // on_text: its line offsets count from its own start line (line 6 of the source).
    expect(text).toMatch(/^on_text:\d+:\d+$/m);
    expect(text).toMatch(/^tokenize:\d+:\d+$/m);
    // The indirect call in tokenize (line 17 = start 15 + 2) carries its call targets.
    expect(text).toMatch(/^ 2(\.\d+)?: \d+ on_text:\d+ on_rare:\d+$/m);
    const show = execFileSync('llvm-profdata', ['show', '--sample', '--all-functions', file], { encoding: 'utf8' });
    expect(show).toMatch(/Function: on_text: \d+, \d+, \d+ sampled lines/);
    const merged = join(dir, 'tok.profdata');
    execFileSync('llvm-profdata', ['merge', '--sample', '-o', merged, file]);
    const cc = spawnSync(
      'clang',
      [
        '-O2',
        '-gline-tables-only',
        '-fdebug-info-for-profiling',
        `-fprofile-sample-use=${file}`,
        '-Wprofile-instr-unprofiled',
        '-c',
        '-o',
        join(dir, 'tok.o'),
        join(dir, 'tok.c'),
      ],
      { encoding: 'utf8' },
    );
    expect(cc.status, cc.stderr).toBe(0);
    expect(cc.stderr).not.toMatch(/malformed|could not|error/i);
  }, 120_000);

  it('writes a Go PGO profile go tool pprof reads with the sample types, names, lines and start lines Go needs', async () => {
    const { b, r } = await resolved();
    const { profile, stats } = buildGoPgoProfile(b, r, { startMs: Date.UTC(2026, 0, 1), durationMs: 60_000 });
    expect(stats.unresolvedSamples).toBe(0);
    const file = join(dir, 'default.pgo');
    writeFileSync(file, profile);
    const raw = execFileSync('go', ['tool', 'pprof', '-raw', file], { encoding: 'utf8', env: { ...process.env, HOME: dir, GOCACHE: join(dir, 'gocache') } });
    expect(raw).toMatch(/^PeriodType: cpu nanoseconds$/m);
    expect(raw).toMatch(/^Period: 52631579$/m);
    expect(raw).toMatch(/^Samples:\nsamples\/count cpu\/nanoseconds$/m);
    // Every location names a function with file:line and its start line (s=…).
    const locations = raw.slice(raw.indexOf('Locations'), raw.indexOf('Mappings'));
    const lines = [...locations.matchAll(/^\s+(\d+: 0x[0-9a-f]+ M=1 )?(\S+) (\S+):(\d+) s=(\d+)$/gm)];
    expect(lines.length).toBeGreaterThan(5);
    for (const m of lines) {
      expect(m[2]).toMatch(/^(on_text|on_rare|tokenize|main|mix)$/);
      if (Number(m[4]) > 0) expect(Number(m[4])).toBeGreaterThanOrEqual(Number(m[5]));
      expect(Number(m[5])).toBeGreaterThan(0);
    }
    // The libc sample is cut at the gap: only frames of the binary are kept.
    expect(raw).not.toMatch(/libc/);
    const total = raw
      .slice(raw.indexOf('samples/count cpu/nanoseconds') + 30, raw.indexOf('Locations'))
      .split('\n')
      .map((l) => /^\s*(\d+)\s+(\d+):/.exec(l))
      .filter((m): m is RegExpExecArray => m !== null);
    for (const m of total) expect(BigInt(m[2])).toBe(BigInt(m[1]) * PERIOD);
  }, 120_000);

  it('decodes base discriminators as LLVM does', () => {
    expect(baseDiscriminator(0)).toBe(0);
    expect(baseDiscriminator(8)).toBe(4);
    expect(baseDiscriminator(1030)).toBe(3);
    expect(baseDiscriminator(6)).toBe(3);
    expect(baseDiscriminator(1)).toBe(0);
  });
});

// Failure paths: corrupt inputs, deadlines, cancellation, the process bound and the
// .symtab/.dynsym fallback. Fake tools are small shell scripts in a temp dir.
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FirnError } from '@firn/errors';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSymbolizer } from './symbolizer';
import { mulberry32 } from '@firn/testing';
import { nmFunction, readelfLoads, sh, TempDir, vaddrToFileOffset } from './testing/toolchain';

const PROGRAMS = join(__dirname, 'testing', 'programs');

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe(`${createSymbolizer.name} failure handling`, () => {
  let tmp: TempDir;
  let bin: string;
  let leafOffset: bigint;
  afterAll(() => tmp?.remove());
  beforeAll(() => {
    tmp = new TempDir();
    bin = tmp.at('prog');
    sh('gcc', ['-O2', '-g', '-o', bin, join(PROGRAMS, 'prog.c')]);
    leafOffset = vaddrToFileOffset(readelfLoads(bin), nmFunction(bin, (n) => n === 'firn_leaf').address);
  });

  function script(name: string, body: string): string {
    const p = tmp.file(name, `#!/bin/sh\n${body}\n`);
    chmodSync(p, 0o755);
    return p;
  }

  it('rejects a file that is not ELF with FirnError invalid_argument', async () => {
    const p = tmp.file('not-elf', 'hello world, definitely not an ELF file');
    await expect(createSymbolizer().symbolize({ debugPath: p }, [0x1000n])).rejects.toMatchObject({ code: 'invalid_argument' });
    await expect(createSymbolizer().symbolize({ debugPath: tmp.at('missing') }, [0x1000n])).rejects.toMatchObject({ code: 'not_found' });
  });

  it('returns frames or FirnError, never anything else, for ELF files with corrupted contents', async () => {
    const s = createSymbolizer();
    const good = readFileSync(bin);
    const rng = mulberry32(42);
    for (let round = 0; round < 12; round++) {
      const b = Buffer.from(good);
      // Past the ELF header so most rounds reach elfutils with damaged sections and DWARF.
      for (let k = 0; k < 64; k++) b[64 + Math.floor(rng() * (b.length - 64))] = Math.floor(rng() * 256);
      const p = tmp.at(`corrupt-${round}`);
      writeFileSync(p, round % 3 === 0 ? b.subarray(0, Math.floor(b.length * rng())) : b);
      try {
        const res = await s.symbolize({ debugPath: p }, [leafOffset, leafOffset + 4n, 0n], { timeoutMs: 20_000 });
        expect(res).toHaveLength(3);
        for (const r of res) expect(Array.isArray(r.frames)).toBe(true);
      } catch (err) {
        expect(err).toBeInstanceOf(FirnError);
      }
    }
  });

  it('kills the tool and fails with deadline_exceeded when the deadline passes', async () => {
    const pidFile = tmp.at('slow.pid');
    const slow = script('slow-addr2line', `echo $$ > ${pidFile}\nexec sleep 30`);
    const s = createSymbolizer({ addr2linePath: slow, secondaryAddr2linePath: false });
    await expect(s.symbolize({ debugPath: bin }, [leafOffset], { timeoutMs: 300 })).rejects.toMatchObject({ code: 'deadline_exceeded' });
    expect(pidAlive(Number(readFileSync(pidFile, 'utf8')))).toBe(false);
  });

  it('kills the tool and fails with canceled when the caller aborts', async () => {
    const pidFile = tmp.at('abort.pid');
    const slow = script('abort-addr2line', `echo $$ > ${pidFile}\nexec sleep 30`);
    const s = createSymbolizer({ addr2linePath: slow, secondaryAddr2linePath: false });
    const ctl = new AbortController();
    const p = s.symbolize({ debugPath: bin }, [leafOffset], { signal: ctl.signal });
    while (!readFileSafe(pidFile)) await new Promise((r) => setTimeout(r, 20));
    ctl.abort();
    await expect(p).rejects.toMatchObject({ code: 'canceled' });
    expect(pidAlive(Number(readFileSync(pidFile, 'utf8')))).toBe(false);
    await expect(s.symbolize({ debugPath: bin }, [leafOffset], { signal: AbortSignal.abort() })).rejects.toMatchObject({ code: 'canceled' });
  });

  it('runs at most `concurrency` tool processes and splits work into batches of maxBatch', async () => {
    const log = tmp.at('conc.log');
    // Echoes addr2line-shaped output so parsing succeeds; logs start/end to count overlap.
    const fake = script('fake-addr2line', `echo start >> ${log}\nsleep 0.2\nwhile read a; do echo "$a"; echo fake_fn; echo /x.c:1; done\necho end >> ${log}`);
    const s = createSymbolizer({ addr2linePath: fake, secondaryAddr2linePath: false, concurrency: 2, maxBatch: 2 });
    const offsets = [0n, 1n, 2n, 3n, 4n, 5n, 6n].map((d) => leafOffset + d);
    const res = await s.symbolize({ debugPath: bin }, offsets);
    expect(res.map((r) => r.frames[0]?.functionName)).toEqual(offsets.map(() => 'fake_fn'));
    const events = readFileSync(log, 'utf8').trim().split('\n');
    expect(events.filter((e) => e === 'start')).toHaveLength(4);
    let running = 0;
    let peak = 0;
    for (const e of events) {
      running += e === 'start' ? 1 : -1;
      peak = Math.max(peak, running);
    }
    expect(peak).toBeLessThanOrEqual(2);
  });

  it('falls back to .symtab/.dynsym names when the DWARF engine knows nothing', async () => {
    const dyn = tmp.at('dyn');
    sh('gcc', ['-O2', '-rdynamic', '-o', dyn, join(PROGRAMS, 'prog.c')]);
    const stripped = tmp.at('dyn.stripped');
    sh('strip', ['-s', '-o', stripped, dyn]);
    const fn = nmFunction(dyn, (n) => n === 'firn_caller');
    const offset = vaddrToFileOffset(readelfLoads(dyn), fn.address + 2n);
    const silent = script('silent-addr2line', 'cat > /dev/null');
    const s = createSymbolizer({ addr2linePath: silent, secondaryAddr2linePath: false });
    const [r] = await s.symbolize({ binaryPath: stripped, debugPath: stripped }, [offset]);
    expect(r.frames).toEqual([{ functionName: 'firn_caller', fileName: '', line: 0, inlined: false }]);
    // The real engine reads the same .dynsym.
    const [real] = await createSymbolizer().symbolize({ debugPath: stripped }, [offset]);
    expect(real.frames.map((f) => f.functionName)).toEqual(['firn_caller']);
  });

  it('returns empty frames for offsets outside any executable segment and keeps input order', async () => {
    const res = await createSymbolizer().symbolize({ debugPath: bin }, [0n, leafOffset, 1n << 40n, leafOffset]);
    expect(res.map((r) => r.address)).toEqual([0n, leafOffset, 1n << 40n, leafOffset]);
    expect(res[0].frames).toEqual([]);
    expect(res[2].frames).toEqual([]);
    expect(res[1].frames.at(-1)?.functionName).toBe('firn_leaf');
    expect(res[3]).toEqual(res[1]);
    expect(await createSymbolizer().symbolize({ debugPath: bin }, [])).toEqual([]);
  });
});

function readFileSafe(p: string): string {
  try {
    return readFileSync(p, 'utf8');
  } catch {
    return '';
  }
}

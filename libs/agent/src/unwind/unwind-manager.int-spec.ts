// The unwind manager against real processes and real ELF files (/proc of this machine); the BPF
// maps are an in-memory stand-in here (the agent e2e drives the real ones).
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '@firn/observability';
import { lookupKernelTable, RULE_ID_NO_FDE, type UnwindRule } from '@firn/unwind';
import { parseProcMaps } from '../proc/proc-maps';
import { addressPrefixes, MAPPING_PENDING } from './prefixes';
import { loadBias, UnwindManager } from './unwind-manager';
import { PID_STATE, type UnwindKernel } from './unwind-maps';

/** The kernel side in memory: what the manager wrote, and a requests queue tests push to. */
class MemoryKernel implements UnwindKernel {
  rules = new Map<number, UnwindRule>();
  tables = new Map<number, Uint32Array>();
  mappings = new Map<string, Buffer>();
  pids = new Map<number, number>();
  requests: number[] = [];
  wanted = new Map<number, number>();
  python = new Map<number, Buffer>();
  mappingLimit = Infinity;

  putRule(id: number, rule: UnwindRule): void {
    this.rules.set(id, rule);
  }
  loadTable(id: number, table: Uint32Array): void {
    this.tables.set(id, table);
  }
  dropTable(id: number): void {
    this.tables.delete(id);
  }
  putMapping(key: Buffer, value: Buffer): boolean {
    if (!this.mappings.has(key.toString('hex')) && this.mappings.size >= this.mappingLimit) return false;
    this.mappings.set(key.toString('hex'), value);
    return true;
  }
  deleteMapping(key: Buffer): void {
    this.mappings.delete(key.toString('hex'));
  }
  popRequest(): number | undefined {
    return this.requests.shift();
  }
  setPidState(pid: number, state: number): void {
    this.pids.set(pid, state);
  }
  deletePid(pid: number): void {
    this.pids.delete(pid);
  }
  wantedTables(): Map<number, number> {
    return new Map(this.wanted);
  }
  clearWanted(id: number): void {
    this.wanted.delete(id);
  }
  putPython(pid: number, value: Buffer): void {
    this.python.set(pid, value);
  }
  deletePython(pid: number): void {
    this.python.delete(pid);
  }

  /** What the BPF program's trie lookup would find for (pid, address): longest prefix wins. */
  lookup(pid: number, addr: bigint): { tableId: number; flags: number; bias: bigint } | undefined {
    for (let bits = 64; bits >= 0; bits--) {
      const masked = bits === 0 ? 0n : (addr >> BigInt(64 - bits)) << BigInt(64 - bits);
      const key = Buffer.alloc(16);
      key.writeUInt32LE(32 + bits, 0);
      key.writeUInt32BE(pid, 4);
      key.writeBigUInt64BE(masked, 8);
      const v = this.mappings.get(key.toString('hex'));
      if (v) return { tableId: v.readUInt32LE(0), flags: v.readUInt32LE(4), bias: v.readBigInt64LE(8) };
    }
    return undefined;
  }

  /** Marks every pending table of a process wanted, as samples unwinding through it would. */
  want(pid: number): void {
    for (const [k, v] of this.mappings) {
      if (Buffer.from(k, 'hex').readUInt32BE(4) !== pid) continue;
      if (v.readUInt32LE(4) & MAPPING_PENDING) this.wanted.set(v.readUInt32LE(0), (this.wanted.get(v.readUInt32LE(0)) ?? 0) + 1);
    }
  }
}

const logger = createLogger({ component: 'unwind-test', level: 'error' });
const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) c.kill('SIGKILL');
});

/** A process that stays put (`sleep`), with its maps loaded. */
async function sleeper(): Promise<number> {
  const c = spawn('sleep', ['60'], { stdio: 'ignore' });
  children.push(c);
  await new Promise((r) => c.once('spawn', r));
  // Wait for exec and the dynamic loader: the maps then show the sleep binary and libc.
  for (let i = 0; i < 250 && !/sleep[\s\S]*libc\.so|libc\.so[\s\S]*sleep/.test(readFileSync(`/proc/${c.pid}/maps`, 'utf8')); i++) await sleep(20);
  return c.pid as number;
}

function execMappings(pid: number) {
  return parseProcMaps(readFileSync(`/proc/${pid}/maps`, 'utf8'), { executableOnly: true });
}

async function settle(m: UnwindManager): Promise<void> {
  await m.poll();
  await m.idle();
}

describe(UnwindManager.name, () => {
  it('loads a new process: every executable mapping, pending tables, then tables built once wanted', async () => {
    const kernel = new MemoryKernel();
    const m = new UnwindManager({ kernel, logger, budgetBytes: 64 << 20 });
    const pid = await sleeper();
    kernel.requests.push(pid);
    await settle(m);
    expect(kernel.pids.get(pid)).toBe(PID_STATE.ready);
    expect(kernel.tables.size).toBe(0); // nothing wanted yet: nothing built
    const maps = execMappings(pid);
    const exe = maps.find((x) => x.path.endsWith('/sleep'));
    const libc = maps.find((x) => /libc\.so/.test(x.path));
    expect(exe && libc).toBeTruthy();
    for (const x of maps) {
      const hit = kernel.lookup(pid, x.start + (x.end - x.start) / 2n);
      expect(hit, x.path).toBeDefined();
      if (x.path.startsWith('/')) expect(hit?.flags, x.path).toBe(MAPPING_PENDING);
      else expect(hit?.tableId, x.path).toBe(0); // [vdso]: frame pointers
    }
    expect(kernel.lookup(pid, 0x10n)).toBeUndefined();
    expect(kernel.rules.size).toBe(2); // NO_FDE and END

    kernel.want(pid);
    await settle(m);
    const stats = m.stats();
    expect(stats.tables.ready).toBeGreaterThanOrEqual(2);
    const libcHit = kernel.lookup(pid, libc!.start + 0x100n);
    expect(libcHit?.flags).toBe(0);
    const table = kernel.tables.get(libcHit!.tableId)!;
    // An address inside libc's code resolves to a real rule of the table, through the bias.
    const rule = lookupKernelTable(table, Number(libc!.start + 0x100n - libcHit!.bias));
    expect(rule).toBeDefined();
    expect(rule).not.toBe(RULE_ID_NO_FDE);
    expect(kernel.rules.has(rule!)).toBe(true);
    expect(stats.tableBytes).toBeGreaterThan(table.byteLength);
    await m.stop();
  });

  it('shares one table per build id between processes and forgets exited processes', async () => {
    let now = 1_000_000;
    const kernel = new MemoryKernel();
    const m = new UnwindManager({ kernel, logger, budgetBytes: 64 << 20, idleTableMs: 60_000, now: () => now });
    const [a, b] = [await sleeper(), await sleeper()];
    kernel.requests.push(a, b);
    await settle(m);
    kernel.want(a);
    kernel.want(b);
    await settle(m);
    const tableOf = (pid: number, path: RegExp) => {
      const x = execMappings(pid).find((y) => path.test(y.path))!;
      return kernel.lookup(pid, x.start)!.tableId;
    };
    expect(tableOf(a, /libc\.so/)).toBe(tableOf(b, /libc\.so/));
    const tables = kernel.tables.size;

    children[0].kill('SIGKILL');
    await new Promise((r) => children[0].once('exit', r));
    for (let i = 0; i < 100; i++) {
      try {
        readFileSync(`/proc/${a}/stat`);
        await sleep(20); // a zombie until reaped
      } catch {
        break;
      }
    }
    m.maintain();
    expect(m.stats().processes).toBe(1);
    expect([...kernel.mappings.keys()].some((k) => Buffer.from(k, 'hex').readUInt32BE(4) === a)).toBe(false);
    expect(kernel.pids.has(a)).toBe(false);
    expect(kernel.tables.size).toBe(tables); // b still maps them

    children[1].kill('SIGKILL');
    await new Promise((r) => children[1].once('exit', r));
    await sleep(100);
    m.maintain();
    expect(kernel.tables.size).toBe(tables); // idle, not yet evicted
    now += 61_000;
    m.maintain();
    expect(kernel.tables.size).toBe(0);
    expect(m.stats().evicted).toBe(tables);
    expect(m.stats().tableBytes).toBe(0);
    await m.stop();
  });

  it('keeps tables within the budget: a table that does not fit unwinds by frame pointers', async () => {
    const kernel = new MemoryKernel();
    const m = new UnwindManager({ kernel, logger, budgetBytes: 16 * 1024 });
    const pid = await sleeper();
    kernel.requests.push(pid);
    await settle(m);
    kernel.want(pid);
    await settle(m);
    const s = m.stats();
    expect(s.builds.over_budget).toBeGreaterThan(0);
    expect(s.tableBytes).toBeLessThanOrEqual(16 * 1024);
    const libc = execMappings(pid).find((x) => /libc\.so/.test(x.path))!;
    expect(kernel.lookup(pid, libc.start)).toMatchObject({ tableId: 0, flags: 0 });
    await m.stop();
  });

  it('re-reads the maps of a process the kernel reports again (dlopen), at most every refresh interval', async () => {
    let now = 5_000_000;
    const kernel = new MemoryKernel();
    const m = new UnwindManager({ kernel, logger, budgetBytes: 64 << 20, refreshIntervalMs: 2000, now: () => now });
    // Python loads libbz2 only when told to (ctypes), like a dlopen mid-run.
    const py = spawn(
      '/usr/bin/python3',
      ['-c', "import sys, time, ctypes\nsys.stdin.readline()\nctypes.CDLL('libbz2.so.1')\nprint('loaded', flush=True)\ntime.sleep(60)"],
      { stdio: ['pipe', 'pipe', 'ignore'] },
    );
    children.push(py);
    const pid = py.pid as number;
    for (
      let i = 0;
      i < 250 && !readFileSync(`/proc/${pid}/maps`, 'utf8').includes('libpython') && !/python3/.test(readFileSync(`/proc/${pid}/maps`, 'utf8'));
      i++
    )
      await sleep(20);
    await sleep(300);
    kernel.requests.push(pid);
    await settle(m);
    const bz2 = () => execMappings(pid).find((x) => x.path.includes('libbz2'));
    expect(bz2()).toBeUndefined();
    const loaded = new Promise((r) => py.stdout?.once('data', r));
    py.stdin?.write('\n');
    await loaded;
    const lib = bz2()!;
    expect(lib).toBeDefined();
    expect(kernel.lookup(pid, lib.start)).toBeUndefined();
    kernel.requests.push(pid); // the kernel saw an address outside every known mapping
    await settle(m);
    expect(kernel.lookup(pid, lib.start)).toBeUndefined(); // too soon: deferred, not dropped
    now += 2500;
    await settle(m);
    expect(kernel.lookup(pid, lib.start)).toMatchObject({ flags: MAPPING_PENDING });
    expect(kernel.pids.get(pid)).toBe(PID_STATE.ready);
    expect(m.stats().requests).toBe(2);
    // Debian's python3 is CPython 3.11: its interpreter is declared to the kernel.
    const declared = kernel.python.get(pid);
    expect(declared, 'python_procs entry').toBeDefined();
    const exe = execMappings(pid).find((x) => /python3/.test(x.path))!;
    expect(declared!.readBigUInt64LE(8)).toBeGreaterThanOrEqual(exe.start); // _PyEval_EvalFrameDefault in the text mapping
    expect(declared!.readBigUInt64LE(16)).toBeLessThanOrEqual(exe.end);
    await m.stop();
  });

  it('counts mappings the trie refuses', async () => {
    const kernel = new MemoryKernel();
    kernel.mappingLimit = 3;
    const m = new UnwindManager({ kernel, logger, budgetBytes: 64 << 20 });
    kernel.requests.push(await sleeper());
    await settle(m);
    expect(m.stats().mappingsRefused).toBeGreaterThan(0);
    expect(kernel.mappings.size).toBe(3);
    await m.stop();
  });
});

describe(loadBias.name, () => {
  it('maps a mapping to ELF addresses through its executable PT_LOAD, also below an unaligned p_offset', () => {
    const loads = [
      { vaddr: 0n, offset: 0n, filesz: 0x1000n, memsz: 0x1000n, flags: 4 },
      { vaddr: 0x401234n, offset: 0x1234n, filesz: 0x5000n, memsz: 0x5000n, flags: 5 },
    ];
    expect(loadBias({ loads }, { start: 0x7f0000001000n, offset: 0x1000n })).toBe(0x7f0000001000n - 0x401000n);
    expect(loadBias({ loads }, { start: 0x7f0000001000n, offset: 0x9000n })).toBeUndefined();
    expect(addressPrefixes(0x1000n, 0x3000n)).toHaveLength(2);
  });
});

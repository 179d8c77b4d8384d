import { FirnError } from '@firn/errors';
import { KERNEL_RULE_SIZE, writeKernelRule, type UnwindRule } from '@firn/unwind';
import type { LibBpf } from '../bpf/libbpf';
import type { UnwindMapFds } from '../bpf/sampler';

/** Process states in the `pids` map (enum in profiler.bpf.c). */
export const PID_STATE = { new: 1, ready: 2, stale: 3 } as const;

/** What the unwind manager needs from the kernel side (UnwindMaps; tests use an in-memory one). */
export interface UnwindKernel {
  putRule(id: number, rule: UnwindRule): void;
  /** Creates the table's inner map and publishes it under `id`; throws FirnError when the kernel refuses. */
  loadTable(id: number, table: Uint32Array): void;
  dropTable(id: number): void;
  /** False when the mapping trie is full. */
  putMapping(key: Buffer, value: Buffer): boolean;
  deleteMapping(key: Buffer): void;
  /** The next process the BPF program asked about, or undefined when none is waiting. */
  popRequest(): number | undefined;
  setPidState(pid: number, state: number): void;
  deletePid(pid: number): void;
  /** Pending tables the unwinder needed, with how often (table id → hits). */
  wantedTables(): Map<number, number>;
  /** Forgets the hits of a table (it is built, or will not be). */
  clearWanted(id: number): void;
  /** Declares a CPython process (`struct python_proc`, see python.ts) or forgets it. */
  putPython(pid: number, value: Buffer): void;
  deletePython(pid: number): void;
}

const BPF_MAP_TYPE_ARRAY = 2;

/** 8-byte array elements holding a table of `entries` u32 values. */
export function tableElements(entries: number): number {
  return Math.max(1, Math.ceil(entries / 2));
}

/** Kernel memory of a loaded table: its elements plus the map's own header (about a page). */
export function tableKernelBytes(entries: number): number {
  return tableElements(entries) * 8 + 4096;
}
const BPF_F_INNER_MAP = 1 << 12;
const BPF_ANY = 0;

/**
 * The unwinder's BPF maps (profiler.bpf.c): `unwind_rules` (global rule array),
 * `unwind_tables` (hash of maps: table id → one u32 array per file, created here with the
 * table's exact size and filled in one batch syscall), `mappings` (LPM trie (pid, address) →
 * table, bias), `pids`, the `requests` queue, `wanted` and `python_procs`.
 */
export class UnwindMaps implements UnwindKernel {
  private readonly u32 = Buffer.alloc(4);
  private readonly u32b = Buffer.alloc(4);

  constructor(
    private readonly bpf: LibBpf,
    private readonly fds: UnwindMapFds,
  ) {}

  putRule(id: number, rule: UnwindRule): void {
    const v = Buffer.alloc(KERNEL_RULE_SIZE);
    writeKernelRule(rule, v);
    this.u32.writeUInt32LE(id);
    const rc = this.bpf.mapUpdate(this.fds.rules, this.u32, v, BPF_ANY);
    if (rc !== 0) throw FirnError.internal(`writing unwind rule ${id} failed (${rc})`);
  }

  loadTable(id: number, table: Uint32Array): void {
    // Two u32 entries per 8-byte element: arrays round values up to 8 bytes, so a u32 value
    // would take twice its size in the kernel.
    const elements = tableElements(table.length);
    const fd = this.bpf.mapCreate(BPF_MAP_TYPE_ARRAY, `firn_t${id}`.slice(0, 15), 4, 8, elements, BPF_F_INNER_MAP);
    if (fd < 0) throw FirnError.unavailable(`creating a BPF array of ${elements} elements for unwind table ${id} failed (${fd})`);
    try {
      const keys = Buffer.alloc(elements * 4);
      for (let i = 0; i < elements; i++) keys.writeUInt32LE(i, i * 4);
      const values = Buffer.alloc(elements * 8);
      values.set(new Uint8Array(table.buffer, table.byteOffset, table.byteLength));
      const rc = this.bpf.mapUpdateBatch(fd, keys, values, elements);
      if (rc !== 0) throw FirnError.unavailable(`filling unwind table ${id} failed (${rc})`);
      this.u32.writeUInt32LE(id);
      this.u32b.writeUInt32LE(fd);
      const put = this.bpf.mapUpdate(this.fds.tables, this.u32, this.u32b, BPF_ANY);
      if (put !== 0) throw FirnError.unavailable(`publishing unwind table ${id} failed (${put}): too many tables loaded?`);
    } finally {
      // The outer map holds its own reference: the table lives until it is deleted there.
      this.bpf.close(fd);
    }
  }

  dropTable(id: number): void {
    this.u32.writeUInt32LE(id);
    this.bpf.mapDelete(this.fds.tables, this.u32);
  }

  putMapping(key: Buffer, value: Buffer): boolean {
    return this.bpf.mapUpdate(this.fds.mappings, key, value, BPF_ANY) === 0;
  }

  deleteMapping(key: Buffer): void {
    this.bpf.mapDelete(this.fds.mappings, key);
  }

  popRequest(): number | undefined {
    return this.bpf.mapPop(this.fds.requests, this.u32) === 0 ? this.u32.readUInt32LE(0) : undefined;
  }

  setPidState(pid: number, state: number): void {
    this.u32.writeUInt32LE(pid);
    this.u32b.writeUInt32LE(state);
    this.bpf.mapUpdate(this.fds.pids, this.u32, this.u32b, BPF_ANY);
  }

  deletePid(pid: number): void {
    this.u32.writeUInt32LE(pid);
    this.bpf.mapDelete(this.fds.pids, this.u32);
  }

  wantedTables(): Map<number, number> {
    const out = new Map<number, number>();
    let prev: Buffer | null = null;
    const value = Buffer.alloc(4);
    for (let i = 0; i < 1 << 16; i++) {
      const next = Buffer.alloc(4);
      if (this.bpf.mapGetNextKey(this.fds.wanted, prev, next) !== 0) break;
      if (this.bpf.mapLookup(this.fds.wanted, next, value) === 0) out.set(next.readUInt32LE(0), value.readUInt32LE(0));
      prev = next;
    }
    return out;
  }

  clearWanted(id: number): void {
    this.u32.writeUInt32LE(id);
    this.bpf.mapDelete(this.fds.wanted, this.u32);
  }

  putPython(pid: number, value: Buffer): void {
    this.u32.writeUInt32LE(pid);
    this.bpf.mapUpdate(this.fds.python, this.u32, value, BPF_ANY);
  }

  deletePython(pid: number): void {
    this.u32.writeUInt32LE(pid);
    this.bpf.mapDelete(this.fds.python, this.u32);
  }
}

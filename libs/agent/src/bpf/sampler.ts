import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { FirnError } from '@firn/errors';
import { loadLibBpf, type LibBpf } from './libbpf';

/** Layout of `struct sample_key` in profiler.bpf.c: pid, kernel stack id, user stack id, comm. */
const KEY_SIZE = 32;
const COMM_OFFSET = 16;
const COMM_LEN = 16;
const MAX_STACK_DEPTH = 127;
const STACK_VALUE_SIZE = MAX_STACK_DEPTH * 8;
/** `struct user_stack`: u64 len + MAX_USER_DEPTH addresses. */
const MAX_USER_DEPTH = 127;
const USER_STACK_SIZE = 8 + MAX_USER_DEPTH * 8;

/** Indexes of the `stats` map (enum in profiler.bpf.c). */
export const STAT = {
  samples: 0,
  mapFull: 1,
  userStackErrors: 2,
  kernelStackErrors: 3,
  framesTable: 4,
  framesFramePointer: 5,
  fallbackNoMapping: 6,
  fallbackNoTable: 7,
  fallbackNotReady: 8,
  fallbackNoFde: 9,
  fallbackUnsupported: 10,
  stopRead: 11,
  stopDepth: 12,
  stopBadFrame: 13,
  stacksComplete: 14,
  stacksTruncated: 15,
  pidsNew: 16,
  framesPython: 17,
} as const;
const STAT_COUNT = 18;

/** How user stacks are unwound (`control[1]` in profiler.bpf.c). */
export type UnwindMode = 'frame-pointers' | 'tables';

/** One aggregated sample as it leaves the kernel: addresses only, leaf first. */
export interface RawSample {
  pid: number;
  comm: string;
  userStack: bigint[];
  kernelStack: bigint[];
  count: number;
}

export type SamplerStats = Record<keyof typeof STAT, number> & {
  /** Stack ids that could not be read back during the drain. */
  missingStacks: number;
};

/** File descriptors of the unwinder's maps (see UnwindMaps). */
export interface UnwindMapFds {
  rules: number;
  tables: number;
  mappings: number;
  pids: number;
  requests: number;
  wanted: number;
  python: number;
}

export interface SamplerOptions {
  objectPath: string;
  frequencyHz: number;
  /** CPUs to sample; default: every online CPU. */
  cpus?: number[];
  /** Time given to programs still running on the old buffer after a flip. */
  flipGraceMs?: number;
  /** Default 'frame-pointers'; 'tables' needs user space to load unwind tables (UnwindManager). */
  unwindMode?: UnwindMode;
}

function emptyStats(): Record<keyof typeof STAT, number> {
  return Object.fromEntries(Object.keys(STAT).map((k) => [k, 0])) as Record<keyof typeof STAT, number>;
}

/** Parses /sys/devices/system/cpu/online ("0-3,6,8-9"). */
export function parseCpuList(text: string): number[] {
  const out: number[] = [];
  for (const part of text.trim().split(',').filter(Boolean)) {
    const [a, b] = part.split('-').map((x) => Number.parseInt(x, 10));
    for (let c = a; c <= (b ?? a); c++) out.push(c);
  }
  return out;
}

/** perf_event_attr for PERF_TYPE_SOFTWARE / PERF_COUNT_SW_CPU_CLOCK in frequency mode. */
export function perfEventAttr(frequencyHz: number): Buffer {
  const attr = Buffer.alloc(128);
  attr.writeUInt32LE(1, 0); // type: PERF_TYPE_SOFTWARE
  attr.writeUInt32LE(128, 4); // size: PERF_ATTR_SIZE_VER7
  attr.writeBigUInt64LE(0n, 8); // config: PERF_COUNT_SW_CPU_CLOCK
  attr.writeBigUInt64LE(BigInt(frequencyHz), 16); // sample_freq
  attr.writeBigUInt64LE(1n << 10n, 40); // flags: freq
  return attr;
}

/**
 * The kernel half of the agent: loads profiler.bpf.o, opens one CPU-clock perf event per CPU,
 * attaches the program, and drains the double-buffered maps (see the comment in the C source).
 */
export class BpfSampler {
  private readonly bpf: LibBpf;
  private obj: unknown = null;
  private links: unknown[] = [];
  private perfFds: number[] = [];
  private fds = { counts: [-1, -1], stacks: [-1, -1], ustacks: [-1, -1], control: -1, stats: -1 };
  private unwindFds: UnwindMapFds | undefined;
  private active = 0;
  private missingStacks = 0;
  private readonly ncpuPossible: number;

  constructor(private readonly opts: SamplerOptions) {
    this.bpf = loadLibBpf();
    this.ncpuPossible = parseCpuList(readFileSync('/sys/devices/system/cpu/possible', 'utf8')).length;
  }

  start(): void {
    const b = this.bpf;
    const obj = b.openObject(this.opts.objectPath);
    if (!obj) throw FirnError.unavailable(`cannot open BPF object ${this.opts.objectPath} (errno ${b.errno()})`);
    this.obj = obj;
    try {
      const rc = b.loadObject(obj);
      if (rc !== 0) throw FirnError.unavailable(`loading the BPF program failed (${rc}): need root/CAP_BPF+CAP_PERFMON and a BTF kernel`);
      this.fds = {
        counts: [b.findMapFd(obj, 'counts0'), b.findMapFd(obj, 'counts1')],
        stacks: [b.findMapFd(obj, 'stacks0'), b.findMapFd(obj, 'stacks1')],
        ustacks: [b.findMapFd(obj, 'ustacks0'), b.findMapFd(obj, 'ustacks1')],
        control: b.findMapFd(obj, 'control'),
        stats: b.findMapFd(obj, 'stats'),
      };
      this.unwindFds = {
        rules: b.findMapFd(obj, 'unwind_rules'),
        tables: b.findMapFd(obj, 'unwind_tables'),
        mappings: b.findMapFd(obj, 'mappings'),
        pids: b.findMapFd(obj, 'pids'),
        requests: b.findMapFd(obj, 'requests'),
        wanted: b.findMapFd(obj, 'wanted'),
        python: b.findMapFd(obj, 'python_procs'),
      };
      this.setControl(0, 0);
      this.setControl(1, this.opts.unwindMode === 'tables' ? 1 : 0);
      const prog = b.findProgram(obj, 'firn_sample');
      if (!prog) throw FirnError.internal('BPF object has no program firn_sample');
      const cpus = this.opts.cpus ?? parseCpuList(readFileSync('/sys/devices/system/cpu/online', 'utf8'));
      const attr = perfEventAttr(this.opts.frequencyHz);
      for (const cpu of cpus) {
        const fd = b.perfEventOpen(attr, -1, cpu, -1, 8 /* PERF_FLAG_FD_CLOEXEC */);
        if (fd < 0) throw FirnError.unavailable(`perf_event_open on cpu ${cpu} failed (errno ${b.errno()})`);
        this.perfFds.push(fd);
        const link = b.attachPerfEvent(prog, fd);
        if (!link) throw FirnError.unavailable(`attaching to the perf event of cpu ${cpu} failed (errno ${b.errno()})`);
        this.links.push(link);
      }
    } catch (err) {
      this.stop();
      throw err;
    }
  }

  /** Stops sampling; the maps stay readable, so a final `drain()` still sees the last window. */
  detach(): void {
    for (const l of this.links) this.bpf.destroyLink(l);
    this.links = [];
    for (const fd of this.perfFds) this.bpf.close(fd);
    this.perfFds = [];
  }

  /** Detaches and frees everything; safe to call twice. */
  stop(): void {
    this.detach();
    if (this.obj) this.bpf.closeObject(this.obj);
    this.obj = null;
    this.unwindFds = undefined;
  }

  /** The unwinder's map fds while loaded (the UnwindManager fills them). */
  get unwindMaps(): UnwindMapFds | undefined {
    return this.unwindFds;
  }

  get attached(): boolean {
    return this.links.length > 0;
  }

  /** Flips the buffers, then reads and clears the one that was active until now. */
  async drain(): Promise<RawSample[]> {
    if (!this.obj) return [];
    const idle = this.active;
    this.setControl(0, 1 - idle);
    this.active = 1 - idle;
    await sleep(this.opts.flipGraceMs ?? 5);
    return this.drainBuffer(idle);
  }

  /** Totals since load (monotonic). */
  stats(): SamplerStats {
    const out = { ...emptyStats(), missingStacks: this.missingStacks };
    if (!this.obj) return out;
    const key = Buffer.alloc(4);
    const value = Buffer.alloc(8 * this.ncpuPossible);
    const names = Object.entries(STAT) as Array<[keyof typeof STAT, number]>;
    for (const [name, idx] of names.slice(0, STAT_COUNT)) {
      key.writeUInt32LE(idx);
      if (this.bpf.mapLookup(this.fds.stats, key, value) !== 0) continue;
      let sum = 0;
      for (let c = 0; c < this.ncpuPossible; c++) sum += Number(value.readBigUInt64LE(c * 8));
      out[name] = sum;
    }
    return out;
  }

  private setControl(index: number, value: number): void {
    const key = Buffer.alloc(4);
    key.writeUInt32LE(index);
    const v = Buffer.alloc(4);
    v.writeUInt32LE(value);
    if (this.bpf.mapUpdate(this.fds.control, key, v, 0) !== 0) throw FirnError.internal(`cannot write BPF control[${index}] (errno ${this.bpf.errno()})`);
  }

  private drainBuffer(idx: number): RawSample[] {
    const countsFd = this.fds.counts[idx];
    const stacksFd = this.fds.stacks[idx];
    const ustacksFd = this.fds.ustacks[idx];
    const keys = this.keysOf(countsFd, KEY_SIZE);
    const value = Buffer.alloc(8);
    const kernelStacks = new Map<number, bigint[]>();
    const stackValue = Buffer.alloc(STACK_VALUE_SIZE);
    const readKernelStack = (id: number): bigint[] => {
      if (id < 0) return [];
      const hit = kernelStacks.get(id);
      if (hit) return hit;
      const k = Buffer.alloc(4);
      k.writeUInt32LE(id);
      const frames: bigint[] = [];
      if (this.bpf.mapLookup(stacksFd, k, stackValue) === 0) {
        for (let i = 0; i < MAX_STACK_DEPTH; i++) {
          const ip = stackValue.readBigUInt64LE(i * 8);
          if (ip === 0n) break;
          frames.push(ip);
        }
      } else this.missingStacks++;
      kernelStacks.set(id, frames);
      return frames;
    };
    const userStacks = new Map<bigint, bigint[]>();
    const userValue = Buffer.alloc(USER_STACK_SIZE);
    const readUserStack = (key: Buffer): bigint[] => {
      const id = key.readBigUInt64LE(8);
      if (id === 0n) return [];
      const hit = userStacks.get(id);
      if (hit) return hit;
      const frames: bigint[] = [];
      if (this.bpf.mapLookup(ustacksFd, key.subarray(8, 16), userValue) === 0) {
        const n = Math.min(MAX_USER_DEPTH, Number(userValue.readBigUInt64LE(0)));
        for (let i = 0; i < n; i++) frames.push(userValue.readBigUInt64LE(8 + i * 8));
      } else this.missingStacks++;
      userStacks.set(id, frames);
      return frames;
    };
    const out: RawSample[] = [];
    for (const key of keys) {
      if (this.bpf.mapLookup(countsFd, key, value) !== 0) continue;
      const commEnd = key.indexOf(0, COMM_OFFSET);
      out.push({
        pid: key.readUInt32LE(0),
        comm: key.toString('utf8', COMM_OFFSET, commEnd < 0 || commEnd > COMM_OFFSET + COMM_LEN ? COMM_OFFSET + COMM_LEN : commEnd),
        userStack: readUserStack(key),
        kernelStack: readKernelStack(key.readInt32LE(4)),
        count: Number(value.readBigUInt64LE(0)),
      });
    }
    for (const key of keys) this.bpf.mapDelete(countsFd, key);
    for (const k of this.keysOf(stacksFd, 4)) this.bpf.mapDelete(stacksFd, k);
    for (const k of this.keysOf(ustacksFd, 8)) this.bpf.mapDelete(ustacksFd, k);
    return out;
  }

  private keysOf(fd: number, size: number): Buffer[] {
    const keys: Buffer[] = [];
    let prev: Buffer | null = null;
    for (;;) {
      const next = Buffer.alloc(size);
      if (this.bpf.mapGetNextKey(fd, prev, next) !== 0) break;
      keys.push(next);
      prev = next;
    }
    return keys;
  }
}

import { readFileSync, readlinkSync, statSync } from 'node:fs';
import type { Frame } from '@firn/profiles';
import { cgroupPathOf, parseCgroupPath, type CgroupInfo } from '../labels/cgroup';
import { classifyFrame, localFrames, type LocalSymbols } from '../symbols/local-symbols';
import { PerfMap } from '../symbols/perf-map';
import { PYTHON_FRAME_TAG, readPythonFunction } from '../unwind/python';
import { findMapping, isFileMapping, parseProcMaps, parseStartTime, type ProcMapping } from './proc-maps';

/** What the agent needs from a mapped file: its id and, with local symbols, its function symbols. */
export interface ObjectInfo {
  /** GNU build id, or a content hash for files without one (`buildIdOrHash` of @firn/elf). */
  buildId: string;
  symbols?: LocalSymbols;
}

/** Reads an object file; throws when it cannot be read (e.g. the process is gone). */
export type ObjectReader = (path: string) => Promise<ObjectInfo>;

export interface ProcessInfo {
  pid: number;
  /** starttime + exe: a reused pid or an exec changes it. */
  identity: string;
  exe: string;
  cgroup: CgroupInfo;
  maps: ProcMapping[];
  /** Maps were re-read in this drain already (after a miss); don't re-read again. */
  mapsFresh: boolean;
  /** The perf map was checked for changes in this drain already. */
  perfMapChecked: boolean;
  nsPid: number;
  perfMap?: { size: number; mtimeMs: number; map: PerfMap };
  /**
   * Address → frame (several for Go inlined calls, leaf first), reused across stacks and windows:
   * the same Frame object lets the batch builder and the Arrow encoder intern it by identity
   * instead of by a string key. Cleared when the JIT map changes; unmapped entries dropped when
   * the maps are re-read.
   */
  frames: Map<bigint, Frame | Frame[]>;
}

export interface ProcessTableOptions {
  readObject: ObjectReader;
  /** /proc by default; tests may point elsewhere. */
  procRoot?: string;
}

const MAX_OBJECTS = 20_000;
const MAX_FRAMES_PER_PROCESS = 100_000;

/**
 * Per-pid facts the drain needs (exe, cgroup, memory mappings, JIT perf map), cached until the
 * pid's identity (start time, exe) changes. Processes that exited are tolerated: their samples keep
 * pid/comm labels and unresolved addresses.
 */
export class ProcessTable {
  private readonly procs = new Map<number, ProcessInfo>();
  /** By file identity (dev:inode): a library mapped by 500 processes is read once. */
  private readonly objects = new Map<string, Promise<ObjectInfo | undefined>>();
  private readonly objectsDone = new Map<string, ObjectInfo>();
  /** build id → a path the agent read it through (for debuginfo uploads). */
  private readonly paths = new Map<string, string>();
  private readonly root: string;

  constructor(private readonly opts: ProcessTableOptions) {
    this.root = opts.procRoot ?? '/proc';
  }

  get size(): number {
    return this.procs.size;
  }

  /** Refreshes the entries of the given pids and forgets every other pid. */
  // procfs reads are synchronous on purpose: they never wait for a disk, and a promise per
  // open/fstat/read/close of a 300-byte file cost more CPU than the read itself.
  refresh(pids: Iterable<number>): void {
    const wanted = new Set(pids);
    for (const pid of this.procs.keys()) if (!wanted.has(pid)) this.procs.delete(pid);
    for (const pid of wanted) {
      const id = this.identityOf(pid);
      if (id === undefined) {
        this.procs.delete(pid); // gone: keep nothing stale
        continue;
      }
      const cur = this.procs.get(pid);
      if (cur && cur.identity === id.identity) {
        cur.mapsFresh = false;
        cur.perfMapChecked = false;
        continue;
      }
      const info = this.load(pid, id.identity, id.exe);
      if (info) this.procs.set(pid, info);
      else this.procs.delete(pid);
    }
  }

  /** A path through which the file with this build id was read, if any. */
  pathOf(buildId: string): string | undefined {
    return this.paths.get(buildId);
  }

  get(pid: number): ProcessInfo | undefined {
    return this.procs.get(pid);
  }

  /** User addresses (leaf first) → frames: file-relative offsets with build ids, JIT names. */
  async userFrames(pid: number, addrs: readonly bigint[]): Promise<Frame[]> {
    const info = this.procs.get(pid);
    const out: Frame[] = [];
    for (let i = 0; i < addrs.length; i++) {
      const addr = addrs[i];
      if (!info) {
        out.push(frame('', '', addr, ''));
        continue;
      }
      // Only a miss may wait (for a first read of an object file); hits stay synchronous.
      const f = info.frames.get(addr) ?? (await this.resolve(info, addr));
      if (Array.isArray(f)) out.push(...f);
      else out.push(f);
    }
    return out;
  }

  private async resolve(info: ProcessInfo, addr: bigint): Promise<Frame | Frame[]> {
    if (addr & PYTHON_FRAME_TAG) return this.pythonFrame(info, addr);
    let m = findMapping(info.maps, addr);
    if (!m && !info.mapsFresh) {
      // A library loaded or code JIT-compiled since we read the maps.
      info.maps = this.readMaps(info.pid);
      info.mapsFresh = true;
      // Frames of addresses that were outside every mapping may be inside a new one now.
      for (const [a, f] of info.frames) if (!Array.isArray(f) && (f.mappingFile === '' || f.mappingFile === '[anon]')) info.frames.delete(a);
      m = findMapping(info.maps, addr);
    }
    let f: Frame | Frame[];
    if (m && isFileMapping(m)) {
      const key = objectKey(m);
      const obj = this.objectsDone.get(key) ?? (await this.objectOf(info.pid, m, key));
      const offset = addr - m.start + m.offset;
      f = localFrames(obj?.symbols, obj?.buildId ?? '', m.path, offset);
      if (!obj) return f; // unreadable this time: not cached, tried again next window
    } else {
      const name = this.perfMapOf(info)?.lookup(addr) ?? '';
      if (name) f = classifyFrame(frame('', '[jit]', addr, name), 'jit');
      else if (m && m.path.startsWith('[')) f = classifyFrame(frame('', m.path, addr - m.start, ''), 'unmapped', 'no_mapping');
      else if (m) f = classifyFrame(frame('', '[anon]', addr, ''), 'jit', 'no_perf_map_entry');
      else f = classifyFrame(frame('', '', addr, ''), 'unmapped', 'no_mapping');
    }
    if (info.frames.size >= MAX_FRAMES_PER_PROCESS) info.frames.clear();
    info.frames.set(addr, f);
    return f;
  }

  /**
   * A CPython interpreter frame (a tagged code object address from the BPF program): named from
   * the code object in the process's memory. Cached like native frames; a code object freed and
   * its address reused by another function within a process's lifetime would keep the old name.
   */
  private pythonFrame(info: ProcessInfo, addr: bigint): Frame {
    const code = addr & ~PYTHON_FRAME_TAG;
    const fn = readPythonFunction(this.root, info.pid, code);
    if (!fn) return classifyFrame(frame('', '[python]', code, ''), 'python', 'code_object_unreadable'); // not cached: tried again
    const f = classifyFrame(
      { buildId: '', mappingFile: '[python]', address: code, functionName: fn.name, fileName: fn.file, line: fn.line, inlined: false },
      'python',
    );
    if (info.frames.size >= MAX_FRAMES_PER_PROCESS) info.frames.clear();
    info.frames.set(addr, f);
    return f;
  }

  private identityOf(pid: number): { identity: string; exe: string } | undefined {
    try {
      const statText = readFileSync(`${this.root}/${pid}/stat`, 'utf8');
      const exe = readlinkOr(`${this.root}/${pid}/exe`, '');
      return { identity: `${parseStartTime(statText)}:${exe}`, exe };
    } catch {
      return undefined;
    }
  }

  private load(pid: number, identity: string, exe: string): ProcessInfo | undefined {
    try {
      const cgroupText = readOr(`${this.root}/${pid}/cgroup`, '');
      const maps = this.readMaps(pid);
      const status = readFileSync(`${this.root}/${pid}/status`, 'utf8');
      const nsLine = /^NSpid:\s*(.+)$/m.exec(status);
      const nsPids = nsLine ? nsLine[1].trim().split(/\s+/).map(Number) : [pid];
      return {
        pid,
        identity,
        exe: exe.replace(/ \(deleted\)$/, ''),
        cgroup: parseCgroupPath(cgroupPathOf(cgroupText)),
        maps,
        mapsFresh: true,
        perfMapChecked: false,
        nsPid: nsPids[nsPids.length - 1] ?? pid,
        frames: new Map(),
      };
    } catch {
      return undefined;
    }
  }

  private readMaps(pid: number): ProcMapping[] {
    return parseProcMaps(readOr(`${this.root}/${pid}/maps`, ''), { executableOnly: true });
  }

  private objectOf(pid: number, m: ProcMapping, key: string): Promise<ObjectInfo | undefined> {
    let p = this.objects.get(key);
    if (!p) {
      if (this.objects.size >= MAX_OBJECTS) {
        this.objects.clear();
        this.objectsDone.clear();
      }
      // map_files reaches the exact file even inside another mount namespace or when deleted.
      const viaMapFiles = `${this.root}/${pid}/map_files/${m.start.toString(16)}-${m.end.toString(16)}`;
      const viaRoot = `${this.root}/${pid}/root${m.path}`;
      const read = (path: string) =>
        this.opts.readObject(path).then((info) => {
          if (this.paths.size >= MAX_OBJECTS) this.paths.clear();
          this.paths.set(info.buildId, path);
          this.objectsDone.set(key, info);
          return info;
        });
      p = read(viaMapFiles)
        .catch(() => read(viaRoot))
        .catch(() => {
          // Unreadable (the process exited under us): try again next time.
          this.objects.delete(key);
          return undefined;
        });
      this.objects.set(key, p);
    }
    return p;
  }

  private perfMapOf(info: ProcessInfo): PerfMap | undefined {
    if (info.perfMapChecked) return info.perfMap?.map;
    info.perfMapChecked = true;
    const path = `${this.root}/${info.pid}/root/tmp/perf-${info.nsPid}.map`;
    try {
      const st = statSync(path, { throwIfNoEntry: false });
      if (!st) return info.perfMap?.map;
      if (info.perfMap && info.perfMap.size === st.size && info.perfMap.mtimeMs === st.mtimeMs) return info.perfMap.map;
      const map = PerfMap.parse(readFileSync(path, 'utf8'));
      info.perfMap = { size: st.size, mtimeMs: st.mtimeMs, map };
      info.frames.clear(); // JIT code moved: cached names may be stale
      return map;
    } catch {
      return info.perfMap?.map;
    }
  }
}

/** dev:inode names a file across mount namespaces and renames; anonymous-ish entries fall back to the path. */
function objectKey(m: ProcMapping): string {
  return m.inode !== 0 ? `${m.dev}:${m.inode}` : `path:${m.path}`;
}

function readOr(path: string, fallback: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return fallback;
  }
}

function readlinkOr(path: string, fallback: string): string {
  try {
    return readlinkSync(path);
  } catch {
    return fallback;
  }
}

function frame(buildId: string, mappingFile: string, address: bigint, functionName: string): Frame {
  return { buildId, mappingFile, address, functionName, fileName: '', line: 0, inlined: false };
}

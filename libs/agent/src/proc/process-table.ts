import { readFile, readlink, stat } from 'node:fs/promises';
import { fileOffsetToVaddr, findSymbol, type ElfLoad, type ElfSymbol } from '@firn/elf';
import type { Frame } from '@firn/profiles';
import { cgroupPathOf, parseCgroupPath, type CgroupInfo } from '../labels/cgroup';
import { PerfMap } from '../symbols/perf-map';
import { findMapping, isFileMapping, parseProcMaps, parseStartTime, type ProcMapping } from './proc-maps';

/** What the agent needs from a mapped file: its id and, with local symbols, its function symbols. */
export interface ObjectInfo {
  /** GNU build id, or a content hash for files without one (`buildIdOrHash` of @firn/elf). */
  buildId: string;
  symbols?: { loads: ElfLoad[]; symbols: ElfSymbol[] };
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
}

export interface ProcessTableOptions {
  readObject: ObjectReader;
  /** /proc by default; tests may point elsewhere. */
  procRoot?: string;
}

const MAX_OBJECTS = 20_000;

/**
 * Per-pid facts the drain needs (exe, cgroup, memory mappings, JIT perf map), cached until the
 * pid's identity (start time, exe) changes. Processes that exited are tolerated: their samples keep
 * pid/comm labels and unresolved addresses.
 */
export class ProcessTable {
  private readonly procs = new Map<number, ProcessInfo>();
  private readonly objects = new Map<string, Promise<ObjectInfo | undefined>>();
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
  async refresh(pids: Iterable<number>): Promise<void> {
    const wanted = new Set(pids);
    for (const pid of this.procs.keys()) if (!wanted.has(pid)) this.procs.delete(pid);
    await Promise.all(
      [...wanted].map(async (pid) => {
        const identity = await this.identityOf(pid);
        if (identity === undefined) {
          this.procs.delete(pid); // gone: keep nothing stale
          return;
        }
        const cur = this.procs.get(pid);
        if (cur && cur.identity === identity) {
          cur.mapsFresh = false;
          cur.perfMapChecked = false;
          return;
        }
        const info = await this.load(pid, identity);
        if (info) this.procs.set(pid, info);
        else this.procs.delete(pid);
      }),
    );
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
    for (const addr of addrs) {
      if (!info) {
        out.push(frame('', '', addr, ''));
        continue;
      }
      let m = findMapping(info.maps, addr);
      if (!m && !info.mapsFresh) {
        // A library loaded or code JIT-compiled since we read the maps.
        info.maps = await this.readMaps(pid);
        info.mapsFresh = true;
        m = findMapping(info.maps, addr);
      }
      if (m && isFileMapping(m)) {
        const obj = await this.objectOf(pid, m);
        const offset = addr - m.start + m.offset;
        out.push(frame(obj?.buildId ?? '', m.path, offset, obj?.symbols ? localSymbol(obj.symbols, offset) : ''));
        continue;
      }
      const jit = await this.perfMapOf(info);
      const name = jit?.lookup(addr) ?? '';
      if (name) out.push(frame('', '[jit]', addr, name));
      else if (m && m.path.startsWith('[')) out.push(frame('', m.path, addr - m.start, ''));
      else out.push(frame('', m ? '[anon]' : '', addr, ''));
    }
    return out;
  }

  private async identityOf(pid: number): Promise<string | undefined> {
    try {
      const [statText, exe] = await Promise.all([readFile(`${this.root}/${pid}/stat`, 'utf8'), readlink(`${this.root}/${pid}/exe`).catch(() => '')]);
      return `${parseStartTime(statText)}:${exe}`;
    } catch {
      return undefined;
    }
  }

  private async load(pid: number, identity: string): Promise<ProcessInfo | undefined> {
    try {
      const [exe, cgroupText, maps, status] = await Promise.all([
        readlink(`${this.root}/${pid}/exe`).catch(() => ''),
        readFile(`${this.root}/${pid}/cgroup`, 'utf8').catch(() => ''),
        this.readMaps(pid),
        readFile(`${this.root}/${pid}/status`, 'utf8'),
      ]);
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
      };
    } catch {
      return undefined;
    }
  }

  private async readMaps(pid: number): Promise<ProcMapping[]> {
    try {
      return parseProcMaps(await readFile(`${this.root}/${pid}/maps`, 'utf8'));
    } catch {
      return [];
    }
  }

  private objectOf(pid: number, m: ProcMapping): Promise<ObjectInfo | undefined> {
    const key = `${m.dev}:${m.inode}:${m.path}`;
    let p = this.objects.get(key);
    if (!p) {
      if (this.objects.size >= MAX_OBJECTS) this.objects.clear();
      // map_files reaches the exact file even inside another mount namespace or when deleted.
      const viaMapFiles = `${this.root}/${pid}/map_files/${m.start.toString(16)}-${m.end.toString(16)}`;
      const viaRoot = `${this.root}/${pid}/root${m.path}`;
      const read = (path: string) =>
        this.opts.readObject(path).then((info) => {
          if (this.paths.size >= MAX_OBJECTS) this.paths.clear();
          this.paths.set(info.buildId, path);
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

  private async perfMapOf(info: ProcessInfo): Promise<PerfMap | undefined> {
    if (info.perfMapChecked) return info.perfMap?.map;
    info.perfMapChecked = true;
    const path = `${this.root}/${info.pid}/root/tmp/perf-${info.nsPid}.map`;
    try {
      const st = await stat(path);
      if (info.perfMap && info.perfMap.size === st.size && info.perfMap.mtimeMs === st.mtimeMs) return info.perfMap.map;
      const map = PerfMap.parse(await readFile(path, 'utf8'));
      info.perfMap = { size: st.size, mtimeMs: st.mtimeMs, map };
      return map;
    } catch {
      return info.perfMap?.map;
    }
  }
}

function localSymbol(obj: NonNullable<ObjectInfo['symbols']>, offset: bigint): string {
  const vaddr = fileOffsetToVaddr(obj, offset);
  return vaddr === undefined ? '' : (findSymbol(obj.symbols, vaddr)?.name ?? '');
}

function frame(buildId: string, mappingFile: string, address: bigint, functionName: string): Frame {
  return { buildId, mappingFile, address, functionName, fileName: '', line: 0, inlined: false };
}

import { readFileSync } from 'node:fs';
import { isFirnError } from '@firn/errors';
import { PF_X, readElfFile, type ElfFile } from '@firn/elf';
import type { Logger } from '@firn/observability';
import { encodeKernelTable, kernelRuleSet, readFileUnwindTable, type FileUnwindTable, type NoTableReason, type UnwindRule } from '@firn/unwind';
import { isFileMapping, parseProcMaps, parseStartTime, type ProcMapping } from '../proc/proc-maps';
import { addressPrefixes, mappingKey, mappingValue, MAPPING_PENDING } from './prefixes';
import { pythonProcess, pythonProcValue, pythonSymbols, type PythonSymbols } from './python';
import { PID_STATE, tableKernelBytes, type UnwindKernel } from './unwind-maps';

/** Where a file's table is: being built, in the kernel, or not available (and why). */
export type TableState = 'pending' | 'ready' | 'no_table' | 'over_budget' | 'failed';

interface TableEntry {
  /** Build id, or dev:inode for files without one. */
  key: string;
  id: number;
  state: TableState;
  reason?: string;
  kernelBytes: number;
  /** pid → a path the file can be read through (the pid's map_files entry). */
  users: Map<number, string>;
  /** When the last user went away (for idle eviction). */
  idleSince: number;
  elf: ElfFile;
}

interface ProcessMapping {
  keys: Buffer[];
  table: TableEntry | undefined;
  bias: bigint;
}

interface TrackedProcess {
  pid: number;
  startTime: string;
  /** By "start-end-offset-dev-inode". */
  mappings: Map<string, ProcessMapping>;
  refreshedAt: number;
  /** A CPython 3.11 interpreter is mapped: its frames are walked too. */
  python: boolean;
}

/** Counters and gauges of the manager (exported as agent metrics). */
export interface UnwindManagerStats {
  processes: number;
  mappingEntries: number;
  tables: Record<TableState, number>;
  /** Kernel memory of the loaded tables (their arrays), bytes. */
  tableBytes: number;
  rules: number;
  builds: Record<'ready' | NoTableReason | 'over_budget' | 'failed', number>;
  evicted: number;
  /** Mapping entries the trie refused (full): those addresses unwind by frame pointers. */
  mappingsRefused: number;
  requests: number;
  /** Processes whose CPython 3.11 frames the kernel walks. */
  pythonProcesses: number;
}

export interface UnwindManagerOptions {
  kernel: UnwindKernel;
  logger: Logger;
  /** Kernel memory all tables together may use. */
  budgetBytes: number;
  procRoot?: string;
  /** A table nobody maps stays loaded this long (processes restart; tools run again). */
  idleTableMs?: number;
  /** A process's maps are re-read at most this often when the kernel sees unknown addresses. */
  refreshIntervalMs?: number;
  pollMs?: number;
  now?: () => number;
  /** Builds a file's table (default: readFileUnwindTable in slices). */
  buildTable?: (path: string, elf: ElfFile) => Promise<FileUnwindTable | { reason: NoTableReason; detail: string }>;
}

const MAX_FILES = 20_000;

interface MappedFile {
  buildId: string;
  elf: ElfFile;
  /** Set when the file is a CPython 3.11 interpreter. */
  python?: PythonSymbols;
}
const MAX_REQUESTS_PER_POLL = 256;

/**
 * The unwinder's user-space half. The BPF program reports processes it has no mappings for (and
 * processes whose code moved: dlopen, new JIT regions) through a queue; for each, the manager
 * reads /proc/<pid>/maps, puts every executable mapping into the kernel's (pid, address) trie
 * with the file's table id and load bias, and builds the file's unwind table once per build id
 * (shared by every process mapping it), off the sampling path: one build at a time, in slices.
 * Until a table is loaded its mappings carry MAPPING_PENDING and the kernel uses frame pointers
 * (counted). Tables stay within `budgetBytes` (least recently unused evicted first; a table that
 * does not fit is refused and counted), and are evicted `idleTableMs` after the last process
 * mapping them exited.
 */
export class UnwindManager {
  private readonly root: string;
  private readonly now: () => number;
  private readonly procs = new Map<number, TrackedProcess>();
  private readonly files = new Map<string, Promise<MappedFile | undefined>>();
  private readonly tables = new Map<string, TableEntry>();
  private readonly rules = kernelRuleSet();
  private rulesUploaded = 0;
  private nextTableId = 1;
  private tableBytes = 0;
  private readonly deferred = new Set<number>();
  /** Tables waiting for a build; the one most processes map goes first (libc before a one-off tool). */
  private readonly queue = new Set<TableEntry>();
  private builder: Promise<void> | undefined;
  private polling: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private readonly counters = {
    builds: { ready: 0, not_elf: 0, unsupported_arch: 0, no_eh_frame: 0, malformed: 0, over_budget: 0, failed: 0 },
    evicted: 0,
    mappingsRefused: 0,
    requests: 0,
  };

  constructor(private readonly opts: UnwindManagerOptions) {
    this.root = opts.procRoot ?? '/proc';
    this.now = opts.now ?? Date.now;
    this.uploadRules();
  }

  start(): void {
    this.stopped = false;
    const tick = () => {
      this.timer = setTimeout(() => {
        void this.poll().finally(() => {
          if (!this.stopped) tick();
        });
      }, this.opts.pollMs ?? 200);
      this.timer.unref();
    };
    tick();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.polling;
    await this.builder;
  }

  /** Handles the processes the kernel asked about (also called by tests). */
  poll(): Promise<void> {
    this.polling ??= this.pollOnce().finally(() => {
      this.polling = undefined;
    });
    return this.polling;
  }

  /** Waits until every queued table build has finished (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.builder) await this.builder;
  }

  /** Per drain: forgets exited processes, evicts idle tables. */
  maintain(): void {
    for (const [pid, p] of this.procs) {
      if (this.startTimeOf(pid) !== p.startTime) {
        this.forget(pid);
        this.opts.kernel.deletePid(pid);
      }
    }
    const now = this.now();
    const idleMs = this.opts.idleTableMs ?? 120_000;
    for (const t of this.tables.values()) {
      if (t.users.size === 0 && now - t.idleSince >= idleMs) this.evict(t);
    }
  }

  stats(): UnwindManagerStats {
    const tables: Record<TableState, number> = { pending: 0, ready: 0, no_table: 0, over_budget: 0, failed: 0 };
    for (const t of this.tables.values()) tables[t.state]++;
    let mappingEntries = 0;
    for (const p of this.procs.values()) for (const m of p.mappings.values()) mappingEntries += m.keys.length;
    return {
      processes: this.procs.size,
      mappingEntries,
      tables,
      tableBytes: this.tableBytes,
      rules: this.rules.size,
      builds: { ...this.counters.builds },
      evicted: this.counters.evicted,
      mappingsRefused: this.counters.mappingsRefused,
      requests: this.counters.requests,
      pythonProcesses: [...this.procs.values()].filter((p) => p.python).length,
    };
  }

  /** The state of the table of a file with this build id (tests, diagnostics). */
  tableState(buildId: string): TableState | undefined {
    return this.tables.get(buildId)?.state;
  }

  private async pollOnce(): Promise<void> {
    this.startBuilder();
    for (let i = 0; i < MAX_REQUESTS_PER_POLL; i++) {
      const pid = this.opts.kernel.popRequest();
      if (pid === undefined) break;
      this.counters.requests++;
      this.deferred.add(pid);
    }
    const now = this.now();
    const every = this.opts.refreshIntervalMs ?? 2000;
    for (const pid of [...this.deferred]) {
      const p = this.procs.get(pid);
      if (p && now - p.refreshedAt < every) continue; // re-read at most every `every` ms
      this.deferred.delete(pid);
      try {
        await this.sync(pid);
      } catch (err) {
        this.opts.logger.warn({ pid, err: String(err) }, 'reading process mappings for unwinding failed');
      }
      this.startBuilder(); // samples may already be waiting for this process's tables
    }
  }

  /** Brings the kernel's view of one process's executable mappings up to date. */
  private async sync(pid: number): Promise<void> {
    const startTime = this.startTimeOf(pid);
    if (startTime === undefined) {
      this.forget(pid);
      this.opts.kernel.deletePid(pid);
      return;
    }
    let p = this.procs.get(pid);
    if (p && p.startTime !== startTime) {
      this.forget(pid); // the pid was reused
      p = undefined;
    }
    let maps: ProcMapping[] = [];
    try {
      maps = parseProcMaps(readFileSync(`${this.root}/${pid}/maps`, 'utf8'), { executableOnly: true });
    } catch {
      // Gone, or not ours to read: it stays with frame pointers.
    }
    if (!p) {
      p = { pid, startTime, mappings: new Map(), refreshedAt: 0, python: false };
      this.procs.set(pid, p);
    }
    const keyOf = (m: ProcMapping) => `${m.start}-${m.end}-${m.offset}-${m.dev}-${m.inode}`;
    const viaOf = (m: ProcMapping) => `${this.root}/${pid}/map_files/${m.start.toString(16)}-${m.end.toString(16)}`;
    // New files are read concurrently: each read is a few small positioned reads.
    const tracked = p;
    const files = await Promise.all(
      maps.map((m) =>
        isFileMapping(m) && !tracked.mappings.has(keyOf(m)) ? this.fileOf(m, m.path, viaOf(m), `${this.root}/${pid}/root${m.path}`) : undefined,
      ),
    );
    const seen = new Set<string>();
    for (let i = 0; i < maps.length; i++) {
      const m = maps[i];
      const key = keyOf(m);
      seen.add(key);
      if (p.mappings.has(key)) continue;
      const entry: ProcessMapping = { keys: [], table: undefined, bias: 0n };
      const file = files[i];
      const bias = file ? loadBias(file.elf, m) : undefined;
      if (file && bias !== undefined) {
        entry.bias = bias;
        entry.table = this.tableFor(file.buildId || `${m.dev}:${m.inode}`, file.elf);
        entry.table.users.set(pid, viaOf(m));
        if (file.python && !p.python) {
          this.opts.kernel.putPython(pid, pythonProcValue(pythonProcess(file.python, bias)));
          p.python = true;
        }
      }
      const value = this.valueOf(entry);
      for (const prefix of addressPrefixes(m.start, m.end)) {
        const k = mappingKey(pid, prefix);
        if (!this.opts.kernel.putMapping(k, value)) {
          this.counters.mappingsRefused++;
          break;
        }
        entry.keys.push(k);
      }
      p.mappings.set(key, entry);
    }
    for (const [key, entry] of p.mappings) {
      if (seen.has(key)) continue;
      this.dropMapping(pid, entry);
      p.mappings.delete(key);
    }
    p.refreshedAt = this.now();
    this.opts.kernel.setPidState(pid, PID_STATE.ready);
  }

  private valueOf(m: ProcessMapping): Buffer {
    const t = m.table;
    if (t?.state === 'ready') return mappingValue(t.id, 0, m.bias);
    if (t?.state === 'pending') return mappingValue(t.id, MAPPING_PENDING, m.bias);
    return mappingValue(0, 0, m.bias); // no table: frame pointers
  }

  private forget(pid: number): void {
    const p = this.procs.get(pid);
    if (!p) return;
    for (const entry of p.mappings.values()) this.dropMapping(pid, entry);
    if (p.python) this.opts.kernel.deletePython(pid);
    this.procs.delete(pid);
    this.deferred.delete(pid);
  }

  private dropMapping(pid: number, entry: ProcessMapping): void {
    for (const k of entry.keys) this.opts.kernel.deleteMapping(k);
    const t = entry.table;
    if (t && t.users.delete(pid) && t.users.size === 0) t.idleSince = this.now();
  }

  private startTimeOf(pid: number): string | undefined {
    try {
      return parseStartTime(readFileSync(`${this.root}/${pid}/stat`, 'utf8'));
    } catch {
      return undefined;
    }
  }

  private fileOf(m: ProcMapping, name: string, ...paths: string[]): Promise<MappedFile | undefined> {
    const key = `${m.dev}:${m.inode}`;
    let p = this.files.get(key);
    if (!p) {
      if (this.files.size >= MAX_FILES) this.files.clear();
      p = (async () => {
        for (const path of paths) {
          try {
            const elf = await readElfFile(path);
            const python = await pythonSymbols(path, elf, name).catch(() => undefined);
            return { buildId: elf.buildId, elf, python };
          } catch (err) {
            if (isFirnError(err, 'invalid_argument')) return undefined; // not ELF: never unwound by table
          }
        }
        this.files.delete(key); // unreadable now (the process exited): try again next time
        return undefined;
      })();
      this.files.set(key, p);
    }
    return p;
  }

  private tableFor(key: string, elf: ElfFile): TableEntry {
    let t = this.tables.get(key);
    if (!t) {
      t = { key, id: this.nextTableId++, state: 'pending', kernelBytes: 0, users: new Map(), idleSince: this.now(), elf };
      this.tables.set(key, t);
      this.queue.add(t);
    }
    return t;
  }

  /**
   * One build at a time, off the sampling path, and only for tables the unwinder has needed
   * (the kernel counts hits on pending tables), most-needed first: a library that no sample
   * unwinds through is never built. Runs until no queued table is wanted; each poll restarts it.
   */
  private async buildAll(): Promise<void> {
    await new Promise<void>((resolve) => setImmediate(resolve)); // let the caller finish its sync first
    while (this.queue.size > 0 && !this.stopped) {
      const wanted = this.opts.kernel.wantedTables();
      let next: TableEntry | undefined;
      let best = 0;
      for (const t of this.queue) {
        const hits = wanted.get(t.id) ?? 0;
        if (hits > best) {
          best = hits;
          next = t;
        }
      }
      if (!next) break;
      this.queue.delete(next);
      await this.build(next);
      this.opts.kernel.clearWanted(next.id);
    }
  }

  private startBuilder(): void {
    if (this.queue.size === 0 || this.builder) return;
    this.builder = this.buildAll().finally(() => {
      this.builder = undefined;
    });
  }

  private async build(t: TableEntry): Promise<void> {
    if (this.stopped || this.tables.get(t.key) !== t) return;
    if (t.users.size === 0) {
      this.tables.delete(t.key); // every process mapping it exited before its turn
      return;
    }
    const build = this.opts.buildTable ?? ((path: string, elf: ElfFile) => readFileUnwindTable(path, elf, { sliced: true }));
    let result: FileUnwindTable | { reason: NoTableReason; detail: string } | undefined;
    // Any process mapping the file will do; the first may have exited already.
    for (const path of [...t.users.values()]) {
      try {
        result = await build(path, t.elf);
        break;
      } catch (err) {
        if (!isFirnError(err, 'not_found') && !isFirnError(err, 'invalid_argument')) {
          this.opts.logger.warn({ file: t.key, err: String(err) }, 'building an unwind table failed');
        }
      }
    }
    if (!result) {
      // Nobody left to read it through: forget it, the next process mapping it starts over.
      this.counters.builds.failed++;
      this.setState(t, 'failed', 'unreadable');
      if (t.users.size === 0) this.tables.delete(t.key);
      return;
    }
    if ('reason' in result) {
      this.counters.builds[result.reason]++;
      this.setState(t, 'no_table', result.reason);
      return;
    }
    let table: Uint32Array;
    try {
      table = encodeKernelTable(result.rows, (rule) => this.ruleId(rule));
    } catch (err) {
      this.counters.builds.malformed++;
      this.setState(t, 'no_table', String(err));
      return;
    }
    const bytes = tableKernelBytes(table.length);
    if (!this.makeRoom(bytes)) {
      this.counters.builds.over_budget++;
      this.opts.logger.warn({ file: t.key, bytes, budget: this.opts.budgetBytes }, 'unwind table over the memory budget: frame pointers for this file');
      this.setState(t, 'over_budget');
      return;
    }
    try {
      this.uploadRules();
      this.opts.kernel.loadTable(t.id, table);
    } catch (err) {
      this.counters.builds.failed++;
      this.opts.logger.warn({ file: t.key, err: String(err) }, 'loading an unwind table into the kernel failed');
      this.setState(t, 'failed', String(err));
      return;
    }
    this.tableBytes += bytes;
    t.kernelBytes = bytes;
    this.counters.builds.ready++;
    this.setState(t, 'ready');
  }

  /** Records the outcome and rewrites the kernel mappings of every process using the table. */
  private setState(t: TableEntry, state: TableState, reason?: string): void {
    t.state = state;
    t.reason = reason;
    for (const pid of t.users.keys()) {
      const p = this.procs.get(pid);
      if (!p) continue;
      for (const m of p.mappings.values()) {
        if (m.table !== t) continue;
        const value = this.valueOf(m);
        for (const k of m.keys) this.opts.kernel.putMapping(k, value);
      }
    }
  }

  private ruleId(rule: UnwindRule): number {
    return this.rules.idOf(rule);
  }

  /** Uploads rules added since the last upload (before any table referring to them). */
  private uploadRules(): void {
    for (; this.rulesUploaded < this.rules.size; this.rulesUploaded++) this.opts.kernel.putRule(this.rulesUploaded, this.rules.rules[this.rulesUploaded]);
  }

  /** Evicts unused tables, least recently used first, until `bytes` more fit in the budget. */
  private makeRoom(bytes: number): boolean {
    if (this.tableBytes + bytes <= this.opts.budgetBytes) return true;
    const idle = [...this.tables.values()].filter((t) => t.state === 'ready' && t.users.size === 0).sort((a, b) => a.idleSince - b.idleSince);
    for (const t of idle) {
      this.evict(t);
      if (this.tableBytes + bytes <= this.opts.budgetBytes) return true;
    }
    return false;
  }

  private evict(t: TableEntry): void {
    this.queue.delete(t);
    this.opts.kernel.clearWanted(t.id); // `wanted` is bounded: never leave hits of a forgotten table
    if (t.state === 'ready') {
      this.opts.kernel.dropTable(t.id);
      this.tableBytes -= t.kernelBytes;
      this.counters.evicted++;
    }
    this.tables.delete(t.key);
  }
}

/**
 * address − bias = the file's virtual address, from the executable PT_LOAD the mapping maps
 * (mmap aligns offsets down to a page, so the mapping may start before p_offset).
 */
export function loadBias(elf: Pick<ElfFile, 'loads'>, m: Pick<ProcMapping, 'start' | 'offset'>): bigint | undefined {
  for (const l of elf.loads) {
    if ((l.flags & PF_X) === 0) continue;
    const alignedOffset = l.offset & ~0xfffn;
    if (m.offset >= alignedOffset && m.offset < l.offset + l.filesz) return m.start - (m.offset + l.vaddr - l.offset);
  }
  return undefined;
}

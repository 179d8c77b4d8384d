import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';

/**
 * The one demangler every function name passes through on its way to an API (the queriers call
 * it once per query for the names not yet cached): C++ (Itanium ABI) and Rust (legacy
 * `_ZN…17h<hash>E` and v0 `_R…`), by binutils' `c++filt` kept running in batch mode — one name
 * per line in, one per line out (it flushes per line), like `addr2line` is used by the
 * symbolizer. Chosen over the in-process WASM build of `cpp_demangle` + `rustc-demangle`
 * (npm `gecko-profiler-demangle`) for its output: GNU's, identical to `addr2line -C`, `nm -C`,
 * perf and gdb, where the WASM one differs on 11 % of real names (template return types
 * dropped, empty packs printed as `<bool, >`) and leaves a few more unread; the CPU cost per
 * name is of the same order (bench/demangle, docs/benchmarks.md) and paid once per distinct
 * name thanks to the cache.
 *
 * Output is GNU's (`long firn::work<long>(long)`, as `addr2line -C`, gdb and perf print it),
 * except for Rust: legacy names lose their `::h<16 hex>` hash and v0 names their crate
 * disambiguators (`core::fmt::write`), which only tell builds apart.
 *
 * Names that are not mangled never reach c++filt. A name c++filt cannot read comes back as it
 * is; so does every name when c++filt is missing, dies or misses the deadline (the process is
 * killed and started again on the next call): demangling can delay a query by at most the
 * deadline and never loses a name.
 */
export interface Demangler {
  /** Demangled names in the same order; names that are not mangled come back unchanged. */
  demangleAll(raw: readonly string[]): Promise<string[]>;
  /** Counters for metrics. */
  stats(): DemanglerStats;
  /** Stops the c++filt process. */
  close(): void;
}

export interface DemanglerStats {
  /** Names answered from the cache. */
  cacheHits: number;
  /** Names sent to c++filt. */
  demangled: number;
  /** Names left as they were because c++filt failed (missing, died, deadline). */
  failed: number;
  /** c++filt processes started. */
  starts: number;
}

export interface DemanglerOptions {
  /** The c++filt binary. Default `c++filt` on `env.PATH`. */
  command?: string;
  /** Distinct names remembered (oldest first out). Default 200 000. */
  cacheSize?: number;
  /** Longer names are returned as they are. Default 16 KiB. */
  maxInput?: number;
  /** Deadline of one batch. Default 5 s. */
  timeoutMs?: number;
  /** After c++filt could not be started, try again after this long. Default 60 s. */
  retryAfterMs?: number;
  /** Process environment. Default: a fixed PATH and LC_ALL=C, nothing inherited. */
  env?: Record<string, string>;
}

/** Itanium (`_Z`, Mach-O `__Z`) and Rust v0 (`_R`) names; legacy Rust is Itanium-shaped. */
const MANGLED = /^_{1,2}[ZR][A-Za-z0-9_$.]+$/;
const RUST_LEGACY_HASH = /::h[0-9a-f]{16}$/;
const RUST_V0_DISAMBIGUATOR = /\[[0-9a-f]{1,16}\]/g;

export function isMangled(name: string): boolean {
  return MANGLED.test(name);
}

/** c++filt's Rust output, trimmed of what only tells builds apart. */
export function tidyRust(raw: string, demangled: string): string {
  if (/^_{1,2}R/.test(raw)) return demangled.replace(RUST_V0_DISAMBIGUATOR, '');
  return demangled.replace(RUST_LEGACY_HASH, '');
}

interface Pending {
  want: number;
  lines: string[];
  done: (lines: string[] | undefined) => void;
}

class CxxFilt implements Demangler {
  private readonly cache = new Map<string, string>();
  private child: ChildProcessWithoutNullStreams | undefined;
  private readonly queue: Pending[] = [];
  private partial = '';
  private unavailableUntil = 0;
  private readonly s: DemanglerStats = { cacheHits: 0, demangled: 0, failed: 0, starts: 0 };
  private readonly command: string;
  private readonly cacheSize: number;
  private readonly maxInput: number;
  private readonly timeoutMs: number;
  private readonly retryAfterMs: number;
  private readonly env: Record<string, string>;

  constructor(opts: DemanglerOptions) {
    this.command = opts.command ?? 'c++filt';
    this.cacheSize = Math.max(0, opts.cacheSize ?? 200_000);
    this.maxInput = Math.max(1, opts.maxInput ?? 16 << 10);
    this.timeoutMs = opts.timeoutMs ?? 5000;
    this.retryAfterMs = opts.retryAfterMs ?? 60_000;
    this.env = opts.env ?? { PATH: '/usr/local/bin:/usr/bin:/bin', LC_ALL: 'C' };
  }

  stats(): DemanglerStats {
    return { ...this.s };
  }

  async demangleAll(raw: readonly string[]): Promise<string[]> {
    const out = raw.slice();
    const ask = new Map<string, number[]>();
    raw.forEach((name, i) => {
      if (!isMangled(name) || name.length > this.maxInput) return;
      const hit = this.cache.get(name);
      if (hit !== undefined) {
        this.s.cacheHits++;
        out[i] = hit;
        return;
      }
      const at = ask.get(name);
      if (at) at.push(i);
      else ask.set(name, [i]);
    });
    if (ask.size === 0) return out;
    const names = [...ask.keys()];
    const got = await this.send(names);
    if (!got) {
      this.s.failed += names.length;
      return out;
    }
    this.s.demangled += names.length;
    names.forEach((name, k) => {
      const d = got[k] === '' || got[k] === name ? name : tidyRust(name, got[k]);
      this.remember(name, d);
      for (const i of ask.get(name) ?? []) out[i] = d;
    });
    return out;
  }

  close(): void {
    this.stop();
  }

  private remember(name: string, demangled: string): void {
    if (this.cacheSize === 0) return;
    if (this.cache.size >= this.cacheSize) {
      const oldest = this.cache.keys().next().value;
      if (oldest !== undefined) this.cache.delete(oldest);
    }
    this.cache.set(name, demangled);
  }

  /** One batch through the running process, in order; undefined if c++filt failed. */
  private send(names: string[]): Promise<string[] | undefined> {
    const child = this.ensure();
    if (!child) return Promise.resolve(undefined);
    return new Promise((resolve) => {
      const timer = setTimeout(() => this.stop(), this.timeoutMs);
      timer.unref();
      this.queue.push({
        want: names.length,
        lines: [],
        done: (lines) => {
          clearTimeout(timer);
          resolve(lines?.length === names.length ? lines : undefined);
        },
      });
      this.hold(true);
      child.stdin.write(names.join('\n') + '\n');
    });
  }

  private ensure(): ChildProcessWithoutNullStreams | undefined {
    if (this.child) return this.child;
    if (Date.now() < this.unavailableUntil) return undefined;
    let child: ChildProcessWithoutNullStreams;
    try {
      child = spawn(this.command, [], { env: this.env, stdio: ['pipe', 'pipe', 'pipe'] });
    } catch {
      this.unavailableUntil = Date.now() + this.retryAfterMs;
      return undefined;
    }
    this.s.starts++;
    this.child = child;
    this.partial = '';
    // An idle demangler must never keep a process alive; a busy one must (see hold()).
    this.hold(false);
    child.stdin.on('error', () => undefined);
    child.stderr.resume();
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => this.onData(chunk));
    child.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') this.unavailableUntil = Date.now() + this.retryAfterMs;
      if (this.child === child) this.stop();
    });
    child.once('exit', () => {
      if (this.child === child) this.stop();
    });
    return child;
  }

  /** Keeps the event loop alive while a batch waits for its answer, not while idle. */
  private hold(busy: boolean): void {
    const c = this.child;
    if (!c) return;
    for (const h of [c, c.stdin, c.stdout, c.stderr] as unknown as Array<{ ref?: () => void; unref?: () => void }>) {
      if (busy) h.ref?.();
      else h.unref?.();
    }
  }

  private onData(chunk: string): void {
    const text = this.partial + chunk;
    const lines = text.split('\n');
    this.partial = lines.pop() ?? '';
    for (const line of lines) {
      const head = this.queue[0];
      if (!head) continue; // output nobody waits for (after a timeout): the process is going away
      head.lines.push(line);
      if (head.lines.length === head.want) {
        this.queue.shift();
        if (this.queue.length === 0) this.hold(false);
        head.done(head.lines);
      }
    }
  }

  /** Kills the process; every waiting batch gets its names back unchanged. */
  private stop(): void {
    const child = this.child;
    this.child = undefined;
    this.partial = '';
    child?.kill('SIGKILL');
    for (const p of this.queue.splice(0)) p.done(undefined);
  }
}

export function createDemangler(opts: DemanglerOptions = {}): Demangler {
  return new CxxFilt(opts);
}

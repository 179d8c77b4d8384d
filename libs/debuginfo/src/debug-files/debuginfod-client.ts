import { setTimeout as sleep } from 'node:timers/promises';
import { LruMap } from '../lru';

export type DebuginfodFileKind = 'debuginfo' | 'executable';

/** found: the file. not_found: every server answered 404. unavailable: some server could not answer. */
export type DebuginfodResult = { status: 'found'; data: Buffer; server: string } | { status: 'not_found' } | { status: 'unavailable'; reason: string };

/** One request's outcome, for metrics. */
export type DebuginfodOutcome = 'found' | 'not_found' | 'error' | 'too_large' | 'breaker_open';

export interface DebuginfodClientOptions {
  /** Tried in order; the first that has the file wins. */
  servers: string[];
  /** Per HTTP request (headers and body). */
  timeoutMs: number;
  /** Extra attempts per server on 5xx or network errors, with exponential backoff. */
  retries: number;
  backoffMs: number;
  /** Requests in flight at once, across build ids. */
  concurrency: number;
  /** A build id no server has is not asked for again for this long. */
  negativeTtlMs: number;
  /** Consecutive failures that open a server's circuit, and how long it stays open. */
  breakerThreshold: number;
  breakerCooldownMs: number;
  /** Larger files are refused (counted as too_large). */
  maxBytes: number;
  fetch?: typeof fetch;
  now?: () => number;
  /** Told about each request's outcome (metrics). */
  onRequest?: (server: string, outcome: DebuginfodOutcome, seconds: number) => void;
}

export const DEFAULT_DEBUGINFOD_OPTIONS: Omit<DebuginfodClientOptions, 'servers'> = {
  timeoutMs: 30_000,
  retries: 2,
  backoffMs: 250,
  concurrency: 4,
  negativeTtlMs: 10 * 60_000,
  breakerThreshold: 5,
  breakerCooldownMs: 30_000,
  maxBytes: 1024 * 1024 * 1024,
};

interface Breaker {
  failures: number;
  openUntil: number;
}

class TooLarge extends Error {}

/**
 * A debuginfod client (GET /buildid/<id>/debuginfo | /executable): servers in order, retries with
 * backoff, a concurrency limit, one request per build id and kind at a time (single flight), a
 * negative cache for ids nobody has, and a circuit breaker per server so a dead server costs
 * nothing while it is open.
 */
export class DebuginfodClient {
  private readonly opts: DebuginfodClientOptions;
  private readonly fetchFn: typeof fetch;
  private readonly now: () => number;
  private readonly inFlight = new Map<string, Promise<DebuginfodResult>>();
  private readonly negative: LruMap<string, true>;
  private readonly breakers = new Map<string, Breaker>();
  private active = 0;
  private readonly waiters: Array<() => void> = [];

  constructor(opts: Partial<DebuginfodClientOptions> & Pick<DebuginfodClientOptions, 'servers'>) {
    this.opts = { ...DEFAULT_DEBUGINFOD_OPTIONS, ...opts, servers: opts.servers.map((s) => s.replace(/\/+$/, '')) };
    this.fetchFn = opts.fetch ?? fetch;
    this.now = opts.now ?? Date.now;
    this.negative = new LruMap(100_000, this.opts.negativeTtlMs, this.now);
  }

  get servers(): readonly string[] {
    return this.opts.servers;
  }

  fetch(buildId: string, kind: DebuginfodFileKind): Promise<DebuginfodResult> {
    const key = `${kind}/${buildId}`;
    if (this.opts.servers.length === 0 || this.negative.get(key)) return Promise.resolve({ status: 'not_found' });
    let p = this.inFlight.get(key);
    if (!p) {
      p = this.fetchFromServers(buildId, kind).finally(() => this.inFlight.delete(key));
      this.inFlight.set(key, p);
    }
    return p;
  }

  private async fetchFromServers(buildId: string, kind: DebuginfodFileKind): Promise<DebuginfodResult> {
    let unavailable: string | undefined;
    for (const server of this.opts.servers) {
      const r = await this.fromServer(server, buildId, kind);
      if (r.status === 'found') return r;
      if (r.status === 'unavailable') unavailable ??= `${server}: ${r.reason}`;
    }
    if (unavailable !== undefined) return { status: 'unavailable', reason: unavailable };
    this.negative.set(`${kind}/${buildId}`, true);
    return { status: 'not_found' };
  }

  private async fromServer(server: string, buildId: string, kind: DebuginfodFileKind): Promise<DebuginfodResult> {
    const breaker = this.breakers.get(server) ?? { failures: 0, openUntil: 0 };
    this.breakers.set(server, breaker);
    let reason = '';
    for (let attempt = 0; attempt <= this.opts.retries; attempt++) {
      if (breaker.openUntil > this.now()) {
        this.opts.onRequest?.(server, 'breaker_open', 0);
        return { status: 'unavailable', reason: 'circuit open after repeated failures' };
      }
      if (attempt > 0) await sleep(this.opts.backoffMs * 2 ** (attempt - 1));
      const started = this.now();
      const seconds = (): number => (this.now() - started) / 1000;
      try {
        const data = await this.limited(() => this.get(`${server}/buildid/${buildId}/${kind}`));
        breaker.failures = 0;
        if (data === undefined) {
          this.opts.onRequest?.(server, 'not_found', seconds());
          return { status: 'not_found' };
        }
        this.opts.onRequest?.(server, 'found', seconds());
        return { status: 'found', data, server };
      } catch (err) {
        if (err instanceof TooLarge) {
          this.opts.onRequest?.(server, 'too_large', seconds());
          return { status: 'not_found' };
        }
        reason = err instanceof Error ? err.message : String(err);
        this.opts.onRequest?.(server, 'error', seconds());
        breaker.failures++;
        if (breaker.failures >= this.opts.breakerThreshold) breaker.openUntil = this.now() + this.opts.breakerCooldownMs;
      }
    }
    return { status: 'unavailable', reason };
  }

  /** The body, undefined on 404; throws on 5xx, other statuses and network errors. */
  private async get(url: string): Promise<Buffer | undefined> {
    const signal = AbortSignal.timeout(this.opts.timeoutMs);
    const res = await this.fetchFn(url, { signal });
    if (res.status === 404) {
      await res.body?.cancel();
      return undefined;
    }
    if (res.status !== 200) {
      await res.body?.cancel();
      throw new Error(`GET ${url}: HTTP ${res.status}`);
    }
    const declared = Number(res.headers.get('content-length') ?? '0');
    if (declared > this.opts.maxBytes) {
      await res.body?.cancel();
      throw new TooLarge(`GET ${url}: ${declared} bytes is over the limit`);
    }
    const chunks: Buffer[] = [];
    let total = 0;
    if (res.body) {
      for await (const chunk of res.body) {
        total += chunk.byteLength;
        if (total > this.opts.maxBytes) throw new TooLarge(`GET ${url}: body is over ${this.opts.maxBytes} bytes`);
        chunks.push(Buffer.from(chunk));
      }
    }
    return Buffer.concat(chunks, total);
  }

  private async limited<T>(fn: () => Promise<T>): Promise<T> {
    while (this.active >= this.opts.concurrency) await new Promise<void>((r) => this.waiters.push(r));
    this.active++;
    try {
      return await fn();
    } finally {
      this.active--;
      this.waiters.shift()?.();
    }
  }
}

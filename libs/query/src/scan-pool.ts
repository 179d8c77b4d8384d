import { createRequire } from 'node:module';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { ErrorCode, FirnError } from '@firn/errors';
import type { ObjectStore } from '@firn/storage';
import { toWire, type ReadReply, type ScanReply, type ScanRequest, type WorkerMessage } from './scan-protocol';
import type { SegmentMeta } from './segment-objects';
import type { ScanQuery, SegmentSums } from './segment-scan';

interface Pending {
  resolve: (s: SegmentSums) => void;
  reject: (e: unknown) => void;
  worker: PoolWorker;
}

interface PoolWorker {
  worker: Worker;
  busy: number;
}

/**
 * How to start a worker: the compiled .js beside this file, or, when running from TypeScript
 * sources (scripts/run-ts.cjs, vitest), the .ts through @swc-node/register as run-ts does.
 */
function workerSource(): { source: string; eval: boolean } {
  if (!__filename.endsWith('.ts')) return { source: join(__dirname, 'scan-worker.js'), eval: false };
  const req = createRequire(__filename);
  const register = req.resolve('@swc-node/register');
  const entry = join(__dirname, 'scan-worker.ts');
  return { source: `require(${JSON.stringify(register)});\nrequire(${JSON.stringify(entry)});`, eval: true };
}

/**
 * A fixed pool of worker threads that run sumSegment: each worker decodes a segment's
 * stack_id / value (and filter) columns in its own wasm instance and sums per stack_id; the
 * sums come back as transferred typed arrays and are merged on the calling thread through the
 * stack catalog. Object reads are proxied to this thread's store. Workers start on first use
 * and do not keep the process alive; `close()` stops them.
 */
export class ScanPool {
  private readonly workers: PoolWorker[] = [];
  private readonly pending = new Map<number, Pending>();
  private nextId = 0;
  private closed = false;

  constructor(
    private readonly store: ObjectStore,
    readonly size: number,
  ) {
    if (!Number.isSafeInteger(size) || size < 1) throw FirnError.invalidArgument(`scan pool size must be a positive integer, got ${size}`);
  }

  sum(seg: SegmentMeta, q: ScanQuery, groupBy: readonly string[], signal?: AbortSignal): Promise<SegmentSums> {
    if (this.closed) return Promise.reject(FirnError.unavailable('scan pool is closed'));
    const w = this.pick();
    const id = this.nextId++;
    const req: ScanRequest = {
      type: 'scan',
      id,
      seg,
      q: {
        profileType: q.profileType,
        matchers: q.matchers.map((m) => ({ name: m.name, op: m.op, value: m.value })),
        startMs: q.startMs,
        endMs: q.endMs,
        spanIds: q.spanIds ? [...q.spanIds] : undefined,
      },
      groupBy: [...groupBy],
    };
    return new Promise<SegmentSums>((resolve, reject) => {
      const onAbort = () => {
        if (!this.pending.delete(id)) return;
        w.busy--;
        w.worker.postMessage({ type: 'abort', id });
        reject(new FirnError(ErrorCode.Canceled, `query canceled: ${(signal?.reason as Error | undefined)?.message ?? 'aborted'}`));
      };
      if (signal?.aborted) return onAbort();
      signal?.addEventListener('abort', onAbort, { once: true });
      const done = (f: () => void) => {
        signal?.removeEventListener('abort', onAbort);
        f();
      };
      this.pending.set(id, { resolve: (s) => done(() => resolve(s)), reject: (e) => done(() => reject(e)), worker: w });
      w.busy++;
      w.worker.postMessage(req);
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    const ws = this.workers.splice(0);
    await Promise.all(ws.map((w) => w.worker.terminate()));
    for (const [id, p] of this.pending) {
      this.pending.delete(id);
      p.reject(FirnError.unavailable('scan pool closed'));
    }
  }

  private pick(): PoolWorker {
    if (this.workers.length < this.size) {
      const least = this.workers.find((w) => w.busy === 0);
      if (least) return least;
      return this.spawn();
    }
    return this.workers.reduce((a, b) => (b.busy < a.busy ? b : a));
  }

  private spawn(): PoolWorker {
    const { source, eval: isEval } = workerSource();
    const worker = new Worker(source, { eval: isEval, name: 'firn-scan' });
    worker.unref();
    const w: PoolWorker = { worker, busy: 0 };
    worker.on('message', (m: ScanReply | WorkerMessage) => {
      if (m.type === 'read') return void this.serveRead(worker, m);
      const p = this.pending.get(m.id);
      if (!p) return; // abandoned (aborted) scan
      this.pending.delete(m.id);
      w.busy--;
      if (m.type === 'error') {
        p.reject(
          m.code ? new FirnError(m.code as ErrorCode, m.message, { details: m.details }) : FirnError.internal(`segment scan failed in a worker: ${m.message}`),
        );
        return;
      }
      let cells: Map<number, number> | undefined;
      if (m.cellKeys && m.cellValues) {
        cells = new Map();
        for (let i = 0; i < m.cellKeys.length; i++) cells.set(m.cellKeys[i], m.cellValues[i]);
      }
      p.resolve({ ids: m.ids, dense: m.dense, cells, groups: m.groups });
    });
    worker.on('error', (err) => this.fail(w, err));
    worker.on('exit', (code) => this.fail(w, new Error(`scan worker exited with code ${code}`)));
    this.workers.push(w);
    return w;
  }

  /** A dead worker fails its scans (as unavailable) and is replaced on demand. */
  private fail(w: PoolWorker, err: Error): void {
    const i = this.workers.indexOf(w);
    if (i >= 0) this.workers.splice(i, 1);
    for (const [id, p] of this.pending) {
      if (p.worker !== w) continue;
      this.pending.delete(id);
      p.reject(FirnError.unavailable(`scan worker failed: ${err.message}`, err));
    }
  }

  private async serveRead(worker: Worker, m: WorkerMessage): Promise<void> {
    let reply: ReadReply;
    try {
      if (m.op === 'head') {
        worker.postMessage({ type: 'read', rid: m.rid, info: await this.store.head(m.key) } satisfies ReadReply);
        return;
      }
      const buf = m.op === 'get' ? await this.store.get(m.key) : await this.store.getRange(m.key, m.offset, m.length);
      // A copy with its own ArrayBuffer: store buffers may be slices of a shared pool.
      const bytes = new Uint8Array(buf);
      reply = { type: 'read', rid: m.rid, bytes };
      worker.postMessage(reply, [bytes.buffer]);
      return;
    } catch (err) {
      reply = { type: 'read', rid: m.rid, error: toWire(err) };
    }
    worker.postMessage(reply);
  }
}

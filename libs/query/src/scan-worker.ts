import { parentPort } from 'node:worker_threads';
import { FirnError, type ErrorCode } from '@firn/errors';
import type { ObjectStore } from '@firn/storage';
import { sumSegment } from './segment-scan';
import { toWire, type ReadReply, type ScanReply, type ScanRequest, type WorkerMessage } from './scan-protocol';

/*
 * A scan pool worker: sums one segment's matching rows by stack_id (sumSegment) and sends the
 * sums back as typed arrays. Object reads go to the main thread, which owns the store (its
 * clients, credentials and connection pools stay in one place).
 */
const port = parentPort;
if (!port) throw new Error('scan-worker must run in a worker thread');

let nextRead = 0;
const reads = new Map<number, { resolve: (r: ReadReply) => void; reject: (e: Error) => void }>();
const aborts = new Map<number, AbortController>();

function ask(op: WorkerMessage['op'], key: string, offset = 0, length = 0): Promise<ReadReply> {
  const rid = nextRead++;
  return new Promise<ReadReply>((resolve, reject) => {
    reads.set(rid, { resolve, reject });
    port!.postMessage({ type: 'read', rid, op, key, offset, length } satisfies WorkerMessage);
  });
}

async function read(op: 'get' | 'getRange', key: string, offset = 0, length = 0): Promise<Buffer> {
  const r = await ask(op, key, offset, length);
  const b = r.bytes ?? new Uint8Array(0);
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength);
}

/** Only what segment scans use; anything else is a bug, reported loudly. */
const store = {
  description: 'scan pool proxy',
  get: (key: string) => read('get', key),
  getRange: (key: string, offset: number, length: number) => read('getRange', key, offset, length),
  head: async (key: string) => (await ask('head', key)).info,
} as Partial<ObjectStore>;
const proxy = new Proxy(store, {
  get(target, prop: string) {
    if (prop in target) return target[prop as keyof ObjectStore];
    throw new Error(`scan worker store has no ${prop}`);
  },
}) as ObjectStore;

async function scan(req: ScanRequest): Promise<void> {
  const ctl = new AbortController();
  aborts.set(req.id, ctl);
  try {
    const s = await sumSegment(proxy, req.seg, req.q, req.groupBy, ctl.signal);
    const keys = s.cells ? Float64Array.from(s.cells.keys()) : undefined;
    const vals = s.cells ? Float64Array.from(s.cells.values()) : undefined;
    // Only the used prefix of the dense sums crosses (ids are ascending).
    const dense = s.dense ? s.dense.slice(0, s.ids.length ? s.ids[s.ids.length - 1] + 1 : 0) : undefined;
    const reply: ScanReply = { type: 'done', id: req.id, ids: s.ids, dense, cellKeys: keys, cellValues: vals, groups: s.groups };
    const transfer = [s.ids.buffer, dense?.buffer, keys?.buffer, vals?.buffer].filter((b): b is ArrayBuffer => b instanceof ArrayBuffer);
    port!.postMessage(reply, transfer);
  } catch (err) {
    port!.postMessage({ type: 'error', id: req.id, ...toWire(err) } satisfies ScanReply);
  } finally {
    aborts.delete(req.id);
  }
}

port.on('message', (m: ScanRequest | ReadReply | { type: 'abort'; id: number }) => {
  if (m.type === 'scan') void scan(m);
  else if (m.type === 'abort') aborts.get(m.id)?.abort(new Error('scan abandoned'));
  else {
    const r = reads.get(m.rid);
    reads.delete(m.rid);
    if (!r) return;
    if (m.error) r.reject(m.error.code ? new FirnError(m.error.code as ErrorCode, m.error.message, { details: m.error.details }) : new Error(m.error.message));
    else r.resolve(m);
  }
});

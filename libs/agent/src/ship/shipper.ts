import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '@firn/observability';

/** Sends one encoded batch; throws on failure. `permanent` errors are not retried. */
export type SendFn = (ipc: Uint8Array, signal: AbortSignal) => Promise<void>;

export class PermanentSendError extends Error {}

export interface ShipperOptions {
  send: SendFn;
  /** Buffer bound; when a new batch does not fit, the oldest are dropped. */
  maxBufferBytes: number;
  minBackoffMs?: number;
  maxBackoffMs?: number;
  logger?: Logger;
  /** Called for every outcome, for metrics. */
  onSent?: (bytes: number, samples: number) => void;
  onError?: (err: unknown) => void;
  onDropped?: (batches: number, samples: number, reason: 'buffer_full' | 'rejected') => void;
  random?: () => number;
}

interface Pending {
  ipc: Uint8Array;
  samples: number;
}

/**
 * A bounded FIFO of encoded batches and one sender loop: send the oldest, on failure wait with
 * exponential backoff and full jitter, retry. While the gateway is away, batches accumulate up to
 * `maxBufferBytes`; beyond that the oldest go first (counted), so memory stays bounded and the
 * newest data survives.
 */
export class Shipper {
  private readonly queue: Pending[] = [];
  private bytes = 0;
  private wake: (() => void) | undefined;
  private loop: Promise<void> | undefined;
  private stopping = false;
  private readonly abort = new AbortController();
  private failures = 0;

  constructor(private readonly opts: ShipperOptions) {}

  get bufferedBytes(): number {
    return this.bytes;
  }

  get bufferedBatches(): number {
    return this.queue.length;
  }

  start(): void {
    this.loop ??= this.run();
  }

  enqueue(ipc: Uint8Array, samples: number): void {
    if (ipc.length > this.opts.maxBufferBytes) {
      this.opts.onDropped?.(1, samples, 'buffer_full');
      return;
    }
    while (this.bytes + ipc.length > this.opts.maxBufferBytes && this.queue.length > 0) {
      const old = this.queue.shift() as Pending;
      this.bytes -= old.ipc.length;
      this.opts.onDropped?.(1, old.samples, 'buffer_full');
    }
    this.queue.push({ ipc, samples });
    this.bytes += ipc.length;
    this.wake?.();
  }

  /** Tries to send what is buffered until `deadlineMs` (epoch ms), then stops the loop. */
  async stop(deadlineMs: number): Promise<void> {
    this.stopping = true;
    this.wake?.();
    const timer = setTimeout(() => this.abort.abort(new Error('shutdown deadline')), Math.max(0, deadlineMs - Date.now()));
    try {
      await this.loop;
    } finally {
      clearTimeout(timer);
    }
  }

  private async run(): Promise<void> {
    while (!this.abort.signal.aborted) {
      const head = this.queue[0];
      if (!head) {
        if (this.stopping) return;
        await new Promise<void>((r) => (this.wake = r));
        this.wake = undefined;
        continue;
      }
      try {
        await this.opts.send(head.ipc, this.abort.signal);
        this.failures = 0;
        this.dequeue(head);
        this.opts.onSent?.(head.ipc.length, head.samples);
      } catch (err) {
        if (this.abort.signal.aborted) return;
        this.opts.onError?.(err);
        if (err instanceof PermanentSendError) {
          this.opts.logger?.error({ err: String(err) }, 'gateway rejected a batch; dropping it');
          this.dequeue(head);
          this.opts.onDropped?.(1, head.samples, 'rejected');
          continue;
        }
        this.failures++;
        const delay = this.backoffMs();
        this.opts.logger?.warn({ err: String(err), retry_in_ms: delay, buffered_batches: this.queue.length }, 'sending to the gateway failed; will retry');
        await sleep(delay, undefined, { signal: this.abort.signal }).catch(() => undefined);
      }
    }
  }

  private dequeue(p: Pending): void {
    const i = this.queue.indexOf(p);
    if (i < 0) return; // already dropped for space while it was in flight
    this.queue.splice(i, 1);
    this.bytes -= p.ipc.length;
  }

  /** Full jitter: uniform in [0, min(max, min·2^failures)]; at least 10% of the cap. */
  private backoffMs(): number {
    const min = this.opts.minBackoffMs ?? 500;
    const max = this.opts.maxBackoffMs ?? 30_000;
    const cap = Math.min(max, min * 2 ** Math.min(this.failures - 1, 30));
    const r = (this.opts.random ?? Math.random)();
    return Math.round(cap * (0.1 + 0.9 * r));
  }
}

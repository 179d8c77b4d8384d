import { describe, expect, it } from 'vitest';
import { PermanentSendError, Shipper } from './shipper';

const bytes = (n: number, tag: number) => new Uint8Array(n).fill(tag);

describe(Shipper.name, () => {
  it('retries until the gateway is back and delivers in order', async () => {
    const got: number[] = [];
    let fail = 3;
    let errors = 0;
    const s = new Shipper({
      maxBufferBytes: 1000,
      minBackoffMs: 1,
      maxBackoffMs: 5,
      send: async (ipc) => {
        if (fail-- > 0) throw new Error('unavailable');
        got.push(ipc[0]);
      },
      onError: () => errors++,
    });
    s.start();
    s.enqueue(bytes(10, 1), 1);
    s.enqueue(bytes(10, 2), 1);
    await s.stop(Date.now() + 5000);
    expect(got).toEqual([1, 2]);
    expect(errors).toBe(3);
    expect(s.bufferedBytes).toBe(0);
  });

  it('drops the oldest batches when the buffer is full and counts them', async () => {
    const dropped: Array<[number, string]> = [];
    const s = new Shipper({ maxBufferBytes: 25, send: async () => undefined, onDropped: (_b, samples, reason) => dropped.push([samples, reason]) });
    s.enqueue(bytes(10, 1), 11);
    s.enqueue(bytes(10, 2), 22);
    s.enqueue(bytes(10, 3), 33);
    s.enqueue(bytes(30, 4), 44);
    expect(dropped).toEqual([
      [11, 'buffer_full'],
      [44, 'buffer_full'],
    ]);
    expect(s.bufferedBatches).toBe(2);
    expect(s.bufferedBytes).toBe(20);
  });

  it('drops rejected batches without retrying, and gives up at the deadline', async () => {
    const dropped: string[] = [];
    const s = new Shipper({
      maxBufferBytes: 100,
      minBackoffMs: 50,
      send: async (ipc) => {
        if (ipc[0] === 1) throw new PermanentSendError('bad');
        throw new Error('down');
      },
      onDropped: (_b, _s, reason) => dropped.push(reason),
    });
    s.start();
    s.enqueue(bytes(1, 1), 1);
    s.enqueue(bytes(1, 2), 1);
    await s.stop(Date.now() + 300);
    expect(dropped).toEqual(['rejected']);
    expect(s.bufferedBatches).toBe(1);
  });
});

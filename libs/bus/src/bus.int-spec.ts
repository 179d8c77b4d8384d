import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isFirnError } from '@firn/errors';
import { Bus, connectBus } from './bus';
import type { BusMessage } from './bus-consumer';
import { CasConflictError, isCasConflict } from './cas-conflict';
import { startNatsServer, type NatsServerProcess } from './nats-server-process';

const enc = new TextEncoder();
const text = (b: Uint8Array | undefined): string | undefined => (b === undefined ? undefined : new TextDecoder().decode(b));

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

// The server comes from startNatsServer, not @firn/testing: the harness depends on this lib
// and a dependency cycle is not allowed.
describe(Bus.name, () => {
  let dir: string;
  let nats: NatsServerProcess;
  let bus: Bus;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'firn-bus-spec-'));
    nats = await startNatsServer({ dataDir: join(dir, 'main') });
    bus = await connectBus({ servers: [nats.url], name: 'bus-int-spec' });
  });
  afterAll(async () => {
    await bus?.close();
    await nats?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('delivers each published message exactly once to a durable consumer', async () => {
    await bus.ensureStream({ name: 'ROUND', subjects: ['round.>'] });
    const n = 50;
    for (let i = 0; i < n; i++) {
      const ack = await bus.publish(`round.t${i % 3}`, enc.encode(`payload-${i}`), { msgId: `id-${i}` });
      expect(ack).toEqual({ stream: 'ROUND', seq: i + 1, duplicate: false });
    }
    const seen: BusMessage[] = [];
    const all = deferred();
    const handle = await bus.consume(
      'ROUND',
      'round-worker',
      async (m) => {
        seen.push(m);
        if (seen.length === n) all.resolve();
      },
      { batch: 8 },
    );
    await all.promise;
    await handle.stop();

    expect(new Set(seen.map((m) => m.msgId)).size).toBe(n);
    expect(seen.every((m) => m.deliveryCount === 1)).toBe(true);
    expect(new TextDecoder().decode(seen[7].data)).toBe('payload-7');
    expect(seen[7].subject).toBe('round.t1');
    await expect.poll(async () => (await bus.consumerState('ROUND', 'round-worker')).ackPending).toBe(0);
    expect(await bus.consumerState('ROUND', 'round-worker')).toEqual({ ackFloor: n, deliveredSeq: n, pending: 0, ackPending: 0, redelivered: 0 });
  });

  it('pulls by bytes: what waits in the prefetch buffer is bounded by size, and a message near max_payload still fits', async () => {
    await bus.ensureStream({ name: 'BYTES', subjects: ['bytes.>'] });
    const big = 200 * 1024;
    for (let i = 0; i < 60; i++) await bus.publish('bytes.a', new Uint8Array(big).fill(i));
    await bus.publish('bytes.a', new Uint8Array(bus.maxPayload() - 4096));
    const release = deferred();
    const firstSeen = deferred();
    const seen: number[] = [];
    const all = deferred();
    const handle = await bus.consume(
      'BYTES',
      'bytes-worker',
      async (m) => {
        seen.push(m.data.byteLength);
        if (seen.length === 1) {
          firstSeen.resolve();
          await release.promise;
        }
        if (seen.length === 61) all.resolve();
      },
      { maxBytes: 1 },
    );
    await firstSeen.promise;
    await new Promise((r) => setTimeout(r, 300));
    // Asked for 1 byte: raised to 4 × (max_payload + headroom) ≈ 4.25 MiB, i.e. ~22 messages of
    // 200 KiB delivered while the handler holds the first; by count (64 per pull) it would be all 61.
    const held = await bus.consumerState('BYTES', 'bytes-worker');
    expect(held.deliveredSeq).toBeGreaterThanOrEqual(2);
    expect(held.deliveredSeq).toBeLessThanOrEqual(Math.ceil((4 * (bus.maxPayload() + 64 * 1024)) / big) + 1);
    release.resolve();
    await all.promise;
    await handle.stop();
    expect(seen.slice(0, 60).every((n) => n === big)).toBe(true);
    expect(seen[60]).toBe(bus.maxPayload() - 4096);
  });

  it('reports a repeated msgId within the window as duplicate and stores it once', async () => {
    await bus.ensureStream({ name: 'DEDUP', subjects: ['dedup.>'], duplicateWindowMs: 60_000 });
    const first = await bus.publish('dedup.a', enc.encode('x'), { msgId: 'same' });
    const again = await bus.publish('dedup.a', enc.encode('x'), { msgId: 'same' });
    expect(first.duplicate).toBe(false);
    expect(again).toEqual({ stream: 'DEDUP', seq: first.seq, duplicate: true });
    expect((await bus.streamState('DEDUP')).messages).toBe(1);
  });

  it('redelivers a message left unacked after ackWait', async () => {
    await bus.ensureStream({ name: 'REDELIVER', subjects: ['redeliver.>'] });
    await bus.publish('redeliver.a', enc.encode('again'), { msgId: 'r1' });
    const deliveries: Array<{ seq: number; count: number }> = [];
    const second = deferred();
    const handle = await bus.consume(
      'REDELIVER',
      'redeliver-worker',
      async (m) => {
        deliveries.push({ seq: m.streamSeq, count: m.deliveryCount });
        if (m.deliveryCount === 1) m.abandon();
        else second.resolve();
      },
      { ackWaitMs: 1000 },
    );
    await second.promise;
    await handle.stop();
    expect(deliveries).toEqual([
      { seq: 1, count: 1 },
      { seq: 1, count: 2 },
    ]);
  });

  it('redelivers a message whose handler threw', async () => {
    await bus.ensureStream({ name: 'NAK', subjects: ['nak.>'] });
    await bus.publish('nak.a', enc.encode('boom'));
    const errors: unknown[] = [];
    const counts: number[] = [];
    const done = deferred();
    const handle = await bus.consume(
      'NAK',
      'nak-worker',
      async (m) => {
        counts.push(m.deliveryCount);
        if (m.deliveryCount === 1) throw new Error('transient');
        done.resolve();
      },
      { nakDelayMs: 10, onError: (e) => errors.push(e) },
    );
    await done.promise;
    await handle.stop();
    expect(counts).toEqual([1, 2]);
    expect(errors).toHaveLength(1);
  });

  it('stop() waits for the in-flight handler before resolving', async () => {
    await bus.ensureStream({ name: 'DRAIN', subjects: ['drain.>'] });
    await bus.publish('drain.a', enc.encode('slow'));
    const started = deferred();
    const release = deferred();
    let handlerFinished = false;
    const handle = await bus.consume('DRAIN', 'drain-worker', async () => {
      started.resolve();
      await release.promise;
      handlerFinished = true;
    });
    await started.promise;
    let stopped = false;
    const stopping = handle.stop().then(() => (stopped = true));
    await new Promise((r) => setTimeout(r, 200));
    expect(stopped).toBe(false);
    release.resolve();
    await stopping;
    expect(handlerFinished).toBe(true);
    // The handler finished, so its message was acked rather than left for redelivery.
    await expect.poll(async () => (await bus.consumerState('DRAIN', 'drain-worker')).ackPending).toBe(0);
    expect((await bus.consumerState('DRAIN', 'drain-worker')).redelivered).toBe(0);
  });

  it('ensureStream is idempotent and applies changed limits', async () => {
    await bus.ensureStream({ name: 'LIMITS', subjects: ['limits.>'], maxBytes: 1 << 20 });
    await bus.ensureStream({ name: 'LIMITS', subjects: ['limits.>'], maxBytes: 1 << 20 });
    await bus.ensureStream({ name: 'LIMITS', subjects: ['limits.>', 'limits2.>'], maxBytes: 2 << 20 });
    const info = await bus.streamInfo('LIMITS');
    expect(info.maxBytes).toBe(2 << 20);
    expect(info.subjects).toEqual(['limits.>', 'limits2.>']);
    expect(info).toMatchObject({ name: 'LIMITS', replicas: 1, storage: 'file', maxAgeMs: 0, leader: undefined });
    expect((await bus.listStreams()).find((s) => s.name === 'LIMITS')).toEqual(info);
  });

  it('reports the server max payload and rejects larger messages as invalid_argument', async () => {
    expect(bus.maxPayload()).toBe(1024 * 1024);
    await bus.ensureStream({ name: 'BIG', subjects: ['big.>'] });
    const err = await bus.publish('big.a', new Uint8Array(bus.maxPayload() + 1)).catch((e: unknown) => e);
    expect(isFirnError(err, 'invalid_argument')).toBe(true);
  });

  it('fails a publish to a subject no stream captures with unavailable', async () => {
    const err = await bus.publish('nobody.listens', enc.encode('x'), { timeoutMs: 1000 }).catch((e: unknown) => e);
    expect(isFirnError(err, 'unavailable')).toBe(true);
  });

  it('opens a KV bucket', async () => {
    const kv = await bus.ensureKv('settings', { history: 2 });
    await kv.put('k', enc.encode('v1'));
    expect(new TextDecoder().decode((await kv.get('k'))?.value)).toBe('v1');
  });

  it('fails KV writes whose compare-and-set lost with CasConflictError, and only those', async () => {
    const kv = await bus.ensureKv('cas', { history: 1 });
    const r1 = await kv.create('k', enc.encode('a'));
    const taken = await kv.create('k', enc.encode('b')).catch((e: unknown) => e);
    expect(taken).toBeInstanceOf(CasConflictError);
    expect(isFirnError(taken, 'aborted')).toBe(true);
    const r2 = await kv.update('k', enc.encode('c'), r1);
    expect(r2).toBeGreaterThan(r1);
    expect(isCasConflict(await kv.update('k', enc.encode('d'), r1).catch((e: unknown) => e))).toBe(true);
    expect(isCasConflict(await kv.delete('k', { revision: r1 }).catch((e: unknown) => e))).toBe(true);
    expect(text((await kv.get('k'))?.value)).toBe('c');
    await kv.delete('k', { revision: r2 });
    // A deleted key reads as absent and can be created again.
    expect(await kv.get('k')).toBeUndefined();
    expect(await kv.keys()).toEqual([]);
    const r3 = await kv.create('k', enc.encode('e'));
    const again = await kv.get('k');
    expect({ key: again?.key, value: text(again?.value), revision: again?.revision }).toEqual({ key: 'k', value: 'e', revision: r3 });
    // Not a conflict: a broken request is a plain FirnError.
    const bad = await kv.update('k', enc.encode('f'), 0).catch((e: unknown) => e);
    expect(isFirnError(bad, 'invalid_argument') && !isCasConflict(bad)).toBe(true);
  });

  it('lists KV keys by filter and watches current values, changes and deletions', async () => {
    const kv = await bus.ensureKv('watched');
    await kv.put('q.a', enc.encode('1'));
    await kv.put('other', enc.encode('x'));
    expect((await kv.keys('q.>')).sort()).toEqual(['q.a']);
    const seen: string[] = [];
    const watch = await kv.watch(
      (c) => seen.push(`${c.key}=${text(c.value) ?? '<deleted>'}`),
      () => undefined,
    );
    try {
      await expect.poll(() => seen.length).toBe(2);
      await kv.put('q.b', enc.encode('2'));
      await kv.delete('q.a');
      await expect.poll(() => seen.slice(2)).toEqual(['q.b=2', 'q.a=<deleted>']);
      expect(seen.slice(0, 2).sort()).toEqual(['other=x', 'q.a=1']);
    } finally {
      await watch.stop();
    }
  });

  it('publishes with a compare-and-set on the subject and reads messages back by seq and by subject', async () => {
    await bus.ensureStream({ name: 'CASPUB', subjects: ['caspub.>'] });
    expect(await bus.lastBySubject('CASPUB', 'caspub.a')).toBeUndefined();
    const a1 = await bus.publish('caspub.a', enc.encode('a1'), { expectLastSubjectSeq: 0 });
    await bus.publish('caspub.b', enc.encode('b1'));
    const lost = await bus.publish('caspub.a', enc.encode('x'), { expectLastSubjectSeq: 0 }).catch((e: unknown) => e);
    expect(isCasConflict(lost)).toBe(true);
    const a2 = await bus.publish('caspub.a', enc.encode('a2'), { expectLastSubjectSeq: a1.seq, headers: { traceparent: '00-abc-def-01' } });
    expect((await bus.lastBySubject('CASPUB', 'caspub.a'))?.seq).toBe(a2.seq);
    const m = await bus.getMessage('CASPUB', a2.seq);
    expect({ subject: m?.subject, data: text(m?.data), traceparent: m?.headers.get('traceparent') }).toEqual({
      subject: 'caspub.a',
      data: 'a2',
      traceparent: '00-abc-def-01',
    });
    expect(await bus.getMessage('CASPUB', a2.seq + 100)).toBeUndefined();
    expect((await bus.streamState('CASPUB', { subjectsFilter: 'caspub.>' })).subjects).toEqual({ 'caspub.a': 2, 'caspub.b': 1 });
    await bus.purgeStream('CASPUB', { belowSeq: a2.seq });
    expect(await bus.streamState('CASPUB')).toMatchObject({ messages: 1, firstSeq: a2.seq, lastSeq: a2.seq });
    expect(await bus.getMessage('CASPUB', a1.seq)).toBeUndefined();
  });

  it('follows a stream in seq order from a start seq, filtered by subject, then live', async () => {
    await bus.ensureStream({ name: 'FOLLOW', subjects: ['follow.>'] });
    for (let i = 1; i <= 6; i++) await bus.publish(`follow.${i % 2 === 1 ? 'odd' : 'even'}`, enc.encode(String(i)));
    const follower = await bus.follow('FOLLOW', { startSeq: 3, filterSubject: 'follow.odd', batch: 2 });
    try {
      const it = follower[Symbol.asyncIterator]();
      const next = async (): Promise<string> => {
        const r = await it.next();
        return r.done ? 'done' : `${r.value.seq}:${r.value.subject}:${text(r.value.data)}`;
      };
      expect([await next(), await next()]).toEqual(['3:follow.odd:3', '5:follow.odd:5']);
      await bus.publish('follow.even', enc.encode('8'));
      await bus.publish('follow.odd', enc.encode('9'));
      expect(await next()).toBe('8:follow.odd:9');
      await follower.close();
      expect(await next()).toBe('done');
    } finally {
      await follower.close();
    }
  });

  it('tells onReconnect listeners when the connection comes back', async () => {
    let own = await startNatsServer({ dataDir: join(dir, 'reconnect') });
    const b = await connectBus({ servers: [own.url], name: 'reconnect-spec' });
    let reconnects = 0;
    const off = b.onReconnect(() => reconnects++);
    try {
      await own.stop();
      own = await startNatsServer({ dataDir: join(dir, 'reconnect'), port: own.port });
      await expect.poll(() => reconnects, { timeout: 15_000 }).toBe(1);
      await b.check();
      off();
    } finally {
      await b.close();
      await own.stop();
    }
  });

  it('check() fails with unavailable once the server is gone', async () => {
    const own = await startNatsServer({ dataDir: join(dir, 'check') });
    const b = await connectBus({ servers: [own.url], name: 'check-spec' });
    try {
      await b.check();
      await own.stop();
      await expect
        .poll(
          async () =>
            b.check().then(
              () => 'ok',
              (e: unknown) => (isFirnError(e, 'unavailable') ? 'unavailable' : e),
            ),
          {
            timeout: 15_000,
          },
        )
        .toBe('unavailable');
      const pub = await b.publish('x', enc.encode('y')).catch((e: unknown) => e);
      expect(isFirnError(pub, 'unavailable')).toBe(true);
    } finally {
      await b.close();
      await own.stop();
    }
  });

  it('connectBus fails with unavailable when nothing listens', async () => {
    const err = await connectBus({ servers: ['nats://127.0.0.1:1'], name: 'nobody', connectTimeoutMs: 500 }).catch((e: unknown) => e);
    expect(isFirnError(err, 'unavailable')).toBe(true);
  });
});

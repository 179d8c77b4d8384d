import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { create, toBinary } from '@bufbuild/protobuf';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectBus, type Bus } from '@firn/bus';
import { isFirnError } from '@firn/errors';
import { firnIngestV1 } from '@firn/proto';
import { LocalDirStore } from '@firn/storage';
import { tenantFromTrustedSource } from '@firn/tenancy';
import { startNats, type TestNats } from '@firn/testing';
import { INGEST_STREAM, appendIngest, ingestStreamSpec, ingestSubject, readIngest } from './ingest-log';

describe('ingest log', () => {
  let nats: TestNats;
  let bus: Bus;
  let dir: string;
  let store: LocalDirStore;
  const acme = tenantFromTrustedSource('acme');

  beforeAll(async () => {
    nats = await startNats({ maxPayloadBytes: 64 * 1024 });
    bus = await connectBus({ servers: [nats.url], name: 'ingest-log-test' });
    await bus.ensureStream(ingestStreamSpec());
    dir = await mkdtemp(join(tmpdir(), 'firn-ingest-log-'));
    store = new LocalDirStore({ dir });
  }, 30_000);

  afterAll(async () => {
    await bus?.close();
    await nats?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  async function lastMessage(): Promise<{ subject: string; data: Uint8Array }> {
    const m = await bus.getMessage(INGEST_STREAM, (await bus.streamState(INGEST_STREAM)).lastSeq);
    if (!m) throw new Error('the ingest log is empty');
    return { subject: m.subject, data: m.data };
  }

  it('carries small payloads inline and reads them back', async () => {
    const payload = new Uint8Array([1, 2, 3]);
    const res = await appendIngest(bus, store, { tenant: acme, requestId: 'r1', payload });
    expect(res).toMatchObject({ claimCheck: false, duplicate: false });
    const m = await lastMessage();
    expect(m.subject).toBe(ingestSubject(acme));
    const back = await readIngest(store, m.subject, m.data);
    expect(back).toMatchObject({ tenant: 'acme', requestId: 'r1' });
    expect(back.claimKey).toBeUndefined();
    expect([...back.payload]).toEqual([1, 2, 3]);
  });

  it('stores payloads larger than a NATS message in object storage (claim check)', async () => {
    const payload = new Uint8Array(200 * 1024).fill(7);
    const res = await appendIngest(bus, store, { tenant: acme, requestId: 'r2', payload });
    expect(res.claimCheck).toBe(true);
    const m = await lastMessage();
    expect(m.data.length).toBeLessThan(1024);
    const back = await readIngest(store, m.subject, m.data);
    expect(back.claimKey).toMatch(/^tenants\/acme\/claims\//);
    expect(Buffer.from(back.payload).equals(Buffer.from(payload))).toBe(true);
  });

  it('makes an identical retried write a duplicate', async () => {
    const payload = new Uint8Array([9, 9, 9]);
    await appendIngest(bus, store, { tenant: acme, requestId: 'a', payload });
    const again = await appendIngest(bus, store, { tenant: acme, requestId: 'b', payload });
    expect(again.duplicate).toBe(true);
  });

  it('recognises a retry by its idempotency key whatever its payload, and deletes the claim object a retry wrote', async () => {
    const big = (fill: number) => new Uint8Array(200 * 1024).fill(fill);
    const first = await appendIngest(bus, store, { tenant: acme, requestId: 'c1', payload: big(1), idempotencyKey: 'key-1' });
    const retry = await appendIngest(bus, store, { tenant: acme, requestId: 'c2', payload: big(2), idempotencyKey: 'key-1' });
    expect(retry).toMatchObject({ duplicate: true, seq: first.seq, claimCheck: true });
    const other = await appendIngest(bus, store, { tenant: acme, requestId: 'c3', payload: big(1), idempotencyKey: 'key-2' });
    expect(other.duplicate).toBe(false);
    const claims = (await store.list('tenants/acme/claims/')).objects;
    // One object per stored message (this test's two, and the earlier claim-check test's), none for the retry.
    expect(claims).toHaveLength(3);
  });

  it('refuses envelopes that do not belong to their subject, claim checks outside the tenant and corrupt claims', async () => {
    const m = create(firnIngestV1.IngestMessageSchema, {
      tenantId: 'globex',
      kind: firnIngestV1.PayloadKind.ARROW,
      body: { case: 'inlinePayload', value: new Uint8Array([1]) },
    });
    await expect(readIngest(store, ingestSubject(acme), toBinary(firnIngestV1.IngestMessageSchema, m))).rejects.toSatisfy((e) =>
      isFirnError(e, 'invalid_argument'),
    );

    const outside = create(firnIngestV1.IngestMessageSchema, {
      tenantId: 'acme',
      kind: firnIngestV1.PayloadKind.ARROW,
      body: { case: 'claimCheck', value: create(firnIngestV1.ClaimCheckSchema, { objectKey: 'tenants/globex/claims/x', size: 1n, sha256: '' }) },
    });
    await expect(readIngest(store, ingestSubject(acme), toBinary(firnIngestV1.IngestMessageSchema, outside))).rejects.toThrow(/outside the tenant prefix/);

    await store.put('tenants/acme/claims/bad', new Uint8Array([1, 2]));
    const corrupt = create(firnIngestV1.IngestMessageSchema, {
      tenantId: 'acme',
      kind: firnIngestV1.PayloadKind.ARROW,
      body: { case: 'claimCheck', value: create(firnIngestV1.ClaimCheckSchema, { objectKey: 'tenants/acme/claims/bad', size: 2n, sha256: '00' }) },
    });
    await expect(readIngest(store, ingestSubject(acme), toBinary(firnIngestV1.IngestMessageSchema, corrupt))).rejects.toThrow(/corrupt claim check/);

    await expect(readIngest(store, ingestSubject(acme), new Uint8Array([0xff, 0xff]))).rejects.toThrow(/malformed ingest message/);
  });
});

import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { create, toBinary } from '@bufbuild/protobuf';
import { Code, ConnectError, createClient, type Interceptor } from '@connectrpc/connect';
import { createGrpcTransport } from '@connectrpc/connect-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { samplesToArrow, samplesToPprof } from '@firn/profiles';
import { profilestoreV1alpha1 } from '@firn/proto';
import {
  deepFolded,
  deepStackArrow,
  deepStackPprof,
  grpcFrame,
  gzipBomb,
  hugeLocationTablePprof,
  hugeStringTablePprof,
  manyDeepStacksPprof,
  manyFoldedStacks,
  manyFramesArrow,
  manyLabelsPprof,
  manySeriesPprof,
  processMemory,
  rawGrpc,
  resetPeakMemory,
  startNats,
  type HostileShape,
  type TestNats,
} from '@firn/testing';
import { startApp, type RunningApp } from './support/apps';
import { bearer, makeTokens } from './support/write-path';
import { CPU_TYPE, agentWrite, stackPool } from './support/profiles-data';
import { ADMIN_SECRET, adminClient } from './support/tenancy';

const WRITE_RAW = '/parca.profilestore.v1alpha1.ProfileStoreService/WriteRaw';
/** A label value we can find in encoded bytes and overwrite with invalid UTF-8 of the same length. */
const MARK = 'zzzzzzzz';
const INVALID_UTF8 = [0xff, 0xfe, 0xc3, 0x28, 0xa0, 0xa1, 0xe2, 0x28];

function corrupt(bytes: Uint8Array): Buffer {
  const b = Buffer.from(bytes);
  const at = b.indexOf(MARK);
  if (at < 0) throw new Error('marker not found');
  b.set(INVALID_UTF8, at);
  return b;
}

function memoryMb(pid: number): { rssMb: number; peakMb: number } {
  const m = processMemory(pid);
  return { rssMb: m.rss / 2 ** 20, peakMb: m.hwm / 2 ** 20 };
}

async function outcome(p: Promise<unknown>): Promise<{ code: Code | 'ok'; message: string }> {
  try {
    await p;
    return { code: 'ok', message: '' };
  } catch (err) {
    const e = ConnectError.from(err);
    return { code: e.code, message: e.rawMessage };
  }
}

describe('hostile input through a real process', () => {
  let dir: string;
  let app: RunningApp;
  let token: string;
  let auth: Record<string, string>;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'firn-e2e-hostile-'));
    app = await startApp('all-in-one', { args: ['--data-dir', join(dir, 'data')], env: { FIRN_ADMIN_TOKEN: ADMIN_SECRET }, readyTimeoutMs: 60_000 });
    const admin = adminClient(app.base, ADMIN_SECRET);
    await admin.createTenant('hostile');
    token = (await admin.createToken('hostile', ['write:profiles', 'read:profiles'])).token;
    auth = { authorization: `Bearer ${token}` };
  }, 120_000);

  afterAll(async () => {
    if (app) {
      const health = await fetch(`${app.base}/healthz`);
      const log = await readFile(app.proc.logFile, 'utf8');
      await app.stop();
      expect(health.status).toBe(200);
      expect(log).not.toMatch(/failed with an unexpected error/);
    }
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const withToken: Interceptor = (next) => (req) => {
    req.header.set('authorization', `Bearer ${token}`);
    return next(req);
  };

  it('refuses a 1 GiB-inflating grpc-encoding gzip message with RESOURCE_EXHAUSTED, growing memory < 100 MB', async () => {
    const bomb = await gzipBomb(1024 * 1024 * 1024);
    expect(bomb.length).toBeLessThan(4 * 1024 * 1024);
    const before = memoryMb(app.proc.pid);
    const res = await rawGrpc(app.base, WRITE_RAW, grpcFrame(1, bomb), { ...auth, 'grpc-encoding': 'gzip' });
    expect(res.status, res.message).toBe(Code.ResourceExhausted);
    expect(res.message).toMatch(/readMaxBytes/);
    // One bomb costs at most readMaxBytes (64 MiB by default) of inflated bytes before it is
    // refused; bombs in a row can each hold that much until the next GC, so only one is measured.
    const after = memoryMb(app.proc.pid);
    // The peak (high-water mark) over the whole run bounds what any one request held.
    const growthMb = after.peakMb - before.rssMb;
    process.stdout.write(`gzip bomb: rss before ${before.rssMb.toFixed(0)} MB, peak after ${after.peakMb.toFixed(0)} MB, growth ≤ ${growthMb.toFixed(0)} MB\n`);
    expect(growthMb).toBeLessThan(100);
  }, 120_000);

  it('refuses the same bomb over Connect (content-encoding gzip) with 413 resource_exhausted and no Retry-After', async () => {
    const bomb = await gzipBomb(256 * 1024 * 1024);
    const res = await fetch(`${app.base}${WRITE_RAW}`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/proto', 'content-encoding': 'gzip' },
      body: bomb,
    });
    // 413, not the 429 Connect would give: retrying the same bytes can never succeed.
    expect(res.status).toBe(413);
    expect(res.headers.get('retry-after')).toBeNull();
    expect(((await res.json()) as { code: string }).code).toBe('resource_exhausted');
  }, 60_000);

  it('refuses a truncated grpc-encoding gzip message with INVALID_ARGUMENT', async () => {
    const res = await rawGrpc(app.base, WRITE_RAW, grpcFrame(1, gzipSync(Buffer.alloc(4096, 1)).subarray(0, 20)), { ...auth, 'grpc-encoding': 'gzip' });
    expect(res.status).toBe(Code.InvalidArgument);
  });

  describe('labels', () => {
    const batch = (node: string) => agentWrite({ seed: 3, pool: stackPool(3, 5), node, round: 0, baseMs: Date.now() - 60_000 }).batch;
    /** The builder refuses huge values, so they are put in after it: encoders copy what they get. */
    const hugeNodeBatch = () => {
      const b = batch('n');
      b.series = b.series.map((s) => s.map(([k, v]): [string, string] => [k, k === 'node' ? 'n'.repeat(100_000) : v]));
      return b;
    };
    /** samplesToPprof gzips; the marker is found in the plain encoding. */
    const plainPprof = (node: string) => gunzipSync(samplesToPprof(batch(node), CPU_TYPE));
    const client = () => createClient(profilestoreV1alpha1.ProfileStoreService, createGrpcTransport({ baseUrl: app.base, interceptors: [withToken] }));

    // Decoders check raw bytes: lenient decoding would store U+FFFD, i.e. a different label.
    it('WriteRaw: invalid UTF-8 in a series label is INVALID_ARGUMENT', async () => {
      const req = create(profilestoreV1alpha1.WriteRawRequestSchema, {
        series: [
          {
            labels: {
              labels: [
                { name: '__name__', value: 'parca_agent' },
                { name: 'node', value: MARK },
              ],
            },
            samples: [],
          },
        ],
      });
      const res = await rawGrpc(app.base, WRITE_RAW, grpcFrame(0, corrupt(toBinary(profilestoreV1alpha1.WriteRawRequestSchema, req))), auth);
      expect(res.status, res.message).toBe(Code.InvalidArgument);
      expect(res.message).toMatch(/utf-8/i);
    });

    it('WriteRaw: a huge series label value is INVALID_ARGUMENT naming the label', async () => {
      const pprof = samplesToPprof(batch('n'), CPU_TYPE);
      const o = await outcome(
        client().writeRaw({
          series: [
            {
              labels: {
                labels: [
                  { name: '__name__', value: 'parca_agent' },
                  { name: 'huge', value: 'v'.repeat(100_000) },
                ],
              },
              samples: [{ rawProfile: pprof }],
            },
          ],
        }),
      );
      expect(o.code).toBe(Code.InvalidArgument);
      expect(o.message).toMatch(/"huge"/);
    });

    // The same inside the payloads: pprof string tables and Arrow dictionaries are checked on their
    // raw bytes too (@firn/profiles), and the refusal names the label.
    it('WriteRaw: invalid UTF-8 in a pprof string-table label value is INVALID_ARGUMENT naming the label', async () => {
      const pprof = gzipSync(corrupt(plainPprof(MARK)));
      const o = await outcome(
        client().writeRaw({ series: [{ labels: { labels: [{ name: '__name__', value: 'parca_agent' }] }, samples: [{ rawProfile: pprof }] }] }),
      );
      expect(o.code, o.message).toBe(Code.InvalidArgument);
      expect(o.message).toMatch(/"node"/);
    });

    it('WriteRaw: a huge pprof label value is INVALID_ARGUMENT naming the label', async () => {
      const pprof = samplesToPprof(hugeNodeBatch(), CPU_TYPE);
      const o = await outcome(
        client().writeRaw({ series: [{ labels: { labels: [{ name: '__name__', value: 'parca_agent' }] }, samples: [{ rawProfile: pprof }] }] }),
      );
      expect(o.code, o.message).toBe(Code.InvalidArgument);
      expect(o.message).toMatch(/"node"/);
    });

    it('WriteArrow: invalid UTF-8 in a dictionary label value is INVALID_ARGUMENT naming the label', async () => {
      const o = await outcome(client().writeArrow({ ipcBuffer: corrupt(samplesToArrow(batch(MARK))) }));
      expect(o.code, o.message).toBe(Code.InvalidArgument);
      expect(o.message).toMatch(/node/);
    });

    it('WriteArrow: a huge label value is INVALID_ARGUMENT naming the label', async () => {
      const o = await outcome(client().writeArrow({ ipcBuffer: samplesToArrow(hugeNodeBatch()) }));
      expect(o.code, o.message).toBe(Code.InvalidArgument);
      expect(o.message).toMatch(/node/);
    });

    it('Pyroscope /ingest: invalid UTF-8 or a huge value in a name label is 400 naming the label', async () => {
      const post = async (name: string): Promise<{ status: number; text: string }> => {
        const res = await fetch(`${app.base}/ingest?name=${name}&from=${Math.floor(Date.now() / 1000) - 10}`, {
          method: 'POST',
          headers: auth,
          body: 'a;b 1\n',
        });
        return { status: res.status, text: await res.text() };
      };
      expect(await post('app.cpu%7Benv%3Dok%7D')).toMatchObject({ status: 200 });
      // Over the 2048-character value limit, under Node's 16 KiB header limit (beyond it: 431).
      const huge = await post(`app.cpu%7Benv%3D${'v'.repeat(3000)}%7D`);
      expect(huge.status).toBe(400);
      expect(huge.text).toMatch(/env/);
      const bad = await post('app.cpu%7Benv%3D%FF%FE%7D');
      expect(bad.status, bad.text).toBe(400);
      expect((JSON.parse(bad.text) as { message: string }).message).toMatch(/"name" is not valid UTF-8/);
    });
  });
});

/** The per-request memory budget documented in docs/architecture.md ("Memory per request"). */
const REQUEST_BUDGET_MB = 64;

/**
 * Shapes that are small on the wire and huge once materialised, each sent to a gateway process
 * on its own; the gateway's peak resident memory while it answers must stay within the budget.
 */
describe('memory per request, measured from the gateway process', () => {
  let dir: string;
  let nats: TestNats;
  let gateway: RunningApp;
  let token: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'firn-e2e-shapes-'));
    nats = await startNats();
    token = (await makeTokens(join(dir, 'tokens.json'), ['shapes'])).shapes;
    gateway = await startApp('gateway', {
      env: {
        FIRN_NATS_URL: nats.url,
        FIRN_STORAGE: 'local',
        FIRN_DATA_DIR: join(dir, 'data'),
        FIRN_TOKENS_FILE: join(dir, 'tokens.json'),
        FIRN_INGEST_RATE_BYTES: '0',
      },
    });
  }, 120_000);

  afterAll(async () => {
    if (gateway) {
      const log = await readFile(gateway.proc.logFile, 'utf8');
      await gateway.stop();
      expect(log).not.toMatch(/failed with an unexpected error/);
    }
    await nats?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  type Send = (shape: HostileShape) => Promise<string>;
  const writeRaw: Send = async (shape) => {
    const client = createClient(profilestoreV1alpha1.ProfileStoreService, createGrpcTransport({ baseUrl: gateway.base, interceptors: [bearer(token)] }));
    return (
      await outcome(client.writeRaw({ series: [{ labels: { labels: [{ name: '__name__', value: 'shape' }] }, samples: [{ rawProfile: shape.body }] }] }))
    ).code.toString();
  };
  const writeArrow: Send = async (shape) => {
    const client = createClient(profilestoreV1alpha1.ProfileStoreService, createGrpcTransport({ baseUrl: gateway.base, interceptors: [bearer(token)] }));
    return (await outcome(client.writeArrow({ ipcBuffer: shape.body }))).code.toString();
  };
  const ingest =
    (format: string): Send =>
    async (shape) => {
      const res = await fetch(`${gateway.base}/ingest?name=shape.inuse_objects&format=${format}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}` },
        body: shape.body,
      });
      await res.arrayBuffer();
      return String(res.status);
    };

  const cases: Array<[() => HostileShape | Promise<HostileShape>, Send]> = [
    [() => deepStackPprof(30_000_000), writeRaw],
    [() => manyDeepStacksPprof(6000, 1000), writeRaw],
    [() => hugeStringTablePprof(8_000_000), writeRaw],
    [() => hugeLocationTablePprof(400_000), writeRaw],
    [() => manyLabelsPprof(1_000_000), writeRaw],
    [() => manySeriesPprof(200_000), ingest('pprof')],
    [() => deepFolded(4_000_000), ingest('folded')],
    [() => manyFoldedStacks(9000, 200), ingest('folded')],
    [() => deepStackArrow(2_000_000), writeArrow],
    [() => manyFramesArrow(600, 500), writeArrow],
    [async () => ({ name: 'gzip bomb: 1 GiB of zeros', body: await gzipBomb(1024 * 1024 * 1024), plainBytes: 1024 * 1024 * 1024 }), ingest('pprof')],
  ];

  it(`keeps each hostile shape under ${REQUEST_BUDGET_MB} MiB of gateway memory, accepted or refused`, async () => {
    const rows: string[] = [];
    const over: string[] = [];
    for (const [make, send] of cases) {
      const shape = await make();
      await sleep(200);
      const before = processMemory(gateway.proc.pid).rss;
      resetPeakMemory(gateway.proc.pid);
      const answer = await send(shape);
      const growthMb = (processMemory(gateway.proc.pid).hwm - before) / 2 ** 20;
      rows.push(
        `${shape.name}: ${(shape.body.length / 2 ** 20).toFixed(2)} MiB sent, ${(shape.plainBytes / 2 ** 20).toFixed(1)} MiB plain → ${answer}, peak growth ${growthMb.toFixed(1)} MiB`,
      );
      // A refusal is fine; a crash-class answer is not.
      expect(['ok', '3', '8', '200', '400', '413'], `${shape.name}: ${answer}`).toContain(answer);
      if (growthMb >= REQUEST_BUDGET_MB) over.push(rows[rows.length - 1]);
    }
    process.stdout.write(`${rows.join('\n')}\n`);
    expect(over).toEqual([]);
  }, 600_000);
});

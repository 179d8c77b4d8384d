import { stat } from 'node:fs/promises';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { createClient } from '@connectrpc/connect';
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from '@connectrpc/connect-node';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { grpcHealthV1 } from '@firn/proto';
import { getJson, startApp, type RunningApp } from './support/apps';

const { Health, HealthCheckRequestSchema, HealthCheckResponseSchema, HealthCheckResponse_ServingStatus: Status } = grpcHealthV1;

function nativeGrpcCheck(port: number): Promise<grpcHealthV1.HealthCheckResponse> {
  const client = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  return new Promise((resolve, reject) => {
    client.makeUnaryRequest(
      '/grpc.health.v1.Health/Check',
      (m: grpcHealthV1.HealthCheckRequest) => Buffer.from(toBinary(HealthCheckRequestSchema, m)),
      (b: Buffer) => fromBinary(HealthCheckResponseSchema, b),
      create(HealthCheckRequestSchema, { service: '' }),
      (err, res) => {
        client.close();
        if (err || !res) reject(err ?? new Error('no response'));
        else resolve(res);
      },
    );
  });
}

/** `npm start`'s server: every component in one process, embedded NATS, local storage. */
describe('all-in-one', () => {
  let dataDir: string;
  let app: RunningApp;
  let token: string;

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'firn-e2e-aio-'));
    app = await startApp('all-in-one', { args: ['--data-dir', dataDir] });
  }, 60_000);

  afterAll(async () => {
    await app?.stop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  it('is ready with every dependency embedded', async () => {
    const r = await getJson(`${app.base}/readyz`);
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ ready: true, checks: { nats: 'ok', 'object-storage': 'ok', 'symbol-cache': 'ok' } });
  });

  it('prints a ready-to-use token on first start and keeps it in a private file', async () => {
    const log = app.proc.logTail(64 * 1024);
    const m = /API token \(tenant "default", shown once; also in (\S+)\):\n\s+(firn_\S+)/.exec(log);
    expect(m).not.toBeNull();
    const [, file, printed] = m as RegExpExecArray;
    expect(file).toBe(join(dataDir, 'default-token'));
    expect(((await stat(file)).mode & 0o777).toString(8)).toBe('600');
    token = printed;
    const who = await getJson(`${app.base}/api/v1/whoami`, { authorization: `Bearer ${token}` });
    expect(who).toMatchObject({ status: 200, body: { tenant: 'default', scopes: ['write:profiles', 'write:debuginfo', 'read:profiles'] } });
  });

  it('rejects missing and wrong tokens with 401 and a reason', async () => {
    expect(await getJson(`${app.base}/api/v1/whoami`)).toMatchObject({
      status: 401,
      body: { code: 'unauthenticated', message: expect.stringMatching(/missing credentials/) },
    });
    const wrong = token.slice(0, -2) + (token.endsWith('AA') ? 'BB' : 'AA');
    expect(await getJson(`${app.base}/api/v1/whoami`, { authorization: `Bearer ${wrong}` })).toMatchObject({ status: 401 });
    expect((await getJson(`${app.base}/no/such/route`)).status).toBe(404);
  });

  it('serves native gRPC, gRPC-web, Connect and plain HTTP on one port', async () => {
    expect((await nativeGrpcCheck(app.port)).status).toBe(Status.SERVING);
    for (const transport of [
      createGrpcTransport({ baseUrl: app.base }),
      createGrpcWebTransport({ baseUrl: app.base, httpVersion: '1.1' }),
      createConnectTransport({ baseUrl: app.base, httpVersion: '1.1' }),
      createConnectTransport({ baseUrl: app.base, httpVersion: '2' }),
    ]) {
      const res = await createClient(Health, transport).check({ service: '' });
      expect(res.status).toBe(Status.SERVING);
    }
    await expect(createClient(Health, createConnectTransport({ baseUrl: app.base, httpVersion: '1.1' })).check({ service: 'no.Such' })).rejects.toThrow(
      /unknown service/,
    );
    expect((await fetch(`${app.base}/healthz`)).status).toBe(200);
  });

  it('keeps the token across restarts and stops its NATS server on SIGTERM', async () => {
    const log = app.proc.logTail(64 * 1024);
    const natsPid = Number(/"pid":(\d+),"msg":"started embedded nats-server"/.exec(log)?.[1]);
    expect(natsPid).toBeGreaterThan(0);
    const exit = await app.signal('SIGTERM');
    expect(exit.code).toBe(0);
    expect(() => process.kill(natsPid, 0)).toThrow();

    app = await startApp('all-in-one', { args: ['--data-dir', dataDir] });
    const again = app.proc.logTail(64 * 1024);
    expect(again).not.toMatch(/shown once/);
    expect(again).toContain(`API token: in ${join(dataDir, 'default-token')}`);
    expect((await getJson(`${app.base}/api/v1/whoami`, { authorization: `Bearer ${token}` })).status).toBe(200);
  }, 60_000);
});

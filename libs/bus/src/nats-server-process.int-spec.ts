import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { isFirnError } from '@firn/errors';
import { connectBus, type Bus } from './bus';
import { startNatsServer, type NatsServerProcess } from './nats-server-process';

describe(startNatsServer.name, () => {
  let dir: string;
  const servers: NatsServerProcess[] = [];
  const buses: Bus[] = [];

  // Not @firn/testing: it depends on this lib, and a cycle is not allowed. startNatsServer
  // itself fails loudly when nats-server is missing.
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'firn-nats-process-'));
  });
  afterEach(async () => {
    await Promise.all(buses.splice(0).map((b) => b.close()));
    await Promise.all(servers.splice(0).map((s) => s.stop()));
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('starts a JetStream server on a free loopback port and stops it', async () => {
    const server = await startNatsServer({ dataDir: join(dir, 'basic') });
    servers.push(server);
    expect(server.url).toBe(`nats://127.0.0.1:${server.port}`);
    const bus = await connectBus({ servers: [server.url], name: 'test' });
    buses.push(bus);
    await bus.check();
    await bus.close();
    await server.stop();
    await server.exited;
    expect(await canListen(server.port)).toBe(true);
    await server.stop(); // idempotent
  });

  it('applies max_payload', async () => {
    const server = await startNatsServer({ dataDir: join(dir, 'payload'), maxPayloadBytes: 4 * 1024 * 1024 });
    servers.push(server);
    const bus = await connectBus({ servers: [server.url], name: 'test' });
    buses.push(bus);
    expect(bus.maxPayload()).toBe(4 * 1024 * 1024);
  });

  it('keeps streams and messages across a restart with the same data dir', async () => {
    const dataDir = join(dir, 'restart');
    const first = await startNatsServer({ dataDir });
    servers.push(first);
    const bus1 = await connectBus({ servers: [first.url], name: 'test' });
    await bus1.ensureStream({ name: 'PERSIST', subjects: ['persist.>'] });
    for (let i = 0; i < 3; i++) await bus1.publish('persist.x', new TextEncoder().encode(`m${i}`));
    await bus1.close();
    await first.stop();

    const second = await startNatsServer({ dataDir });
    servers.push(second);
    const bus2 = await connectBus({ servers: [second.url], name: 'test' });
    buses.push(bus2);
    const state = await bus2.streamState('PERSIST');
    expect(state.messages).toBe(3);
    expect(state.lastSeq).toBe(3);
  });

  it('fails with unavailable naming the install script when the binary is missing', async () => {
    const err = await startNatsServer({ dataDir: join(dir, 'missing'), binary: 'nats-server-does-not-exist' }).catch((e: unknown) => e);
    expect(isFirnError(err, 'unavailable')).toBe(true);
    expect((err as Error).message).toContain('scripts/install-system-deps.sh');
  });

  it('fails with unavailable and the log tail when the server cannot start', async () => {
    const blocker = await startNatsServer({ dataDir: join(dir, 'blocker') });
    servers.push(blocker);
    const err = await startNatsServer({ dataDir: join(dir, 'clash'), port: blocker.port }).catch((e: unknown) => e);
    expect(isFirnError(err, 'unavailable')).toBe(true);
    expect((err as Error).message).toMatch(/address already in use/i);
  });
});

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

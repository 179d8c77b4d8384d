import { connect, createServer, type Server, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { startTcpProxy, type TcpProxy } from './tcp-proxy';

/** A loopback server that records every byte it receives. */
async function recorder(): Promise<{ server: Server; port: number; received: () => string }> {
  let data = '';
  const server = createServer((s) => {
    s.on('data', (d) => (data += d.toString()));
    s.on('error', () => undefined);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return { server, port: address.port, received: () => data };
}

async function client(port: number): Promise<Socket> {
  const s = connect({ host: '127.0.0.1', port });
  await new Promise<void>((resolve, reject) => {
    s.once('connect', () => resolve());
    s.once('error', reject);
  });
  s.on('error', () => undefined);
  return s;
}

describe('startTcpProxy', () => {
  const cleanup: Array<() => unknown> = [];
  afterEach(async () => {
    for (const c of cleanup.splice(0)) await c();
  });

  it('forwards both ways until cut; what is written after the cut never arrives', async () => {
    const target = await recorder();
    const proxy: TcpProxy = await startTcpProxy(target.port);
    cleanup.push(
      () => proxy.close(),
      () => new Promise((r) => target.server.close(r)),
    );
    const c = await client(proxy.port);
    cleanup.push(() => c.destroy());
    c.write('before;');
    await expect.poll(target.received).toBe('before;');
    // In the same tick as the cut, as a component's code does after its crash point.
    proxy.cut();
    c.write('after;');
    await sleep(200);
    expect(target.received()).toBe('before;');
    expect(proxy.isCut).toBe(true);
    // New connections are refused.
    await expect(client(proxy.port)).rejects.toThrow();
  });

  it('refuses connections until it has a target', async () => {
    const target = await recorder();
    const proxy = await startTcpProxy();
    cleanup.push(
      () => proxy.close(),
      () => new Promise((r) => target.server.close(r)),
    );
    const early = await client(proxy.port);
    await new Promise<void>((r) => early.once('close', () => r()));
    proxy.setTarget(target.port);
    const c = await client(proxy.port);
    cleanup.push(() => c.destroy());
    c.write('hello');
    await expect.poll(target.received).toBe('hello');
  });
});

import { createServer, connect, type Socket } from 'node:net';

const HOST = '127.0.0.1';

/**
 * A loopback TCP proxy that can be cut like a network cable. The in-process cluster puts one in
 * front of every component and between every component and each outside system, so killing a
 * component (which keeps running as JavaScript in the test process) means nothing it does
 * afterwards reaches anyone, and its peers see its connections drop, as after a SIGKILL.
 */
export interface TcpProxy {
  readonly port: number;
  readonly url: (scheme: string) => string;
  /** Sets where connections go; until then (or with none) they are closed at once. */
  setTarget(port: number): void;
  /**
   * Cuts every connection at once and refuses new ones. Synchronous, so what the proxied side
   * writes after this call never arrives, even bytes it writes in the same tick.
   */
  cut(): void;
  readonly isCut: boolean;
  /** Cuts, and resolves when the listener is closed. Idempotent. */
  close(): Promise<void>;
}

export async function startTcpProxy(targetPort?: number): Promise<TcpProxy> {
  let target = targetPort;
  let isCut = false;
  const sockets = new Set<Socket>();
  const track = (s: Socket): void => {
    sockets.add(s);
    s.on('error', () => s.destroy());
    s.once('close', () => sockets.delete(s));
  };
  const server = createServer((client) => {
    track(client);
    if (isCut || target === undefined) {
      client.destroy();
      return;
    }
    const upstream = connect({ host: HOST, port: target });
    track(upstream);
    // No pipe(): a chunk arriving after cut() (already read by the kernel) must be dropped.
    client.on('data', (d) => {
      if (!isCut && !upstream.write(d)) client.pause();
    });
    upstream.on('data', (d) => {
      if (!isCut && !client.write(d)) upstream.pause();
    });
    upstream.on('drain', () => client.resume());
    client.on('drain', () => upstream.resume());
    client.once('close', () => upstream.destroy());
    upstream.once('close', () => client.destroy());
    client.once('end', () => upstream.end());
    upstream.once('end', () => client.end());
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, HOST, () => resolve());
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('tcp proxy: no port');
  const closed = new Promise<void>((resolve) => server.once('close', () => resolve()));
  const cut = (): void => {
    if (isCut) return;
    isCut = true;
    server.close();
    for (const s of sockets) s.destroy();
    sockets.clear();
  };
  return {
    port: address.port,
    url: (scheme) => `${scheme}://${HOST}:${address.port}`,
    setTarget(port) {
      target = port;
    },
    cut,
    get isCut() {
      return isCut;
    },
    async close() {
      cut();
      await closed;
    },
  };
}
